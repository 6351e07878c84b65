"""Raman forward model: laser spot over the wire and the counter film, bands, baseline and CCD noise."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

from .card import Band, Card

_SQRT2PI = math.sqrt(2.0 * math.pi)
_FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))


def lorentz(nu: np.ndarray, center: float, fwhm: float) -> np.ndarray:
    """Unit-height Lorentzian on the axis nu (cm-1)."""
    return 1.0 / (1.0 + ((nu - center) / (0.5 * fwhm)) ** 2)


def gauss(nu: np.ndarray, center: float, fwhm: float) -> np.ndarray:
    """Unit-height Gaussian on the axis nu (cm-1)."""
    return np.exp(-0.5 * ((nu - center) / (fwhm * _FWHM_TO_SIGMA)) ** 2)


def band_profile(nu: np.ndarray, bands: list[Band], shift: float = 0.0, broaden: float = 1.0) -> np.ndarray:
    """Sum of bands (heights in counts/(s mW)) with an optional relative shift and width factor."""
    out = np.zeros_like(nu)
    for b in bands:
        shape = lorentz if b.shape == "lorentz" else gauss
        out += b.height * shape(nu, b.center_cm1 * (1.0 + shift), b.fwhm_cm1 * broaden)
    return out


class SpotOptics:
    """Where the laser spot falls: weights of the wire nodes and the covered fraction of the film."""

    def __init__(self, card: Card, node_xy: np.ndarray, node_dl_um: float) -> None:
        self._sigma0 = card.raman.spot_um * _FWHM_TO_SIGMA
        self._zr = card.raman.focus_depth_um
        self._z = card.position_um.z
        self._nx = node_xy[:, 0].copy()
        self._ny = node_xy[:, 1].copy()
        self._dl = node_dl_um
        self._film = card.counter.region_um

    def _sigma(self, z_um: float) -> tuple[float, float]:
        defocus = 1.0 + ((z_um - self._z) / self._zr) ** 2
        return self._sigma0 * math.sqrt(defocus), defocus

    def wire_weights(self, x_um: float, y_um: float, z_um: float) -> np.ndarray:
        """Per-node weights; their sum is 1 with the spot focused on the middle of a long wire."""
        sigma, _ = self._sigma(z_um)
        d2 = (self._nx - x_um) ** 2 + (self._ny - y_um) ** 2
        w = np.exp(-0.5 * d2 / (sigma * sigma))
        # line integral of a 2-D Gaussian spot; defocus spreads the power (sigma0/sigma)
        return w * (self._dl / (_SQRT2PI * sigma) * (self._sigma0 / sigma))

    def film_fraction(self, x_um: float, y_um: float, z_um: float) -> float:
        """Fraction (0..1) of the spot power on the counter film rectangle."""
        sigma, defocus = self._sigma(z_um)
        s = math.sqrt(2.0) * sigma
        fx = 0.5 * (erf((self._film.x[1] - x_um) / s) - erf((self._film.x[0] - x_um) / s))
        fy = 0.5 * (erf((self._film.y[1] - y_um) / s) - erf((self._film.y[0] - y_um) / s))
        return float(fx * fy) / math.sqrt(defocus)


class Detector:
    """CCD: Poisson shot noise, read noise per accumulation, dark counts and rare cosmic-ray spikes."""

    def __init__(self, card: Card, points: int) -> None:
        self._r = card.raman
        self._n = points

    def expose(self, rate: np.ndarray, laser_mW: float, exposure_s: float, accumulations: int,
               rng: np.random.Generator) -> np.ndarray:
        """Counts (float32) for a signal rate in counts/(s mW)."""
        total_s = exposure_s * accumulations
        mean = np.maximum(rate, 0.0) * (laser_mW * total_s) + self._r.dark_counts_per_s * total_s
        counts = rng.poisson(mean).astype(np.float64)
        counts += rng.normal(0.0, self._r.read_noise_counts * math.sqrt(accumulations), self._n)
        n_spikes = rng.poisson(self._r.cosmic_rate_per_s * total_s)
        for _ in range(int(n_spikes)):
            where = int(rng.integers(0, self._n))
            height = float(rng.uniform(300.0, 5000.0))
            counts[where] += height
            if where + 1 < self._n and rng.random() < 0.5:
                counts[where + 1] += 0.4 * height
        return counts.astype(np.float32)
