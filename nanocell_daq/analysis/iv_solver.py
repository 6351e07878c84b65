"""A bounded Levenberg-Marquardt least-squares solver for many small problems at once (the I-V model).

One :func:`~nanocell_daq.analysis.iv_fit.fit_g0` with scipy's trust-region solver spends nearly all its
time in Python overhead: some hundreds of iterations per start on ~42 points, each dozens of small numpy
calls. Here every start of every sweep takes its iterations in lockstep, as rows of one array, so each numpy
call works on all of them (a week-long run's 2,000 sweeps x 3 starts at once).

The method is scipy's ``least_squares(method="trf", x_scale="jac")`` in its essentials: variables scaled by
the Jacobian's column norms (the largest seen), Coleman-Li scaling of a variable the gradient drives towards
a bound (by the square root of its distance), steps kept strictly inside the bounds (at most 0.995 of the way
to one), with Marquardt's damping (λ·diag, Nielsen's update) in place of the trust-region radius. A problem
stops when even the undamped Gauss-Newton step would lower χ² by less than :data:`FTOL`·max(χ², n) (by the
quadratic model: within ~1e-5 standard errors of its minimum), when no step lowers χ² any more, or after
``max_iter`` steps (then ``converged`` is False).
"""

from __future__ import annotations

import numpy as np

from nanocell_daq.analysis.iv_model import _current, _current_and_jacobian

N_PAR = 7
MAX_ITER = 600
"""Most steps (accepted or not) of one problem."""
FTOL = 1e-10
"""Converged when the Gauss-Newton step would lower χ² by less than this fraction of max(χ², n)."""


def _theta_rows(theta: np.ndarray) -> np.ndarray:
    """θ of a batch, (B, 7), as the model code takes it: (7, B, 1)."""
    return theta.T[:, :, None]


def _evaluate(v: np.ndarray, y: np.ndarray, w: np.ndarray, theta: np.ndarray, u0: np.ndarray | None):
    """Weighted residuals (B, n), χ² (B,) and the solved drops u at θ (B, 7)."""
    cur, u = _current(v, _theta_rows(theta), u0)
    r = (cur - y) * w
    chi2 = np.sum(r * r, axis=1)
    return r, np.where(np.isfinite(chi2), chi2, np.inf), u


