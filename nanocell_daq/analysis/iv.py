"""Source/drain I-V metrics: zero-bias/chord conductance, nonlinearity, rectification, hysteresis, exponent.

G0 comes from a fit of the whole sweep (back-to-back Schottky contacts + series R, or the ohmic line; see
:mod:`nanocell_daq.analysis.iv_fit`), with its standard error and, where it is not significant, a one-sided
95 % upper limit. Units: V, A, S. Every metric is NaN-safe (non-finite points are dropped) and returns NaN
rather than a misleading number when the data cannot support it (e.g. a nonlinearity index over a zero-bias
conductance that is indistinguishable from noise).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from nanocell_daq.analysis.iv_fit import UPPER_LIMIT_CL, G0Fit, fit_g0, fit_g0_many

NAN = float("nan")


@dataclass(frozen=True)
class IVMetrics:
    """Numbers that characterize one I-V sweep (SI units).

    - ``conductance_S``: G0 = dI/dV at 0 V from a fit of the whole sweep (:func:`~nanocell_daq.analysis.
      iv_fit.fit_g0`), standard error ``conductance_err_S``; ``g0_method``: "schottky" or "linear";
      ``g0_significant``: G0 > 3 standard errors; ``g0_upper_limit_S``: otherwise the one-sided 95 % upper
      limit (report "G0 < x S"), NaN when significant; ``g0_chi2_red``: reduced χ² of the fit;
      ``offset_A``: offset current of a line within ±``g0_window_V`` of 0 V (``g0_points`` points);
    - ``chord_conductance_S``: mean I/V at the largest |V|;
    - ``high_bias_conductance_S``: dI/dV fitted at the largest |V| (both polarities averaged);
    - ``nonlinearity``: high-bias dI/dV / G0 (1 = ohmic, >1 barrier/tunnelling dominated; NaN if G0 is not
      significant);
    - ``rectification``: |I(+Vmax)/I(-Vmax)| (NaN if either end current is lost in the noise);
    - ``hysteresis_rel``: mean |I_up - I_down| / mean |I| over the common bias range, ``hysteresis_area_W``:
      ∫|I_up - I_down| dV (A·V);
    - ``exponent``: n of |I| ∝ |V|^n at high bias;
    - ``g0_converged``: False when the G0 fit stopped before converging (``g0_note`` says so; also why the
      line was used without trying the Schottky model).
    """

    conductance_S: float
    conductance_err_S: float
    g0_method: str
    g0_significant: bool
    g0_upper_limit_S: float
    g0_chi2_red: float
    g0_window_V: float
    g0_points: int
    offset_A: float
    chord_conductance_S: float
    high_bias_conductance_S: float
    nonlinearity: float
    rectification: float
    hysteresis_rel: float
    hysteresis_area_W: float
    exponent: float
    v_max_V: float
    i_max_A: float
    n_points: int
    g0_converged: bool = True
    g0_note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _clean(voltage: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(voltage, dtype=float).ravel()
    i = np.asarray(current, dtype=float).ravel()
    ok = np.isfinite(v) & np.isfinite(i)
    return v[ok], i[ok]


def _linear_fit(v: np.ndarray, i: np.ndarray) -> tuple[float, float, float]:
    """Slope (S), its standard error (S) and intercept (A) of a least-squares line."""
    if v.size < 2 or np.ptp(v) == 0:
        return NAN, NAN, NAN
    vm = v.mean()
    dv = v - vm
    sxx = float(np.sum(dv * dv))
    slope = float(np.sum(dv * (i - i.mean())) / sxx)
    intercept = float(i.mean() - slope * vm)
    if v.size > 2:
        resid = i - (intercept + slope * v)
        err = float(np.sqrt(np.sum(resid * resid) / (v.size - 2) / sxx))
    else:
        err = NAN
    return slope, err, intercept


def zero_bias_conductance(
    voltage: np.ndarray, current: np.ndarray, window_V: float = 0.05, min_points: int = 5
) -> tuple[float, float, float, float, int]:
    """G0 (S), its standard error (S), the offset current (A), the window used (V) and the points in it.

    Fits I = G0·V + I0 for |V| <= ``window_V``; if fewer than ``min_points`` points fall inside (a coarse
    sweep), the window is doubled until they do or it reaches half the sweep's largest |V|.
    """
    v, i = _clean(voltage, current)
    if v.size < 2:
        return NAN, NAN, NAN, window_V, int(v.size)
    vmax = float(np.max(np.abs(v)))
    window = float(window_V)
    inside = np.abs(v) <= window
    while inside.sum() < min_points and window < 0.5 * vmax:
        window = min(2 * window, 0.5 * vmax)
        inside = np.abs(v) <= window
    if inside.sum() < 2 or np.ptp(v[inside]) == 0:
        return NAN, NAN, NAN, window, int(inside.sum())
    g, err, i0 = _linear_fit(v[inside], i[inside])
    return g, err, i0, window, int(inside.sum())


def _extreme(v: np.ndarray, i: np.ndarray, sign: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Points of one polarity with |V| >= (1 - fraction) of that polarity's largest |V|."""
    sel = (v * sign) > 0
    if not sel.any():
        return v[:0], i[:0]
    vmax = float(np.max(np.abs(v[sel])))
    sel &= np.abs(v) >= (1.0 - fraction) * vmax
    return v[sel], i[sel]


