"""Instrument-like helpers for the cell-model tests: galvanostatic steps sampled like a potentiostat, fits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit

from simulated_instruments.cell import CellModel


@dataclass
class Step:
    t_end: float
    t: np.ndarray  # s
    v: np.ndarray  # V
    q: np.ndarray  # C passed since the start of the step (signed)


def gcpl(model: CellModel, t: float, current: float, cutoff: float, *, dt: float = 1.0,
         max_s: float = 7200.0) -> Step:
    """Constant current until the measured voltage crosses cutoff (V), sampled every dt (s); then open."""
    model.set_drive(t, "current", current)
    ts, vs = [], []
    t0 = t
    while t - t0 < max_s:
        t += dt
        v = model.cell_voltage(t)
        ts.append(t)
        vs.append(v)
        if (current > 0 and v >= cutoff) or (current < 0 and v <= cutoff):
            break
    model.set_drive(t, "open")
    tt = np.asarray(ts)
    return Step(t, tt, np.asarray(vs), current * (tt - t0))


def flat_span(step: Step, capacity_C: float, v_lo: float, v_hi: float, tol_V: float) -> float:
    """Longest stretch (fraction of capacity) with the voltage inside [v_lo, v_hi] varying less than tol_V."""
    v, q = step.v, np.abs(step.q)
    best = 0.0
    j = 0
    for i in range(len(v)):
        j = max(j, i)
        while j + 1 < len(v) and v_lo <= v[j + 1] <= v_hi and np.ptp(v[i:j + 2]) < tol_V:
            j += 1
        if v_lo <= v[i] <= v_hi:
            best = max(best, (q[j] - q[i]) / capacity_C)
    return best


def lorentz_fit(nu: np.ndarray, counts: np.ndarray, lo: float = 500.0, hi: float = 540.0) -> tuple:
    """(center cm-1, FWHM cm-1, height counts) of a Lorentzian on a linear baseline within [lo, hi]."""
    sel = (nu > lo) & (nu < hi)
    x, y = nu[sel], counts[sel].astype(float)

    def f(x, a, c, w, b0, b1):
        return a / (1 + ((x - c) / (w / 2)) ** 2) + b0 + b1 * (x - 520.0)

    p, _ = curve_fit(f, x, y, p0=[y.max() - y.min(), x[np.argmax(y)], 4.0, y.min(), 0.0], maxfev=5000)
    return float(p[1]), abs(float(p[2])), float(p[0])


def band_area(
    nu: np.ndarray, counts: np.ndarray, lo: float, hi: float, base_lo: float, base_hi: float
) -> float:
    """Area (counts cm-1) of a band in [lo, hi] above a straight baseline through the window edges."""
    sel = (nu >= lo) & (nu <= hi)
    b1 = np.median(counts[(nu >= base_lo - 10) & (nu <= base_lo)])
    b2 = np.median(counts[(nu >= base_hi) & (nu <= base_hi + 10)])
    x = nu[sel]
    base = b1 + (b2 - b1) * (x - base_lo) / (base_hi - base_lo)
    return float(np.trapezoid(counts[sel] - base, x))
