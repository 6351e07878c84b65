"""Zero-bias conductance G0 from a fit of the whole I-V sweep: back-to-back Schottky contacts + series R.

Model (units V, A, ohm). Contact 1 sits at the high pad (reverse-biased for V > 0), contact 2 at the low
pad (reverse-biased for V < 0). A reverse-biased contact with drop u >= 0 passes

    I = Is_r · exp(g·√u) · (1 − exp(−u / v_n))        (thermionic emission with barrier lowering, g = γ/kT)

and a forward-biased contact carrying I drops u_f = v_n · ln(1 + I / Is_f) (v_n = n·kT/q, the ideality
times the thermal voltage). With the wire's series resistance R the bias is |V| = u + u_f(I) + I·R, solved
for u (monotone in u) by a bracketed Newton iteration over all points at once. An offset current I0
(instrument offset) is a free parameter. G0 = dI/dV at 0 V = 1 / (R + v_n/((1+m)Is1) + v_n/((1+m)Is2)).

The fit bounds are phenomenological, wide enough that a truth on a physical edge (g = 0 for a sinh sweep,
m = 1) lies inside them, which keeps G0 unbiased: g in [-1, 40] V^-½, m in [0, 3], R >= 0.

Noise: the weights come from the data. Residuals of a first fit give a noise model σ² = a + (b·I)²
(instrument floor plus a part proportional to the current, as autoranging SMUs have), then the sweep is
refitted with those weights. The covariance is scaled by the reduced χ² (the noise scale is estimated from
the same data, as ``curve_fit(absolute_sigma=False)``), and G0's error is propagated through the gradient.

Model choice (stated criterion): the Schottky model is kept when it lowers χ² against the ohmic line
I = G·V + I0 (same weights) with an F-test p-value below :data:`F_TEST_P` and G0's error is finite;
otherwise the ohmic line over the whole sweep gives G0. The Schottky model is tried only on a curved sweep
(a quintic beats the line) of at least :data:`MIN_POINTS_SCHOTTKY` points (twice its 7 parameters: with
fewer its χ² has too few degrees of freedom to scale the covariance, and G0's error is meaningless); a
shorter sweep takes the line, and the result says so (``note``).

Starts: the thermionic start (contacts sharing the zero-bias resistance equally, a series R from the
slope at the ends); where it leaves χ²_red above :data:`CHI2_SWITCH`, the lowest χ² of the tunnelling starts
and of variants with unequal contacts (:data:`ASYMMETRY`: a symmetric start on nearly odd data keeps a
solver near the symmetric line, where χ² is often 5-10 times that of the best fit).

Convergence: the starts of all sweeps are solved together by the batched solver of
:mod:`~nanocell_daq.analysis.iv_solver` (see :func:`fit_g0_many`); each sweep's last fit is polished by
scipy's ``least_squares`` to its default tolerances with a budget of :data:`MAX_NFEV` evaluations. G0 is
the converged minimum, not wherever a solver stopped; a fit that runs out of budget is reported with
``converged`` False and a ``note`` (never silently).

Significance: G0 is reported as a number when G0 > :data:`SIGNIFICANCE` standard errors; otherwise as an
upper limit "G0 < max(G0, 0) + 1.645 σ" (one-sided 95 % confidence, Gaussian errors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from nanocell_daq.analysis.iv_model import _current, _current_and_jacobian, b2b_current, b2b_g0  # noqa: F401 (re-exported)
from nanocell_daq.analysis.iv_solver import solve_batch

NAN = float("nan")
F_TEST_P = 0.01
"""p-value below which the Schottky model is preferred to the ohmic line."""
SIGNIFICANCE = 3.0
"""G0 counts as measured when it exceeds this many standard errors."""
UPPER_LIMIT_CL = 0.95
"""One-sided confidence of the upper limit reported for a G0 that is not significant."""
_Z_UL = float(stats.norm.ppf(UPPER_LIMIT_CL))
MIN_POINTS_SCHOTTKY = 14
"""Fewest points for the Schottky model (2 × its 7 parameters); shorter sweeps take the ohmic line."""
CHI2_SWITCH = 1.5
"""χ²_red of the thermionic start above which the lowest χ² of all starts is taken."""
MAX_NFEV = 2000
"""Evaluation budget of one least-squares start (the slowest converged start seen used ~820)."""


@dataclass(frozen=True)
class G0Fit:
    """G0 (S) from a whole-sweep fit, its standard error, and how it was obtained.

    ``method``: "schottky" (back-to-back Schottky + R) or "linear" (ohmic line); ``significant``: G0 >
    SIGNIFICANCE·σ; ``upper_limit_S``: one-sided 95 % upper limit when not significant (else NaN);
    ``params``: fitted model parameters (Is1_A, Is2_A, v_n_V, g_per_sqrtV, R_ohm for the Schottky model;
    G_S for the line) plus ``offset_A``; ``chi2_red``: reduced χ² with the data's noise model;
    ``noise_floor_A`` / ``noise_rel``: the noise model σ² = floor² + (rel·I)²; ``f_test_p``: p-value of the
    Schottky model against the line (NaN if it was not fitted); ``converged``: False when the reported
    Schottky fit ran out of its evaluation budget before converging (G0 is then its last iterate);
    ``note``: why the line was used without trying the Schottky model, or that the fit did not converge.
    """

    conductance_S: float
    conductance_err_S: float
    method: str
    significant: bool
    upper_limit_S: float
    params: dict[str, float]
    chi2_red: float
    noise_floor_A: float
    noise_rel: float
    f_test_p: float
    n_points: int
    converged: bool = True
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    def label(self, fmt: str = "{:.3g}") -> str:
        """"1.23e-09 ± 4.5e-11 S" or "< 3.1e-13 S" (upper limit)."""
        if not np.isfinite(self.conductance_S):
            return "n/a"
        if not self.significant:
            return f"< {fmt.format(self.upper_limit_S)} S"
        return f"{fmt.format(self.conductance_S)} ± {fmt.format(self.conductance_err_S)} S"


# --- fitting ------------------------------------------------------------------------------------------------
def _linear(v: np.ndarray, i: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted line I = G·V + I0: (params [G, I0], covariance unscaled, χ²)."""
    a = np.column_stack([v, np.ones_like(v)]) * w[:, None]
    b = i * w
    p, *_ = np.linalg.lstsq(a, b, rcond=None)
    chi2 = float(np.sum((a @ p - b) ** 2))
    cov = np.linalg.pinv(a.T @ a)
    return p, cov, chi2


