"""The I-V model of :mod:`~nanocell_daq.analysis.iv_fit`: back-to-back Schottky contacts and a series R.

Contact 1 sits at the high pad (reverse-biased for V > 0), contact 2 at the low pad. A reverse-biased contact
with drop u >= 0 passes I = Is_r·exp(g·√u)·[(1 − e^{−u/v_n}) + m(e^{u/v_n} − 1)]; the forward-biased one
carrying I drops u_f(I); the bias is |V| = u + u_f(I) + I·R, solved for u by a bracketed Newton iteration
over all points at once. Every function takes one sweep (θ of shape (7,), bias (n,)) or a batch of them
(θ of shape (7, B, 1), bias (B, n)): the arithmetic broadcasts, so the batched solver
(:mod:`~nanocell_daq.analysis.iv_solver`) evaluates exactly this code.
"""

from __future__ import annotations

import numpy as np

_NEWTON_ITER = 40
_EXP_MAX = 600.0


def _shape(x: np.ndarray, m: np.ndarray | float, v_n: np.ndarray | float):
    """h = (1 − e^{−x}) + m(e^{x} − 1), dh/du = (e^{−x} + m e^{x}) / v_n and e^{x} − 1, from one expm1
    (1 − e^{−x} = (e^{x} − 1)/e^{x}; x >= 0)."""
    em1 = np.expm1(x)
    ex = 1.0 + em1
    inv = 1.0 / ex
    return em1 * inv + m * em1, (inv + m * ex) / v_n, em1


def _reverse(u: np.ndarray, i_s: np.ndarray, v_n: float, g: float, m: float):
    """Reverse-contact current at drop u >= 0 (units of i_s), dI/du, dI/d ln v_n, dI/dm (fixed u)."""
    su = np.sqrt(u)
    x = np.minimum(u / v_n, _EXP_MAX)
    e = np.exp(np.minimum(g * su, _EXP_MAX))
    h, hp, em1 = _shape(x, m, v_n)
    cur = i_s * e * h
    # g/(2√u)·h → 0 at u = 0
    ratio = np.where(su > 0, h / np.where(su > 0, su, 1.0), 0.0)
    d = i_s * e * (0.5 * g * ratio + hp)
    d_lnv = -i_s * e * u * hp
    d_m = i_s * e * em1
    return cur, d, d_lnv, d_m, su


def _forward(cur: np.ndarray, i_f: np.ndarray, v_n: float, m: float):
    """Drop over the forward-biased contact carrying ``cur``: u_f, du_f/dI, du_f/d ln Is_f, du_f/dm."""
    y = cur / i_f
    b = 1.0 - m + y
    root = np.sqrt(b * b + 4.0 * m)
    z = 0.5 * (b + root)
    zm1 = 0.5 * (y - 1.0 - m + root)  # z - 1 (>= 0 for cur >= 0)
    u_f = v_n * np.log1p(zm1)
    du_di = v_n / (i_f * root)
    du_dlnis = -v_n * y / root
    du_dm = v_n * (-zm1) / (z * root)
    return u_f, du_di, du_dlnis, du_dm


def _reverse_lean(u: np.ndarray, i_s: np.ndarray, v_n: float, g: float, m: float):
    """(current, dI/du) of :func:`_reverse` alone, by the same expressions (the Newton loop needs no more)."""
    su = np.sqrt(u)
    x = np.minimum(u / v_n, _EXP_MAX)
    ie = i_s * np.exp(np.minimum(g * su, _EXP_MAX))
    h, hp, _ = _shape(x, m, v_n)
    positive = su > 0
    ratio = np.where(positive, h / np.where(positive, su, 1.0), 0.0)
    return ie * h, ie * (0.5 * g * ratio + hp)