def sweep_branches(voltage: np.ndarray) -> np.ndarray:
    """+1 where the bias is increasing, -1 where it is decreasing (by the sign of the local step)."""
    v = np.asarray(voltage, dtype=float)
    if v.size < 2:
        return np.ones(v.shape, dtype=int)
    d = np.diff(v)
    step = np.concatenate([[d[0]], d])
    # A turning point belongs to the branch it ends; hold the previous sign over flat steps.
    sign = np.sign(step)
    for k in range(1, sign.size):
        if sign[k] == 0:
            sign[k] = sign[k - 1]
    sign[sign == 0] = 1
    return sign.astype(int)


def hysteresis(
    voltage: np.ndarray, current: np.ndarray, direction: np.ndarray | None = None, n_grid: int = 101
) -> tuple[float, float]:
    """(relative mean |I_up - I_down| / mean |I|, area ∫|I_up - I_down| dV in A·V) between sweep directions.

    ``direction`` ("up"/"down" per point, as recorded) overrides the branches read from the bias steps.
    NaN if the sweep has only one direction.
    """
    v = np.asarray(voltage, dtype=float)
    i = np.asarray(current, dtype=float)
    if direction is not None and len(direction) == v.size:
        d = np.asarray(direction).astype(str)
        branch = np.where(d == "down", -1, np.where(d == "up", 1, 0))
    else:
        branch = sweep_branches(v)
    ok = np.isfinite(v) & np.isfinite(i)
    curves = []
    for b in (1, -1):
        sel = ok & (branch == b)
        if sel.sum() < 3:
            return NAN, NAN
        vb, ib = v[sel], i[sel]
        # Repeated biases (several sweeps, or a flat step) are averaged so interpolation sees one value each.
        ub, inverse = np.unique(vb, return_inverse=True)
        ib = np.bincount(inverse, weights=ib) / np.bincount(inverse)
        vb = ub
        curves.append((vb, ib))
    lo = max(curves[0][0].min(), curves[1][0].min())
    hi = min(curves[0][0].max(), curves[1][0].max())
    if not hi > lo:
        return NAN, NAN
    grid = np.linspace(lo, hi, n_grid)
    up = np.interp(grid, *curves[0])
    down = np.interp(grid, *curves[1])
    diff = np.abs(up - down)
    scale = float(np.mean(0.5 * (np.abs(up) + np.abs(down))))
    area = float(np.sum(0.5 * (diff[1:] + diff[:-1]) * np.diff(grid)))
    rel = float(np.mean(diff) / scale) if scale > 0 else NAN
    return rel, area


def power_law_exponent(voltage: np.ndarray, current: np.ndarray, low_fraction: float = 0.2) -> float:
    """n of |I| ∝ |V|^n from a log-log fit over |V| in [low_fraction·Vmax, Vmax]; NaN if not enough points."""
    v, i = _clean(voltage, current)
    if v.size < 3:
        return NAN
    vmax = float(np.max(np.abs(v)))
    sel = (np.abs(v) >= low_fraction * vmax) & (np.abs(i) > 0) & (np.abs(v) > 0)
    if sel.sum() < 3:
        return NAN
    x, y = np.log(np.abs(v[sel])), np.log(np.abs(i[sel]))
    if np.ptp(x) == 0:
        return NAN
    slope, _, _ = _linear_fit(x, y)
    return slope