def _noise_model(resid: np.ndarray, model: np.ndarray, n_par: int) -> tuple[float, float]:
    """(floor A, relative) of σ² = floor² + (rel·I)² from squared residuals (corrected for the fit's dof).

    A weighted regression of r² on [1, I²] (weights 1/σ⁴, the variance of r², iterated), with the floor
    kept at least at a third of the scatter of the quarter of points nearest 0 A (a floor at 0 would give
    the points at 0 V infinite weight)."""
    n = resid.size
    r2 = resid**2 * n / max(n - n_par, 1)
    m2 = model**2
    a = np.column_stack([np.ones(n), m2])
    quiet = np.argsort(np.abs(model))[: max(n // 4, 3)]
    low = float(np.sqrt(np.mean(r2[quiet]))) / 3.0
    floor2, rel2 = float(np.mean(r2)), 0.0
    w = np.ones(n)
    for _ in range(3):
        coef, _ = optimize.nnls(a * w[:, None], r2 * w)
        floor2, rel2 = max(float(coef[0]), low**2), float(coef[1])
        w = 1.0 / (floor2 + rel2 * m2)
    return float(np.sqrt(floor2)), float(np.sqrt(rel2))


def _sigma(floor: float, rel: float, model: np.ndarray) -> np.ndarray:
    s = np.sqrt(floor**2 + (rel * model) ** 2)
    positive = s[s > 0]
    tiny = 1e-6 * float(np.median(positive)) if positive.size else 1e-300
    return np.maximum(s, max(tiny, 1e-300))


_PARAMS = ("Is1_A", "Is2_A", "v_n_V", "g_per_sqrtV", "m_tunnel", "R_ohm", "offset_A")
_N_PAR = 7


def _unpack(theta: np.ndarray, scale: float) -> tuple[float, ...]:
    """θ = [ln Is1, ln Is2, ln v_n, g, m, R, I0] in units of ``scale`` A -> physical values."""
    return (
        float(np.exp(theta[0])) * scale,
        float(np.exp(theta[1])) * scale,
        float(np.exp(theta[2])),
        float(theta[3]),
        float(theta[4]),
        float(theta[5]) / scale,
        float(theta[6]) * scale,
    )


_LOWER = np.array([np.log(1e-9), np.log(1e-9), np.log(2e-3), -1.0, 0.0, 0.0, -np.inf])
_UPPER = np.array([np.log(1e9), np.log(1e9), np.log(20.0), 40.0, 3.0, 1e9, np.inf])


def _schottky_fit(v: np.ndarray, i: np.ndarray, sigma: np.ndarray, scale: float, starts: list[np.ndarray]):
    """Best least-squares fit over ``starts``: (θ, jacobian, χ², converged) or None."""
    y = i / scale
    w = scale / sigma
    # one model evaluation per θ: the residuals of a trial step solve for u; the Jacobian, asked for at an
    # accepted step, reuses that u (the trust-region solver asks for it at most once per θ)
    cache: dict[str, Any] = {"u": None, "theta": None, "jac": None}

    def at(theta: np.ndarray) -> None:
        if cache["theta"] is None or not np.array_equal(cache["theta"], theta):
            cur, u = _current(v, theta, cache["u"])
            cache.update(theta=theta.copy(), cur=cur, u=u, jac=None)

    def resid(theta: np.ndarray) -> np.ndarray:
        at(theta)
        return (cache["cur"] - y) * w

    def jac(theta: np.ndarray) -> np.ndarray:
        at(theta)
        if cache["jac"] is None:
            cache["jac"] = _current_and_jacobian(v, theta, None, solved=cache["u"])[1]
        return cache["jac"] * w[:, None]

    best = None
    for start in starts:
        cache["u"] = None
        x0 = np.clip(start, _LOWER + 1e-9, _UPPER - 1e-9)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            try:
                sol = optimize.least_squares(resid, x0, jac=jac, bounds=(_LOWER, _UPPER), x_scale="jac",
                                             max_nfev=MAX_NFEV)
            except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                continue
        if not (np.all(np.isfinite(sol.fun)) and np.all(np.isfinite(sol.jac))):
            continue
        chi2 = float(np.sum(sol.fun**2))
        if best is None or chi2 < best[2]:
            best = (sol.x, sol.jac, chi2, bool(sol.status > 0))
    return best


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y on x (0 if x does not vary)."""
    dx = x - x.mean()
    sxx = float(np.sum(dx * dx))
    return float(np.sum(dx * (y - y.mean())) / sxx) if sxx > 0 else 0.0


def _starts(v: np.ndarray, i: np.ndarray, scale: float) -> list[np.ndarray]:
    """Starting points (units of ``scale``): a thermionic and a tunnelling contact, each sharing the
    zero-bias resistance from a line near 0 V with a series R from the slope at the ends of the sweep."""
    vmax = float(np.max(np.abs(v)))
    y = i / scale
    near = np.abs(v) <= 0.25 * vmax
    far = np.abs(v) >= 0.75 * vmax
    g_s = abs(_slope(v[near], y[near])) if near.sum() >= 3 else 0.0
    g_h = abs(_slope(np.abs(v[far]), np.abs(y[far]))) if far.sum() >= 3 else 0.0
    g_s = g_s if g_s > 0 else 1.0 / vmax
    g_h = max(g_h, g_s)
    out = []
    for v_n, g, m, r_share in ((0.05, 2.0, 0.0, 0.3), (0.1, 0.0, 1.0, 0.1), (0.15, 0.0, 0.3, 0.1)):
        r = r_share / g_h
        contact = max(1.0 / g_s - r, 0.2 / g_s) / 2.0
        i_s = v_n / (contact * (1.0 + m))
        out.append(np.array([np.log(i_s), np.log(i_s), np.log(v_n), g, m, r, 0.0]))
    return out


def _covariance(jac: np.ndarray) -> np.ndarray:
    """(JᵀJ)⁻¹ (pseudo-inverse) from the SVD of J with its columns scaled to unit norm first.

    The columns span many decades (R's can be 1e9 times the others'): a pseudo-inverse of JᵀJ itself
    drops every direction but R's as numerically singular and makes G0's error absurdly small (1e-23 S
    for a 2e-10 S wire, 81 points). Singular values of the scaled J below 1e-10 of the largest count as
    degenerate."""
    norm = np.sqrt(np.sum(jac * jac, axis=0))
    norm = np.where(norm > 0, norm, 1.0)
    pinv = np.linalg.pinv(jac / norm, rcond=1e-10)
    return (pinv @ pinv.T) / np.outer(norm, norm)


def _g0_grad(theta: np.ndarray, scale: float) -> tuple[float, np.ndarray]:
    """G0 and dG0/dθ, analytic: G0 = 1/(R + c1 + c2) with c_k = v_n/((1+m)Is_k) the contacts' zero-bias
    resistances. (A central difference lost dG0/d ln Is_k in rounding when a contact is shorted, c_k << R:
    that noise, times the data's blindness along Is_k ~ R, made G0's error a thousand times G0.)"""
    is1, is2, v_n, _g, m, r, _off = _unpack(theta, scale)
    c1, c2 = v_n / ((1.0 + m) * is1), v_n / ((1.0 + m) * is2)
    g0 = 1.0 / (r + c1 + c2)
    grad = np.zeros(theta.size)  # G0 does not depend on g or the offset
    grad[0], grad[1] = g0**2 * c1, g0**2 * c2
    grad[2] = -(g0**2) * (c1 + c2)
    grad[4] = g0**2 * (c1 + c2) / (1.0 + m)
    grad[5] = -(g0**2) / scale  # R in V per ``scale`` A
    return g0, grad


@dataclass
class _Prepared:
    """A sweep ready for the Schottky model: finite points, the weighted line, the first noise σ (None: the
    sweep takes the line: too short, not curved, or ``schottky=False``) and why (``note``)."""

    v: np.ndarray
    i: np.ndarray
    line: tuple
    noise: np.ndarray | None
    note: str


def _prepare(voltage: np.ndarray, current: np.ndarray, schottky: bool) -> _Prepared | G0Fit:
    """The steps of :func:`fit_g0` before the Schottky fit; a :class:`G0Fit` at once for < 3 points."""
    v = np.asarray(voltage, dtype=float).ravel()
    i = np.asarray(current, dtype=float).ravel()
    ok = np.isfinite(v) & np.isfinite(i)
    v, i = v[ok], i[ok]
    n = int(v.size)
    if n < 3 or np.ptp(v) == 0:
        return G0Fit(NAN, NAN, "none", False, NAN, {}, NAN, NAN, NAN, NAN, n)
    line = _weighted_line(v, i)
    note = ""
    noise = None
    if schottky and n < MIN_POINTS_SCHOTTKY:
        note = (f"{n} points: fewer than {MIN_POINTS_SCHOTTKY} (2 x {_N_PAR} parameters) for the Schottky "
                "model; ohmic line")
    elif schottky:
        noise = _curved(v, i, line)
    return _Prepared(v, i, line, noise, note)


def fit_g0(voltage: np.ndarray, current: np.ndarray, *, schottky: bool = True) -> G0Fit:
    """G0 (S) with its standard error from the whole sweep (``voltage`` V, ``current`` A); see the module
    docstring for the model, the weights, the choice between the Schottky model and the ohmic line, and the
    upper limit. Non-finite points are dropped; fewer than 3 points give NaN. ``schottky=False`` fits the
    line only. :func:`fit_g0_many` fits many sweeps at once, the same way."""
    return fit_g0_many([(voltage, current)], schottky=schottky)[0]


def _conclude(prep: _Prepared, fit: tuple | None) -> G0Fit:
    """G0Fit from the prepared sweep and its weighted Schottky fit (None: not fitted or failed): the
    Schottky G0 when it beats the line (F-test) with a finite error, else the line's."""
    v, i, line = prep.v, prep.i, prep.line
    n = int(v.size)
    f_p = NAN
    if fit is not None:
        theta, jac, chi2_s, converged, sigma, scale, floor, rel = fit
        _, _, chi2_lin = _linear(v, i, 1.0 / sigma)  # the line against the same weights
        dof = n - _N_PAR
        f_p = _f_test(chi2_lin, chi2_s, _N_PAR - 2, dof)
        if f_p < F_TEST_P:
            chi2_red = chi2_s / dof
            # every parameter free, also one on a bound (m = 0, R = 0, g = 0): holding it there makes
            # G0's error several times too small when the data could move it (sinh sweeps showed it)
            cov = _covariance(jac) * chi2_red
            g0, grad = _g0_grad(theta, scale)
            var = float(grad @ cov @ grad)
            if np.isfinite(g0) and np.isfinite(var) and var > 0:
                params = dict(zip(_PARAMS, _unpack(theta, scale), strict=True))
                why = "" if converged else (f"Schottky fit stopped at {MAX_NFEV} evaluations before "
                                            "converging: G0 from its last iterate")
                return _result(g0, float(np.sqrt(var)), "schottky", params, chi2_red, floor, rel, f_p, n,
                               converged, why)
    p_lin, err, chi2_red, floor, rel = line
    params = {"G_S": float(p_lin[0]), "offset_A": float(p_lin[1])}
    return _result(float(p_lin[0]), err, "linear", params, chi2_red, floor, rel, f_p, n, True, prep.note)


def _result(g0, err, method, params, chi2_red, floor, rel, f_p, n, converged=True, note="") -> G0Fit:
    significant = bool(np.isfinite(err) and g0 > SIGNIFICANCE * err)
    ul = NAN if significant or not np.isfinite(err) else max(g0, 0.0) + _Z_UL * err
    return G0Fit(float(g0), float(err), method, significant, float(ul), params, float(chi2_red), float(floor),
                 float(rel), float(f_p), int(n), bool(converged), note)


def _curved(v: np.ndarray, i: np.ndarray, line) -> np.ndarray | None:
    """Noise σ (A per point) from a quintic polynomial's residuals if the polynomial beats the line (F-test,
    p < F_TEST_P, weights from the line's noise model), else None: only a curved sweep is fitted with the
    Schottky model (a straight one takes the ohmic line at once)."""
    if v.size <= 8:
        return None
    p_lin, _, _, floor, rel = line
    sigma = _sigma(floor, rel, p_lin[0] * v + p_lin[1])
    vmax = float(np.max(np.abs(v)))
    basis = np.vander(v / vmax, 6)
    coef, *_ = np.linalg.lstsq(basis / sigma[:, None], i / sigma, rcond=None)
    poly = basis @ coef
    chi2_poly = float(np.sum((poly - i) ** 2 / sigma**2))
    chi2_lin = float(np.sum(((p_lin[0] * v + p_lin[1]) - i) ** 2 / sigma**2))
    if _f_test(chi2_lin, chi2_poly, 4, v.size - 6) >= F_TEST_P:
        return None
    floor, rel = _noise_model(i - poly, poly, 6)
    return _sigma(floor, rel, poly)


def _f_test(chi2_simple: float, chi2_full: float, extra: int, dof: int) -> float:
    """p-value that the full model's lower χ² is chance (nested models, ``extra`` more parameters)."""
    if chi2_full <= 0:
        return 0.0
    if chi2_simple <= chi2_full:
        return 1.0
    f_stat = ((chi2_simple - chi2_full) / extra) / (chi2_full / dof)
    return float(stats.f.sf(f_stat, extra, dof))


def _weighted_line(v: np.ndarray, i: np.ndarray):
    """The ohmic line with weights from its own residuals: (params, σ_G, χ²_red, floor, rel)."""
    n = v.size
    sigma = np.ones(n)
    floor = rel = NAN
    for _ in range(2):
        p, _, _ = _linear(v, i, 1.0 / sigma)
        model = p[0] * v + p[1]
        floor, rel = _noise_model(i - model, model, 2)
        sigma = _sigma(floor, rel, model)
    p, cov, chi2 = _linear(v, i, 1.0 / sigma)
    chi2_red = chi2 / (n - 2) if n > 2 else NAN
    err = float(np.sqrt(cov[0, 0] * chi2_red)) if n > 2 else NAN
    return p, err, chi2_red, floor, rel


def _padded(preps: Sequence[_Prepared]) -> tuple[np.ndarray, np.ndarray]:
    """(v, i) as (K, n_max) arrays; padding points have v = i = 0 (and no weight, see :func:`_weights`)."""
    n = max(p.v.size for p in preps)
    v = np.zeros((len(preps), n))
    i = np.zeros((len(preps), n))
    for k, p in enumerate(preps):
        v[k, : p.v.size], i[k, : p.i.size] = p.v, p.i
    return v, i


def _weights(sigmas: Sequence[np.ndarray], scales: np.ndarray, n: int) -> np.ndarray:
    """Weights scale/σ as a (K, n) array, 0 on the padding."""
    w = np.zeros((len(sigmas), n))
    for k, s in enumerate(sigmas):
        w[k, : s.size] = scales[k] / s
    return w


ASYMMETRY = ((1, 0.5), (1, -0.5), (2, 1.5), (2, -1.5))
"""Extra starts where the thermionic one fits badly: (which start, shift of ln Is1 against ln Is2). The
starts share the zero-bias resistance equally between the contacts, and the data (nearly odd in V) keep a
solver close to that symmetric line; unequal contacts often fit far better (χ² 5-10 times lower)."""


def _more_starts(starts: np.ndarray) -> np.ndarray:
    """(K, S, 7): the tunnelling starts of each sweep and the :data:`ASYMMETRY` variants."""
    out = [starts[:, k] for k in range(1, starts.shape[1])]
    for k, shift in ASYMMETRY:
        s = starts[:, k].copy()
        s[:, 0] += shift
        s[:, 1] -= shift
        out.append(s)
    return np.stack(out, axis=1)


def _weighted_schottky_many(preps: Sequence[_Prepared]) -> list[tuple | None]:
    """The Schottky model of every prepared sweep with weights from its own residuals: per sweep (θ, J, χ²,
    converged, σ, scale, floor, rel) or None.

    The thermionic starts of all sweeps are solved at once with the first σ (from a polynomial); for the
    sweeps where it leaves χ²_red above :data:`CHI2_SWITCH`, the other starts (:func:`_more_starts`), and the
    lowest χ² is kept. Twice the noise model of the fit's residuals gives new weights and all sweeps are
    refitted together. Each sweep's last fit is then handed to scipy's ``least_squares``
    (:func:`_schottky_fit`): it starts at the minimum and stops within a few evaluations, and its
    convergence test decides ``converged``."""
    v, i = _padded(preps)
    n = v.shape[1]
    scales = np.array([float(np.max(np.abs(p.i))) or 1.0 for p in preps])
    y = i / scales[:, None]
    starts = np.stack([np.stack(_starts(p.v, p.i, s)) for p, s in zip(preps, scales, strict=True)])  # (K,3,7)
    w = _weights([p.noise for p in preps], scales, n)
    dof = np.array([max(p.v.size - _N_PAR, 1) for p in preps])
    # the thermionic start first; where it leaves χ²_red above 1.5, the lowest χ² of every start
    theta, chi2, _ = solve_batch(v, y, w, starts[:, 0], _LOWER, _UPPER)
    more = np.flatnonzero(~(np.isfinite(chi2) & (chi2 / dof <= CHI2_SWITCH)))
    if more.size:
        extra = _more_starts(starts[more])  # (K', S, 7)
        s_n = extra.shape[1]
        rep = np.repeat(more, s_n)
        t_x, c_x, _ = solve_batch(v[rep], y[rep], w[rep], extra.reshape(-1, _N_PAR), _LOWER, _UPPER)
        t_x, c_x = t_x.reshape(more.size, s_n, _N_PAR), c_x.reshape(more.size, s_n)
        best = np.argmin(c_x, axis=1)
        c_best = c_x[np.arange(more.size), best]
        lower = ~(c_best >= chi2[more])  # NaN/inf of the first start loses
        theta[more[lower]] = t_x[np.arange(more.size), best][lower]
        chi2[more[lower]] = c_best[lower]
    found = np.isfinite(chi2)
    for _ in range(2):  # reweight with the noise model of the fit's residuals, refit
        sigmas: list[np.ndarray] = []
        noise_models: list[tuple[float, float]] = []
        for k, p in enumerate(preps):
            if not found[k]:
                sigmas.append(p.noise)
                noise_models.append((np.nan, np.nan))
                continue
            model = _b2b_theta(p.v, theta[k], scales[k])
            floor, rel = _noise_model(p.i - model, model, _N_PAR)
            sigmas.append(_sigma(floor, rel, model))
            noise_models.append((floor, rel))
        w = _weights(sigmas, scales, n)
        refit, chi2_r, _ = solve_batch(v, y, w, theta, _LOWER, _UPPER)
        better = np.isfinite(chi2_r) & found
        theta = np.where(better[:, None], refit, theta)
    out: list[tuple | None] = []
    for k, p in enumerate(preps):
        if not found[k]:  # no start gave a finite model
            out.append(None)
            continue
        fit = _schottky_fit(p.v, p.i, sigmas[k], scales[k], [theta[k]])
        if fit is None:
            out.append(None)
            continue
        t, jac, chi2_k, conv = fit
        out.append((t, jac, chi2_k, conv, sigmas[k], scales[k], *noise_models[k]))
    return out


def fit_g0_many(sweeps: Sequence[tuple[np.ndarray, np.ndarray]], *, schottky: bool = True) -> list[G0Fit]:
    """:func:`fit_g0` of every (voltage V, current A) sweep, in order: the Schottky fits of all curved
    sweeps are solved together (:func:`~nanocell_daq.analysis.iv_solver.solve_batch`), so a run's sweeps
    take a small fraction of the time of one call per sweep."""
    preps = [_prepare(v, i, schottky) for v, i in sweeps]
    todo = [k for k, p in enumerate(preps) if isinstance(p, _Prepared) and p.noise is not None]
    fits = _weighted_schottky_many([preps[k] for k in todo]) if todo else []
    by_index = dict(zip(todo, fits, strict=True))
    out = []
    for k, p in enumerate(preps):
        out.append(p if isinstance(p, G0Fit) else _conclude(p, by_index.get(k)))
    return out


def _b2b_theta(v: np.ndarray, theta: np.ndarray, scale: float) -> np.ndarray:
    is1, is2, v_n, g, m, r, off = _unpack(theta, scale)
    return b2b_current(v, is1, is2, v_n, g, r, m) + off