def _forward_lean(cur: np.ndarray, i_f: np.ndarray, v_n: float, m: float):
    """(u_f, du_f/dI) of :func:`_forward` alone, by the same expressions."""
    y = cur / i_f
    b = 1.0 - m + y
    root = np.sqrt(b * b + 4.0 * m)
    return v_n * np.log1p(0.5 * (y - 1.0 - m + root)), v_n / (i_f * root)


def _solve(v: np.ndarray, is1: float, is2: float, v_n: float, g: float, m: float, r: float,
           u0: np.ndarray | None = None):
    """Drop u over the reverse-biased contact at every bias (bracketed Newton, all points at once)."""
    x = np.abs(v)
    pos = v > 0
    i_r = np.where(pos, is1, is2)
    i_f = np.where(pos, is2, is1)
    if u0 is None or u0.shape != x.shape:
        u = x * (1.0 / i_r) / (1.0 / i_r + 1.0 / i_f + r * (1.0 + m) / v_n)  # small-signal split
    else:
        u = np.clip(u0, 0.0, x)
    lo = np.zeros_like(x)
    hi = x.copy()
    tol = 1e-12 * (np.max(x, axis=-1, keepdims=True) if x.size else 0.0)  # per sweep of a batch
    if x.ndim == 2:  # a batch: each sweep iterates until its own points have converged
        return _newton_rows(x, u, lo, hi, tol, i_r, i_f, v_n, g, m, r), i_r, i_f
    for _ in range(_NEWTON_ITER):
        u, lo, hi, step = _newton_step(x, u, lo, hi, i_r, i_f, v_n, g, m, r)
        if np.all(step <= tol):
            break
    return u, i_r, i_f


def _newton_step(x, u, lo, hi, i_r, i_f, v_n, g, m, r):
    """One bracketed Newton step of |V| = u + u_f(I(u)) + I(u)·R: (u, lo, hi, |step|)."""
    cur, d = _reverse_lean(u, i_r, v_n, g, m)
    u_f, du_di = _forward_lean(cur, i_f, v_n, m)
    f = u + u_f + cur * r - x
    fp = 1.0 + (du_di + r) * d
    hi = np.where(f > 0, u, hi)
    lo = np.where(f <= 0, u, lo)
    nxt = u - f / fp
    bad = ~((nxt >= lo) & (nxt <= hi))
    nxt = np.where(bad, 0.5 * (lo + hi), nxt)
    return nxt, lo, hi, np.abs(nxt - u)


def _newton_rows(x, u, lo, hi, tol, i_r, i_f, v_n, g, m, r):
    """:func:`_solve`'s iteration on a batch (rows = sweeps), dropping each row once it has converged."""
    b = x.shape[0]
    params = [np.broadcast_to(np.asarray(p, dtype=float), (b, 1)) for p in (v_n, g, m, r)]
    tol = np.broadcast_to(tol, (b, 1))
    rows = np.arange(b)
    for _ in range(_NEWTON_ITER):
        if rows.size == b:
            pv, pg, pm, pr = params
            uu, ll, hh, step = _newton_step(x, u, lo, hi, i_r, i_f, pv, pg, pm, pr)
            u, lo, hi = uu, ll, hh
        else:
            pv, pg, pm, pr = (p[rows] for p in params)
            uu, ll, hh, step = _newton_step(x[rows], u[rows], lo[rows], hi[rows], i_r[rows], i_f[rows],
                                            pv, pg, pm, pr)
            u[rows], lo[rows], hi[rows] = uu, ll, hh
        rows = rows[~np.all(step <= tol[rows], axis=1)]
        if rows.size == 0:
            break
    return u