def iv_metrics(
    voltage: np.ndarray,
    current: np.ndarray,
    *,
    g0_window_V: float = 0.05,
    high_bias_fraction: float = 0.2,
    significance: float = 3.0,
    direction: np.ndarray | None = None,
    fit: G0Fit | None = None,
) -> IVMetrics:
    """All metrics of one I-V sweep (``voltage`` V, ``current`` A); see :class:`IVMetrics`.

    ``high_bias_fraction``: the top fraction of each polarity's |V| range used for the high-bias slope, chord
    conductance and rectification. ``significance``: end currents must exceed this many noise rms for the
    rectification to be reported. G0 must be significant (see :mod:`~nanocell_daq.analysis.iv_fit`) for the
    nonlinearity index to be reported (noise-level currents of a pS wire give NaN, not a huge number).
    ``g0_window_V``: half-width (V) of the zero-bias line that gives the offset current.
    ``direction``: optional "up"/"down" per point for the hysteresis (else read from the bias steps).
    ``fit``: this sweep's :func:`~nanocell_daq.analysis.iv_fit.fit_g0`, if already computed (``iv_table``
    fits all sweeps together with :func:`~nanocell_daq.analysis.iv_fit.fit_g0_many`).
    """
    raw_v = np.asarray(voltage, dtype=float).ravel()
    raw_i = np.asarray(current, dtype=float).ravel()
    v, i = _clean(raw_v, raw_i)
    n = int(v.size)
    g_win, _, offset, window, n_in = zero_bias_conductance(v, i, g0_window_V)
    if fit is None:
        fit = fit_g0(v, i)
    g0, g0_err = fit.conductance_S, fit.conductance_err_S
    head = (g0, g0_err, fit.method, fit.significant, fit.upper_limit_S, fit.chi2_red, window, n_in, offset)
    if n < 2:
        return IVMetrics(*head, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, n, fit.converged, fit.note)
    vmax = float(np.max(np.abs(v)))
    imax = float(np.max(np.abs(i)))

    chords, slopes, slope_vars, ends = [], [], [], {}
    for sign in (1, -1):
        ve, ie = _extreme(v, i, sign, high_bias_fraction)
        if ve.size == 0:
            continue
        chords.append(float(np.mean(ie / ve)))
        ends[sign] = float(np.mean(ie))
        if ve.size >= 2 and np.ptp(ve) > 0:
            slope, slope_err, _ = _linear_fit(ve, ie)
            slopes.append(slope)
            slope_vars.append(slope_err**2)
    chord = float(np.mean(chords)) if chords else NAN
    high = float(np.mean(slopes)) if slopes else NAN
    high_err = float(np.sqrt(np.sum(slope_vars))) / len(slopes) if slopes else NAN
    # the high-bias slope of a noise-level wire is noise too: no index from it (NaN error: 2 points, kept)
    high_ok = np.isfinite(high) and not (np.isfinite(high_err) and abs(high) <= significance * high_err)
    nl = high / g0 if fit.significant and high_ok else NAN
    # Noise: scatter of the points about the zero-bias line. A ratio of end currents lost in it means nothing.
    near = np.abs(v) <= window
    fine = near.sum() > 2 and np.isfinite(g_win)
    noise = float(np.std(i[near] - (offset + g_win * v[near]))) if fine else 0.0
    both = 1 in ends and -1 in ends
    big = both and min(abs(ends[1]), abs(ends[-1])) > significance * noise
    rect = abs(ends[1] / ends[-1]) if both and big and ends[-1] != 0 else NAN
    ok = np.isfinite(raw_v) & np.isfinite(raw_i)
    dirs = None if direction is None else np.asarray(direction)[ok]
    hyst_rel, hyst_area = hysteresis(raw_v[ok], raw_i[ok], dirs)
    return IVMetrics(
        conductance_S=g0,
        conductance_err_S=g0_err,
        g0_method=fit.method,
        g0_significant=fit.significant,
        g0_upper_limit_S=fit.upper_limit_S,
        g0_chi2_red=fit.chi2_red,
        g0_window_V=window,
        g0_points=n_in,
        offset_A=offset,
        chord_conductance_S=chord,
        high_bias_conductance_S=high,
        nonlinearity=nl,
        rectification=rect,
        hysteresis_rel=hyst_rel,
        hysteresis_area_W=hyst_area,
        exponent=power_law_exponent(v, i),
        v_max_V=vmax,
        i_max_A=imax,
        n_points=n,
        g0_converged=fit.converged,
        g0_note=fit.note,
    )


def g0_text(conductance_S: float, err_S: float, significant: bool, upper_limit_S: float) -> str:
    """How a G0 is shown: "1.23e-09 ± 4.5e-11 S", "< 3.1e-13 S (95 % CL)" when not significant, "n/a"."""
    if conductance_S is None or not np.isfinite(conductance_S):
        return "n/a"
    if not significant and upper_limit_S is not None and np.isfinite(upper_limit_S):
        return f"< {upper_limit_S:.3g} S ({100 * UPPER_LIMIT_CL:.0f} % CL)"
    if err_S is not None and np.isfinite(err_S):
        return f"{conductance_S:.3g} ± {err_S:.2g} S"
    return f"{conductance_S:.3g} S"


def iv_table(points: pd.DataFrame, group_by: Iterable[str] = ("step_id", "pair"), **kwargs) -> pd.DataFrame:
    """Metrics of every sweep in an I-V points table (``voltage_V``, ``current_A``, in acquisition order).

    One row per group of ``group_by`` columns that exist (per step and contact pair); ``kwargs`` go to
    :func:`iv_metrics`. The G0 fits of all sweeps are solved together (``fit_g0_many``).
    """
    keys = [k for k in group_by if k in points.columns]
    columns = keys + list(IVMetrics.__dataclass_fields__)
    if points.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    groups = list(points.groupby(keys, sort=False, dropna=False)) if keys else [((), points)]
    sweeps = [_clean(seg["voltage_V"].to_numpy(float), seg["current_A"].to_numpy(float)) for _, seg in groups]
    fits = fit_g0_many(sweeps)
    for (key, seg), fit in zip(groups, fits, strict=True):
        values = key if isinstance(key, tuple) else (key,)
        dirs = seg["direction"].to_numpy() if "direction" in seg.columns else None
        m = iv_metrics(seg["voltage_V"].to_numpy(), seg["current_A"].to_numpy(), direction=dirs, fit=fit,
                       **kwargs)
        rows.append({**dict(zip(keys, values, strict=True)), **m.as_dict()})
    return pd.DataFrame(rows, columns=columns)
