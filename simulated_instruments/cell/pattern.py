"""Seeded, spatially correlated per-position lithiation-rate factors along the wire (log-normal, mean 1)."""

from __future__ import annotations

import numpy as np


def rate_factors(
    rng: np.random.Generator, nodes: int, length_um: float, sigma: float, corr_um: float
) -> np.ndarray:
    """Log-normal factors with a Gaussian correlation length corr_um (um), normalised to mean 1.

    Some places along a real wire lithiate faster (cracks, thinner passivation, better electrolyte
    contact); this is what makes the crystalline fraction fall patchily in a Raman line map.
    """
    white = rng.standard_normal(nodes)
    dx = length_um / nodes
    half = max(1, int(3 * corr_um / dx))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * dx / corr_um) ** 2)
    smooth = np.convolve(np.pad(white, half, mode="reflect"), kernel, mode="valid")
    smooth /= smooth.std() or 1.0
    k = np.exp(sigma * smooth)
    return k / k.mean()