def b2b_current(volts: np.ndarray, is1: float, is2: float, v_n: float, g: float, r: float,
                m: float = 0.0) -> np.ndarray:
    """Current (A) of back-to-back contacts with series resistance ``r`` (ohm) at bias ``volts`` (V), for
    every point at once. Contact k (1 at the high pad, 2 at the low pad) passes, reverse-biased by u,
    Is_k·exp(g√u)·[(1 − e^{−u/v_n}) + m(e^{u/v_n} − 1)] and, forward-biased by u, Is_k·[(e^{u/v_n} − 1) +
    m(1 − e^{−u/v_n})]: ``is1``/``is2`` saturation currents (A), ``v_n`` = n·kT/q (V), ``g`` = γ/kT barrier
    lowering (V^-½), ``m`` in [0, 1] the tunnelling share (0: thermionic diode, 1: symmetric sinh contact)."""
    v = np.asarray(volts, dtype=float)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        u, i_r, _ = _solve(v, is1, is2, v_n, g, m, r)
        return np.sign(v) * _reverse(u, i_r, v_n, g, m)[0]


def _theta_values(theta: np.ndarray) -> tuple[float, ...]:
    """θ = [ln Is1, ln Is2, ln v_n, g, m, R, I0] -> (Is1, Is2, v_n, g, m, R) in the fit's units."""
    return np.exp(theta[0]), np.exp(theta[1]), np.exp(theta[2]), theta[3], theta[4], theta[5]


def _current(v: np.ndarray, theta: np.ndarray, u0: np.ndarray | None):
    """Model current (units of the fit's scale) for θ (see :func:`_current_and_jacobian`) and the solved u:
    what a trial step of the fit needs (no Jacobian)."""
    is1, is2, v_n, g, m, r = _theta_values(theta)
    u, i_r, _ = _solve(v, is1, is2, v_n, g, m, r, u0)
    return np.sign(v) * _reverse_lean(u, i_r, v_n, g, m)[0] + theta[6], u


def _current_and_jacobian(v: np.ndarray, theta: np.ndarray, u0: np.ndarray | None, *,
                          solved: np.ndarray | None = None):
    """Model current (units of the fit's scale) and dI/dθ for θ = [ln Is1, ln Is2, ln v_n, g, m, R, I0],
    by implicit differentiation of |V| = u + u_f(I) + I R; also the solved u. ``solved``: u already solved
    for this θ (from :func:`_current`), else u is solved from the start ``u0``."""
    is1, is2, v_n, g, m, r = _theta_values(theta)
    if solved is None:
        u, i_r, i_f = _solve(v, is1, is2, v_n, g, m, r, u0)
    else:
        pos = v > 0
        u, i_r, i_f = solved, np.where(pos, is1, is2), np.where(pos, is2, is1)
    cur, d, d_lnv, d_m, su = _reverse(u, i_r, v_n, g, m)
    u_f, du_di, du_dlnis, du_dm = _forward(cur, i_f, v_n, m)
    den = 1.0 + (du_di + r) * d

    def total(partial_rev: np.ndarray | float, explicit: np.ndarray | float) -> np.ndarray:
        return (partial_rev - d * explicit) / den

    sign = np.sign(v)
    pos = v > 0
    d_rev = total(cur, 0.0)
    d_fwd = total(0.0, du_dlnis)
    jac = np.empty((*v.shape, 7))
    jac[..., 0] = sign * np.where(pos, d_rev, d_fwd)
    jac[..., 1] = sign * np.where(pos, d_fwd, d_rev)
    jac[..., 2] = sign * total(d_lnv, u_f)
    jac[..., 3] = sign * total(su * cur, 0.0)
    jac[..., 4] = sign * total(d_m, du_dm)
    jac[..., 5] = sign * total(0.0, cur)
    jac[..., 6] = 1.0
    return sign * cur + theta[6], jac, u


def b2b_g0(is1: float, is2: float, v_n: float, r: float, m: float = 0.0) -> float:
    """Zero-bias conductance (S) of :func:`b2b_current`: 1 / (R + v_n/((1+m)Is1) + v_n/((1+m)Is2))."""
    return 1.0 / (r + v_n / ((1.0 + m) * is1) + v_n / ((1.0 + m) * is2))
