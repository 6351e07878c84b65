"""Synthetic data of known parameters for the analysis tests (no store, no instruments)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nanocell_daq.analysis.raman import si_model


def sweep(v_max: float = 0.5, step: float = 0.01) -> np.ndarray:
    """0 -> +v_max -> -v_max -> 0 (V), as the I-V step sweeps."""
    up = np.arange(0.0, v_max + step / 2, step)
    down = np.arange(v_max, -v_max - step / 2, -step)
    back = np.arange(-v_max, step / 2, step)
    return np.concatenate([up, down[1:], back[1:]])


def schottky_current(
    v: np.ndarray, i_s_pos: float = 1e-10, i_s_neg: float = 3e-10, v0: float = 0.15
) -> np.ndarray:
    """Barrier-limited (Schottky-like, tunnelling through the reverse-biased contact) current (A):
    I = ±I_s·(exp(|V|/v0) − 1) with a different I_s per polarity, so G0 = I_s/v0 and the curve rectifies."""
    return np.where(v >= 0, i_s_pos, i_s_neg) * np.sign(v) * np.expm1(np.abs(v) / v0)


def raman_spectrum(
    rng: np.random.Generator,
    c_area: float,
    a_area: float,
    *,
    position: float = 519.0,
    fwhm: float = 4.5,
    axis: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(axis cm-1, counts) with Poisson noise on a c-Si + a-Si + background model."""
    x = np.linspace(100.0, 1800.0, 1024) if axis is None else axis
    clean = si_model(x, np.array([c_area, position, fwhm, a_area, 476.0, 70.0, 300.0, 0.05]))
    return x, rng.poisson(np.clip(clean, 0, None)).astype(float)


def cycling_points(
    capacity_C: float = 2.0e-9, current_A: float = 5e-12, n: int = 400, cycles: int = 2
) -> pd.DataFrame:
    """Charge/discharge at constant |current|, sloping voltage; each half-cycle passes ``capacity_C``.

    Sampled as an instrument does: the first sample one interval after the step starts, the last at its end
    (each stands for the interval that ends at it)."""
    rows = []
    t0 = 0.0
    step = 0
    duration = capacity_C / current_A
    for cycle in range(1, cycles + 1):
        for direction, sign in (("charge", 1.0), ("discharge", -1.0)):
            step += 1
            t = t0 + duration * np.arange(1, n + 1) / n
            frac = (t - t0) / duration
            v = 3.0 + 0.9 * frac if sign > 0 else 3.85 - 0.9 * frac
            rows.append(
                pd.DataFrame(
                    {
                        "step_id": step,
                        "cycle": cycle,
                        "label": f"{direction} {cycle}",
                        "t_s": t,
                        "current_A": sign * current_A,
                        "voltage_V": v,
                    }
                )
            )
            t0 = t[-1] + 10.0
    return pd.concat(rows, ignore_index=True)