def _jacobian(v: np.ndarray, w: np.ndarray, theta: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Weighted Jacobian (B, n, 7) at θ whose drops u are solved."""
    return _current_and_jacobian(v, _theta_rows(theta), None, solved=u)[1] * w[:, :, None]


def solve_batch(v: np.ndarray, y: np.ndarray, w: np.ndarray, theta0: np.ndarray, lower: np.ndarray,
                upper: np.ndarray, *, max_iter: int = MAX_ITER,
                ftol: float = FTOL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares minima of the Schottky model for B problems at once: bias ``v`` (B, n) V, current
    ``y`` (B, n) in units of each problem's scale, weights ``w`` (B, n) (0 for padding), starts ``theta0``
    (B, 7), bounds ``lower``/``upper`` (7,). Returns (θ (B, 7), χ² (B,), converged (B,)); a problem
    whose model is not finite at its start has χ² = inf."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
        return _solve_batch(v, y, w, theta0, lo, hi, max_iter, ftol)


def _solve_batch(v, y, w, theta0, lo, hi, max_iter, ftol):
    theta = np.clip(np.asarray(theta0, dtype=float), lo + 1e-9, hi - 1e-9)
    b = theta.shape[0]
    r, chi2, u = _evaluate(v, y, w, theta, None)
    jac = _jacobian(v, w, theta, u)
    bad = ~(np.isfinite(chi2) & np.all(np.isfinite(jac), axis=(1, 2)))
    chi2[bad] = np.inf
    converged = np.zeros(b, dtype=bool)
    colnorm = np.maximum(np.sqrt(np.sum(jac * jac, axis=1)), 1e-150)  # x_scale="jac": the largest seen
    lam = np.full(b, 1e-3)
    nu = np.full(b, 2.0)
    alive = np.flatnonzero(~bad)
    eye = np.eye(N_PAR)
    floor_chi2 = np.sum(w > 0, axis=1).astype(float)  # n of each problem (padding has no weight)
    for _ in range(max_iter):
        if alive.size == 0:
            break
        th, jj, rr = theta[alive], jac[alive], r[alive]
        g = np.matmul(rr[:, None, :], jj)[:, 0, :]  # ½ dχ²/dθ
        # Coleman-Li scaling (as scipy's "trf"): a parameter the gradient drives towards a bound is scaled
        # by the square root of its distance to it, so that it slows down there instead of sticking
        to_hi = (g < 0) & np.isfinite(hi)
        to_lo = (g > 0) & np.isfinite(lo)
        dist = np.where(to_hi, hi - th, np.where(to_lo, th - lo, 1.0))
        dv = np.where(to_hi, -1.0, np.where(to_lo, 1.0, 0.0))
        cn = colnorm[alive]
        d = np.where(dv != 0, np.sqrt(np.maximum(dist, 0.0) / cn), 1.0 / cn)
        jh = jj * d[:, None, :]
        gh = g * d
        a = np.matmul(jh.transpose(0, 2, 1), jh) + eye * (g * dv / cn)[:, :, None]
        # converged: even the undamped (Gauss-Newton) step would lower χ² by less than FTOL·max(χ², n)
        # (by the quadratic model): the start is within ~sqrt(FTOL) standard errors of its minimum
        tiny = 1e-12 * np.max(np.abs(np.diagonal(a, axis1=1, axis2=2)), axis=1) + 1e-300
        gn = _solve_spd(a + tiny[:, None, None] * eye, gh)
        at_min = np.sum(gh * gn, axis=1) <= ftol * np.maximum(chi2[alive], floor_chi2[alive])
        if at_min.any():
            converged[alive[at_min]] = True
            rows = ~at_min
            alive, th, rr, d, a, gh = alive[rows], th[rows], rr[rows], d[rows], a[rows], gh[rows]
            if alive.size == 0:
                break
        diag = np.maximum(np.diagonal(a, axis1=1, axis2=2), 1e-300)
        ph = -_solve_spd(a + (lam[alive, None] * diag)[:, :, None] * eye, gh)  # Marquardt: λ·diag
        step = ph * d
        # stay strictly inside the bounds: at most 0.995 of the way to the nearest one
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(step > 0, (hi - th) / step, np.where(step < 0, (lo - th) / step, np.inf))
        reach = np.min(room, axis=1)
        frac = np.where(reach < 1.0, 0.995 * reach, 1.0)
        ph, step = ph * frac[:, None], step * frac[:, None]
        trial = np.clip(th + step, lo, hi)
        pred = -(2.0 * np.sum(gh * ph, axis=1) + np.sum(ph * np.matmul(a, ph[:, :, None])[:, :, 0], axis=1))
        r_t, chi2_t, u_t = _evaluate(v[alive], y[alive], w[alive], trial, u[alive])
        old = chi2[alive]
        better = chi2_t < old
        rho = np.where(pred > 0, (old - chi2_t) / np.where(pred > 0, pred, 1.0), 0.0)
        ok = alive[better]
        if ok.size:
            t_ok = trial[better]
            j_ok = _jacobian(v[ok], w[ok], t_ok, u_t[better])
            finite = np.all(np.isfinite(j_ok), axis=(1, 2))
            sel = np.flatnonzero(better)[finite]
            ok, t_ok, j_ok = ok[finite], t_ok[finite], j_ok[finite]
            theta[ok], jac[ok], u[ok], r[ok], chi2[ok] = t_ok, j_ok, u_t[sel], r_t[sel], chi2_t[sel]
            colnorm[ok] = np.maximum(colnorm[ok], np.sqrt(np.sum(j_ok * j_ok, axis=1)))
            lam[ok] *= np.maximum(1.0 / 3.0, 1.0 - (2.0 * rho[sel] - 1.0) ** 3)
            nu[ok] = 2.0
        worse = alive[~better]
        lam[worse] *= nu[worse]
        nu[worse] *= 2.0
        # no step, however short, lowers χ²: the start sits in its minimum (to rounding)
        stuck = ~better & (lam[alive] > 1e16)
        converged[alive[stuck]] = True
        alive = alive[~stuck]
    return theta, chi2, converged


def _solve_spd(m: np.ndarray, g: np.ndarray) -> np.ndarray:
    """x with m x = g for a stack of symmetric positive (semi)definite m (B, 7, 7), g (B, 7)."""
    try:
        return np.linalg.solve(m, g[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        return np.stack([np.linalg.lstsq(mi, gi, rcond=None)[0] for mi, gi in zip(m, g, strict=True)])
