"""Batch Si Raman fits: every spectrum of a map at once, the same fit as :func:`raman.fit_si <fit_si>`.

A vectorised, bounded Levenberg-Marquardt over the batch (analytic Jacobians, 8x8 normal equations solved for
all spectra in one NumPy call) runs the same stages as the single fit on the same scaled data: an unweighted
start from the same initial guess, the noise model (given, pooled or estimated per spectrum as the single fit
does), two weighted fits with weights from the model, the cosmic-ray test near the c-Si peak (the same
candidate pixels, each trial refitted without its pixel, here as a zero weight), and the final weighted fit;
the errors are the weighted covariance scaled by max(1, reduced chi-square) (:func:`raman.fit_result`).
The stages before the final fit only set weights and starts: they stop at 1e-5 of chi-square (30 steps at
most); the final fit converges as the single fit's solver does (ftol 1e-8).

Spectra with a band absent (below :data:`~nanocell_daq.analysis.raman.SIGNIFICANCE` sigma in the full fit:
off-wire pixels, fully amorphised or fully crystalline ones) get the reduced model as fit_si gives it: one
more vectorised pass over those spectra with the absent band's parameters held (c-Si area 0, a-Si at its
nominal shape), weights from the reduced model, and the same upper limits
(:func:`~nanocell_daq.analysis.raman.absent_band_results`). The full model's free band fits noise and ends
where the solver's path takes it; the reduced model has one minimum, which both paths find.

Spectra the batch cannot reproduce go to :func:`fit_si` one by one: pixels that are not finite in the window,
fits with both bands present that do not converge in :data:`MAX_ITER` steps or end with a band's position or
width at a bound, spectra where a pixel is dropped as a cosmic ray (the refits after a drop are the single
fit's), and, with a noise model estimated per spectrum (from the residuals of its unweighted fit alone),
spectra whose unweighted fit shows a band at the noise level or a bound. Spectra are
processed :data:`CHUNK` at a time: the working memory does not grow with their number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import median_filter
from scipy.optimize import OptimizeResult

from nanocell_daq.analysis.raman import (
    _FREE,
    _HI,
    _LO,
    _NOMINAL,
    _REF_CM1,
    _SIGMA_PER_FWHM,
    C_CENTER,
    C_FWHM,
    FIT_WINDOW_CM1,
    NAN,
    OUTLIER_Z,
    REDUCED_ROUNDS,
    SIGNIFICANCE,
    NoiseModel,
    SiFit,
    _failed,
    _window,
    absent_band_results,
    crystalline_fraction,
    first_pass,
    fit_from_start,
    fit_si,
    fit_start,
    masked_inverse,
    si_model,
    xc_upper_limit,
)
from nanocell_daq.analysis.raman import (
    _leverage as _leverage_single,
)

CHUNK = 2048
"""Spectra fitted together by default: the working arrays stay at a few tens of MB whatever the number."""
MAX_ITER = 100
"""Levenberg-Marquardt steps per stage before a spectrum is handed to the single fit."""
_RTOL = 1e-8  # converged: an accepted step lowers chi-square by less than this fraction (trf's ftol)
_MAX_ITER_START = 30  # steps of the stages before the final fit (a spectrum not done goes on from there)
_RTOL_NOISE = 1e-10  # the fit whose residuals alone estimate a spectrum's noise model
_RTOL_START = 1e-5  # the same, for the fits whose result only sets the weights or the start of the next
A_MIN_SNR = SIGNIFICANCE
"""With a noise model per spectrum, the batch takes a spectrum whose unweighted fit has the a-Si area above
this many sigma (c-Si: :data:`SIGNIFICANCE`): that fit's residuals alone set the spectrum's noise model."""
_SQRT_2PI = np.sqrt(2.0 * np.pi)
_INV_SQRT_2PI = 1.0 / _SQRT_2PI


@dataclass
class BatchStats:
    """What the batch did: spectra fitted in the batch, and those handed to the single fit (and why)."""

    n_batch: int = 0
    fallback: dict[str, int] = field(default_factory=dict)

    def add(self, reason: str, n: int) -> None:
        if n:
            self.fallback[reason] = self.fallback.get(reason, 0) + n

    @property
    def n_fallback(self) -> int:
        return sum(self.fallback.values())


def batch_model(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """:func:`~nanocell_daq.analysis.raman.si_model` of every row of ``p`` (B, 8) on ``x`` (n,): (B, n)."""
    ac, xc, wc, aa, xa, wa, b0, b1 = (p[:, k, None] for k in range(8))
    hw = 0.5 * wc
    d = x - xc
    d *= d
    d += hw * hw
    out = np.divide(ac * hw / np.pi, d)
    isg = 1.0 / (wa * _SIGMA_PER_FWHM)
    u = (x - xa) * isg
    u *= u
    u *= -0.5
    np.exp(u, out=u)
    u *= aa * isg * _INV_SQRT_2PI
    out += u
    out += b0 + b1 * (x - _REF_CM1)
    return out


def batch_jacobian(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """d model / d params of every row of ``p``: (B, n, 8), analytic (as ``raman._model_jac``)."""
    return _jacobian_t(x, p).transpose(0, 2, 1)


def _jacobian_t(x: np.ndarray, p: np.ndarray, inv: np.ndarray | None = None) -> np.ndarray:
    """Transposed Jacobian (B, 8, n), rows times ``inv`` (B, n) if given: contiguous per parameter."""
    ac, xc, wc, aa, xa, wa = (p[:, k, None] for k in range(6))
    jt = np.empty((p.shape[0], 8, x.size))
    hw = 0.5 * wc
    d = x - xc
    q = d * d
    q += hw * hw
    np.divide(1.0, q, out=q)  # 1/den
    lor = jt[:, 0]
    np.multiply(q, hw / np.pi, out=lor)
    if inv is not None:
        lor *= inv
    d *= q
    d *= 2.0 * ac
    np.multiply(lor, d, out=jt[:, 1])  # ac·lor·2d/den
    q *= hw
    q -= 0.5 / hw
    q *= -ac
    np.multiply(lor, q, out=jt[:, 2])  # ac·lor·(1/(2hw) − hw/den) = ac/π · ½(den − 2hw²)/den²
    isg = 1.0 / (wa * _SIGMA_PER_FWHM)
    u = (x - xa) * isg
    gau = jt[:, 3]
    np.multiply(u, u, out=gau)
    gau *= -0.5
    np.exp(gau, out=gau)
    gau *= isg * _INV_SQRT_2PI
    if inv is not None:
        gau *= inv
    np.multiply(gau, u * (aa * isg), out=jt[:, 4])
    u *= u
    u -= 1.0
    u *= aa / wa
    np.multiply(gau, u, out=jt[:, 5])
    if inv is None:
        jt[:, 6] = 1.0
        jt[:, 7] = x - _REF_CM1
    else:
        jt[:, 6] = inv
        np.multiply(inv, x - _REF_CM1, out=jt[:, 7])
    return jt


def initial_guesses(x: np.ndarray, sn: np.ndarray) -> np.ndarray:
    """``raman._initial_guess`` of every row of ``sn`` (B, n) at once: (B, 8), inside the bounds as the
    single fit's solver puts it."""
    s = median_filter(sn, size=(1, 3), mode="nearest")
    step = float(np.median(np.diff(x))) if x.size > 1 else 1.0
    edge = max(3, x.size // 20)
    left = np.median(s[:, :edge], axis=1)
    b1 = (np.median(s[:, -edge:], axis=1) - left) / max(x[-1] - x[0], 1e-9)
    b0 = left + b1 * (_REF_CM1 - x[0])
    flat = s - (b0[:, None] + b1[:, None] * (x - _REF_CM1))
    in_c = (x >= C_CENTER[0]) & (x <= C_CENTER[1])
    in_a = (x >= 455.0) & (x <= 495.0)
    b = sn.shape[0]
    a_level = np.maximum(np.median(flat[:, in_a], axis=1), 0.0) if in_a.any() else np.zeros(b)
    aa = a_level * 70.0 * _SIGMA_PER_FWHM * _SQRT_2PI
    if in_c.any():
        fc = flat[:, in_c]
        k = np.argmax(fc, axis=1)
        xc0 = x[in_c][k]
        c_height = np.maximum(fc[np.arange(b), k] - a_level * 0.5, 0.0)
    else:
        xc0, c_height = np.full(b, 520.0), np.zeros(b)
    wc0 = max(4.0, 2.0 * step)
    p0 = np.column_stack(
        [c_height * np.pi * wc0 / 2.0, xc0, np.full(b, wc0), aa, np.full(b, 475.0), np.full(b, 70.0), b0, b1]
    )
    return _inside(p0)


def _inside(p0: np.ndarray) -> np.ndarray:
    """Strictly inside the bounds, as ``raman._solve`` makes its start."""
    p0 = np.clip(p0, _LO, _HI)
    p0[:, [0, 3]] = np.maximum(p0[:, [0, 3]], 1e-6)
    p0 = np.minimum(p0, np.where(np.isfinite(_HI), _HI - 1e-9, np.inf))
    return np.maximum(p0, np.where(np.isfinite(_LO), _LO + 1e-9, -np.inf))


def levenberg_marquardt(
    x: np.ndarray, sn: np.ndarray, p0: np.ndarray, inv: np.ndarray, max_iter: int = MAX_ITER,
    *, rtol: float = _RTOL, lam0: float = 1e-3, fixed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimise sum(((model(p) − sn)·inv)²) for every row within the bounds: (p, chi2, converged); the
    parameters ``fixed`` (B, 8 booleans, optional) are held at their values (a reduced model).

    Bounded by projection: a parameter at a bound whose gradient pushes it out is held for that step; steps
    are Marquardt-scaled by the largest diagonal of JᵀJ seen (scale-free, as the single fit's x_scale="jac").
    Converged: an accepted step lowers chi-square by less than ``rtol`` of it. Only the spectra not yet
    converged are computed on each step; the Jacobian only where the last step was accepted.
    """
    p_out = p0.copy()
    n_b = p_out.shape[0]
    r = batch_model(x, p_out)
    r -= sn
    r *= inv
    chi2_out = np.einsum("bn,bn->b", r, r)
    converged = np.zeros(n_b, dtype=bool)
    # the working set: the spectra not yet converged, compacted as they finish (no gathers on every step)
    live = np.arange(n_b)
    p, chi2 = p_out.copy(), chi2_out.copy()
    lam = np.full(n_b, lam0)
    dscale = np.zeros((n_b, 8))
    normal = np.zeros((n_b, 8, 8))  # JᵀJ and Jᵀr at p: kept while steps are rejected
    grad = np.zeros((n_b, 8))
    stale = np.ones(n_b, dtype=bool)
    eye = np.eye(8)
    lo, hi = _LO + 1e-12, _HI - 1e-12
    held = np.zeros((n_b, 8), dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool).copy()
    for _ in range(max_iter):
        if live.size == 0:
            break
        new = None if stale.all() else np.nonzero(stale)[0]
        if new is None or new.size:
            jt = _jacobian_t(x, p, inv) if new is None else _jacobian_t(x, p[new], inv[new])
            rr = r if new is None else r[new]
            nm = jt @ jt.transpose(0, 2, 1)
            gr = np.einsum("bin,bn->bi", jt, rr)
            diag = np.einsum("bii->bi", nm)
            if new is None:
                normal, grad = nm, gr
                np.maximum(dscale, diag, out=dscale)
            else:
                normal[new], grad[new] = nm, gr
                dscale[new] = np.maximum(dscale[new], diag)
        stale[:] = False
        dl = np.maximum(dscale, 1e-12 * dscale.max(axis=1, keepdims=True) + 1e-300)
        free = ~(((p <= lo) & (grad > 0)) | ((p >= hi) & (grad < 0)) | held)
        if free.all():
            m = normal + eye * (lam[:, None] * dl)[:, None, :]
            delta = np.linalg.solve(m, -grad[..., None])[..., 0]
        else:
            mask2 = free[:, :, None] & free[:, None, :]
            m = np.where(mask2, normal, 0.0) + eye * np.where(free, lam[:, None] * dl, 1.0)[:, None, :]
            delta = np.linalg.solve(m, np.where(free, -grad, 0.0)[..., None])[..., 0]
        pn = np.clip(p + delta, _LO, _HI)
        rn = batch_model(x, pn)
        rn -= sn
        rn *= inv
        chi2n = np.einsum("bn,bn->b", rn, rn)
        better = (chi2n <= chi2) & np.isfinite(chi2n)
        gain = (chi2 - chi2n) / np.maximum(chi2, 1e-300)
        small_step = np.all(np.abs(pn - p) * np.sqrt(dl) <= 1e-10 * (1.0 + np.sqrt(chi2))[:, None], axis=1)
        done = (better & (gain < rtol)) | small_step
        if better.all():
            p, chi2, r = pn, chi2n, rn
        else:
            p[better], chi2[better], r[better] = pn[better], chi2n[better], rn[better]
        stale |= better
        lam = np.where(better, np.maximum(lam / 3.0, 1e-12), lam * 4.0)
        done |= lam > 1e16  # no step lowers chi-square: a minimum within rounding
        if done.any():
            p_out[live[done]], chi2_out[live[done]] = p[done], chi2[done]
            converged[live[done]] = True
            keep = ~done
            live, p, chi2, r, sn, inv = live[keep], p[keep], chi2[keep], r[keep], sn[keep], inv[keep]
            lam, dscale, normal, grad, stale = lam[keep], dscale[keep], normal[keep], grad[keep], stale[keep]
            held = held[keep]
    p_out[live], chi2_out[live] = p, chi2
    return p_out, chi2_out, converged


def _sigma(
    gain: np.ndarray, read2: np.ndarray, p: np.ndarray, x: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """Model-based sigma of the scaled spectra (B, n): the single fit's ``sqrt(noise.variance(m))/scale``,
    with every spectrum's noise model as ``gain`` and ``read2`` (read², B)."""
    m = batch_model(x, p)
    m *= scale[:, None]
    np.clip(m, 0.0, None, out=m)
    m *= gain[:, None]
    m += read2[:, None]
    np.maximum(m, 1e-6, out=m)
    np.sqrt(m, out=m)
    m /= scale[:, None]
    return m


def inv_psd(a: np.ndarray) -> np.ndarray:
    """``np.linalg.pinv`` of a stack of symmetric positive semi-definite matrices (B, k, k), ten times faster:
    the inverse of the unit-diagonal (equilibrated) matrix where it is well conditioned, pinv elsewhere."""
    k = a.shape[-1]
    d = np.sqrt(np.clip(np.einsum("bii->bi", a), 0.0, None))
    ok = np.all(d > 0, axis=1) & np.all(np.isfinite(a), axis=(1, 2))
    dd = np.where(ok[:, None], d, 1.0)
    eq = a / dd[:, :, None] / dd[:, None, :]
    eq[~ok] = np.eye(k)
    try:
        inv = np.linalg.inv(eq)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(a)
    bad = ~ok | ~(np.abs(eq @ inv - np.eye(k)).max(axis=(1, 2)) < 1e-8)
    inv /= dd[:, :, None]
    inv /= dd[:, None, :]
    finite = np.all(np.isfinite(a), axis=(1, 2))
    inv[~finite] = np.nan
    if (bad & finite).any():
        inv[bad & finite] = np.linalg.pinv(a[bad & finite])
    return inv


def _leverage_t(jt: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Hat-matrix diagonals from the transposed Jacobian (B, 8, n) and (JᵀJ)⁺ (B, 8, 8): (B, n)."""
    return np.clip(np.einsum("bin,bin->bn", cov @ jt, jt), 0.0, 1.0)


def _leverage(jac: np.ndarray) -> np.ndarray:
    """Hat-matrix diagonals of every spectrum's Jacobian (B, n, 8): (B, n), as ``raman._leverage``."""
    jt = jac.transpose(0, 2, 1)
    return _leverage_t(jt, inv_psd(jt @ jac))


def _nnls2(g11, g12, g22, c1, c2) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative least squares with two unknowns from its normal equations (arrays of problems): the
    unconstrained solution where it is >= 0, else the better of the two one-unknown solutions (exact)."""
    det = g11 * g22 - g12 * g12
    with np.errstate(invalid="ignore", divide="ignore"):
        x1 = (g22 * c1 - g12 * c2) / det
        x2 = (g11 * c2 - g12 * c1) / det
        a1 = np.where(g11 > 0, np.clip(c1, 0.0, None) / g11, 0.0)
        a2 = np.where(g22 > 0, np.clip(c2, 0.0, None) / g22, 0.0)
    both = (det > 0) & (x1 >= 0) & (x2 >= 0)
    first = a1 * a1 * g11 - 2 * a1 * c1 <= a2 * a2 * g22 - 2 * a2 * c2
    return np.where(both, x1, np.where(first, a1, 0.0)), np.where(both, x2, np.where(first, 0.0, a2))


def _noise_rows(m: np.ndarray, r2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~nanocell_daq.analysis.raman.estimate_noise` of every row at once (the same iteratively
    reweighted, trimmed, non-negative fit): (gain, read²) per row; ``m`` expected counts (clipped at 0),
    ``r2`` squared residuals already divided by 1 − leverage, both (B, n), finite."""
    var = np.maximum(np.median(r2, axis=1) / 0.455, 1e-6)[:, None] * np.ones_like(m)
    gain = c = np.zeros(m.shape[0])
    for _ in range(5):
        w2 = np.where(r2 < 25.0 * var, 1.0 / var, 0.0) ** 2
        mw = m * w2
        gain, c = _nnls2(
            np.einsum("bn,bn->b", mw, m), mw.sum(axis=1), w2.sum(axis=1),
            np.einsum("bn,bn->b", mw, r2), np.einsum("bn,bn->b", w2, r2),
        )
        var = np.maximum(gain[:, None] * m + c[:, None], 1e-6)
    return gain, c


class _Pool:
    """The pooled residuals of a map's unweighted fits (``fit_map``'s noise estimate), gathered chunk by
    chunk as float32 (8 bytes a pixel), then fitted as :func:`~nanocell_daq.analysis.raman.estimate_noise`
    does in pieces (no full-size temporaries)."""

    _PIECE = 1 << 16

    def __init__(self) -> None:
        self.m: list[np.ndarray] = []
        self.r2: list[np.ndarray] = []

    def add(self, model: np.ndarray, resid: np.ndarray, lev: np.ndarray) -> None:
        m = np.clip(np.ravel(model), 0.0, None)
        r2 = np.ravel(resid) ** 2 / np.clip(1.0 - np.ravel(lev), 0.05, 1.0)
        ok = np.isfinite(m) & np.isfinite(r2)
        self.m.append(m[ok].astype(np.float32))
        self.r2.append(r2[ok].astype(np.float32))

    def estimate(self) -> NoiseModel | None:
        if not self.m:
            return None
        m, r2 = np.concatenate(self.m), np.concatenate(self.r2)
        self.m, self.r2 = [], []
        if m.size == 0:
            return None
        if m.size < 3:
            return NoiseModel(1.0, 0.0, "estimated")
        gain, c = 1.0, 0.0
        var0 = max(float(np.median(r2)) / 0.455, 1e-6)
        for it in range(5):
            sums = np.zeros(5)
            for k in range(0, m.size, self._PIECE):
                mk, rk = m[k : k + self._PIECE].astype(float), r2[k : k + self._PIECE].astype(float)
                var = np.full(mk.size, var0) if it == 0 else np.maximum(gain * mk + c, 1e-6)
                w2 = np.where(rk < 25.0 * var, 1.0 / var, 0.0) ** 2
                mw = mk * w2
                # einsum, not a BLAS dot: threaded BLAS on a busy machine is hundreds of times slower
                dot = np.einsum
                sums += [dot("i,i", mw, mk), mw.sum(), w2.sum(), dot("i,i", mw, rk), dot("i,i", w2, rk)]
            gain, c = (float(v) for v in _nnls2(*sums))
        return NoiseModel(gain, float(np.sqrt(c)), "estimated")


def fit_spectra(
    axis: np.ndarray,
    spectra: np.ndarray,
    *,
    y: float = 0.8,
    window: tuple[float, float] = FIT_WINDOW_CM1,
    noise: NoiseModel | None = None,
    pool_noise: bool = False,
    stats: BatchStats | None = None,
    chunk: int = CHUNK,
) -> list[SiFit]:
    """Fit every row of ``spectra`` (B, n counts on ``axis`` cm-1) as ``fit_si(axis, row, y=y, window=window,
    noise=noise)`` does, in one batch; ``pool_noise`` with ``noise`` None: one noise model estimated from
    the pooled residuals of the unweighted fits of all spectra (what ``fit_map`` does) instead of one per
    spectrum. ``stats`` (optional) is filled with how many spectra went to the single fit, and why.

    ``chunk`` spectra are fitted together: the working memory is bounded by it (plus 8 bytes per window pixel
    of every spectrum for a pooled noise estimate, and the results), not by B. Spectra with a band absent are
    fitted with the reduced model in the batch (the module doc). With a noise model per spectrum, those whose
    unweighted fit shows a band at the noise level or at a bound go straight to the single fit, as do those
    that do not converge. With a pooled noise, spectra handed to the single fit pool its own first pass."""
    stats = stats if stats is not None else BatchStats()
    axis = np.asarray(axis, dtype=float)
    data = np.asarray(spectra, dtype=float)
    if data.ndim == 1:
        data = data[None]
    n_b = data.shape[0]
    sel = (axis >= window[0]) & (axis <= window[1])
    x = axis[sel]
    if x.size < 12:
        return [_failed(y) for _ in range(n_b)]
    chunk = max(int(chunk), 1)
    single: dict[int, str] = {}
    in_batch = np.zeros(n_b, dtype=bool)
    p1, scale = np.zeros((n_b, 8)), np.ones(n_b)
    gain = np.full(n_b, noise.gain if noise is not None else NAN)
    read2 = np.full(n_b, noise.read**2 if noise is not None else NAN)
    pool = _Pool() if pool_noise and noise is None else None
    per_spectrum = noise is None and pool is None
    # the unweighted fit is only a start (and one of thousands of pooled residuals): a few steps will do
    start = {"max_iter": MAX_ITER, "rtol": _RTOL_NOISE} if per_spectrum else {
        "max_iter": _MAX_ITER_START, "rtol": _RTOL_START}
    for c0 in range(0, n_b, chunk):  # the unweighted start of every spectrum (and the noise it shows)
        s = data[c0 : c0 + chunk][:, sel]
        rows = np.arange(c0, c0 + s.shape[0])
        finite = np.all(np.isfinite(s), axis=1)
        single.update((int(k), "not finite") for k in rows[~finite])
        s, rows = s[finite], rows[finite]
        if not rows.size:
            continue
        sc = np.max(np.abs(s), axis=1)
        sc[sc == 0] = 1.0
        sn = s / sc[:, None]
        p, chi2, ok = levenberg_marquardt(x, sn, initial_guesses(x, sn), np.ones_like(sn), **start)
        jt = _jacobian_t(x, p)
        a_inv = inv_psd(jt @ jt.transpose(0, 2, 1))
        err = np.sqrt(np.clip(np.einsum("bii->bi", a_inv), 0.0, None) * (chi2 / max(x.size - 8, 1))[:, None])
        keep = np.ones(rows.size, dtype=bool)
        if per_spectrum:  # this fit alone sets the spectrum's noise model: it must have converged, and be
            single.update((int(k), "not converged") for k in rows[~ok])  # one with a minimum of its own
            keep &= ok & _settled(p, err)
        single.update((int(k), "band at noise level or bound") for k in rows[~keep] if k not in single)
        rows, s, sc, p = rows[keep], s[keep], sc[keep], p[keep]
        in_batch[rows], p1[rows], scale[rows] = True, p, sc
        if noise is None and rows.size:
            model = batch_model(x, p) * sc[:, None]
            resid = s - model
            lev = _leverage_t(jt[keep], a_inv[keep])
            if not per_spectrum:
                pool.add(model, resid, lev)
            else:
                gain[rows], read2[rows] = _noise_rows(
                    np.clip(model, 0.0, None), resid**2 / np.clip(1.0 - lev, 0.05, 1.0)
                )
    given = noise
    starts: dict[int, np.ndarray] = {}  # where fit_si's first stage ended (all it needs with a noise model)
    if pool is not None:
        for k in sorted(single):  # the single fit's own first pass, as the one-by-one path pools them
            first = fit_start(axis, data[k], window)
            if first is not None and not isinstance(first[3], Exception):
                starts[k] = first[3].x
            got = _first_pass_of(first) if first is not None and _converged(first[3]) else None
            got = got or first_pass(axis, data[k], window=window)  # past fit_si's 100 evaluations
            if got is not None:
                pool.add(*got)
        given = pool.estimate()
        if given is not None:
            gain[:], read2[:] = given.gain, given.read**2
    results: list[SiFit | None] = [None] * n_b
    for c0 in range(0, n_b, chunk):  # the weighted fits
        rows = np.nonzero(in_batch[c0 : c0 + chunk])[0]
        if not rows.size:
            continue
        sn = data[c0 : c0 + chunk][:, sel][rows]
        rows += c0
        sc, p, g, rd2 = scale[rows], p1[rows], gain[rows], read2[rows]
        sn /= sc[:, None]
        for _ in range(2):  # weights from the model, refined once (the final fit is the one that converges)
            sigma_prev = _sigma(g, rd2, p, x, sc)
            inv = 1.0 / sigma_prev
            p = levenberg_marquardt(x, sn, p, inv, _MAX_ITER_START, rtol=_RTOL_START, lam0=1e-4)[0]
        sigma = _sigma(g, rd2, p, x, sc)
        spiked = _has_outlier(x, sn, p, sigma_prev, sigma)
        p, _, ok = levenberg_marquardt(x, sn, p, 1.0 / sigma, lam0=1e-4)
        single.update((int(k), "cosmic ray") for k in rows[spiked])
        inv = 1.0 / sigma
        r = batch_model(x, p)
        r -= sn
        r *= inv
        fits = _results(p, r, _jacobian_t(x, p, inv), sc, y, g, np.sqrt(rd2))
        c_sig = np.array([f.c_significant for f in fits], dtype=bool)
        a_sig = np.array([f.a_significant for f in fits], dtype=bool)
        full = c_sig & a_sig
        # both bands present: the full fit is the result (it must have converged, no shape at a bound)
        single.update((int(k), "not converged") for k in rows[~spiked & ~ok & full])
        at_bound = full & ~_shape_inside(p)
        single.update((int(k), "band at a bound") for k in rows[ok & ~spiked & at_bound])
        for j in np.nonzero(ok & ~spiked & full & ~at_bound)[0]:
            results[rows[j]] = fits[j]
        # a band absent: the reduced model, in the batch too (the full fit only told the band absent: one
        # whose noise band still wanders after MAX_ITER steps is absent, as where the single fit's ends)
        red = np.nonzero(~spiked & ~full)[0]
        if red.size:
            got, failed = _reduced_batch(
                x, sn[red], p[red], sc[red], g[red], rd2[red], c_sig[red], a_sig[red], y
            )
            single.update((int(k), "not converged") for k in rows[red][failed])
            for j, fit in zip(red[~failed], got, strict=True):
                results[rows[j]] = fit
    for k, reason in sorted(single.items()):
        stats.add(reason, 1)
        if k in starts and given is not None:  # its first stage is done
            x_k, s_k = _window(axis, data[k], window)
            first = (x_k, s_k, float(np.max(np.abs(s_k))) or 1.0, OptimizeResult(x=starts.pop(k)))
            results[k] = fit_from_start(first, y=y, noise=given)
        else:
            results[k] = fit_si(axis, data[k], y=y, window=window, noise=given)
    stats.n_batch += n_b - len(single)
    return results  # type: ignore[return-value]


def _converged(res) -> bool:
    """A solver result that stopped on a tolerance (not the evaluation cap, not an error)."""
    return not isinstance(res, Exception) and res.status > 0


def _first_pass_of(start: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`~nanocell_daq.analysis.raman.first_pass` from :func:`fit_start`'s converged fit: the same
    solver from the same start, so the same numbers."""
    x, s, scale, res = start
    try:
        lev = _leverage_single(res.jac)
    except (ValueError, np.linalg.LinAlgError):
        return None
    model = si_model(x, res.x) * scale
    return model, s - model, lev


def _reduced_batch(
    x: np.ndarray, sn: np.ndarray, p_full: np.ndarray, sc: np.ndarray, g: np.ndarray, rd2: np.ndarray,
    c: np.ndarray, a: np.ndarray, y: float,
) -> tuple[list[SiFit], np.ndarray]:
    """``raman.reduced_fit`` and ``raman.absent_band_results`` of every row: the model without its absent
    bands (c-Si area 0, a-Si at its nominal shape), :data:`~nanocell_daq.analysis.raman.REDUCED_ROUNDS`
    weighted fits each, a kept band no longer significant dropped and the fit redone. (fits of the rows that
    converged, which rows did not)."""
    n_b = sn.shape[0]
    c, a = c.copy(), a.copy()
    p_out = np.zeros_like(p_full)
    sig_out = np.ones_like(sn)
    failed = np.zeros(n_b, dtype=bool)
    todo = np.arange(n_b)
    start = p_full.copy()
    while todo.size:
        free = np.array([_FREE[(bool(ci), bool(ai))] for ci, ai in zip(c[todo], a[todo], strict=True)])
        free = free.reshape(todo.size, 8)
        p = np.where(free, _inside(start[todo]), _NOMINAL)
        p[:, 3] = np.where(a[todo], p[:, 3], np.maximum(start[todo, 3], 1e-6))
        ok = np.ones(todo.size, dtype=bool)
        for _ in range(REDUCED_ROUNDS):
            sigma = _sigma(g[todo], rd2[todo], p, x, sc[todo])
            p, _, conv = levenberg_marquardt(x, sn[todo], p, 1.0 / sigma, rtol=_RTOL_NOISE, fixed=~free)
            ok &= conv
        inv = 1.0 / sigma
        r = batch_model(x, p)
        r -= sn[todo]
        r *= inv
        jt = _jacobian_t(x, p, inv)
        cov = masked_inverse(jt, free)
        redchi = np.einsum("bn,bn->b", r, r) / np.maximum(x.size - free.sum(axis=1), 1)
        err = np.sqrt(np.clip(np.einsum("bii->bi", cov), 0.0, None) * np.maximum(redchi, 1.0)[:, None])
        c_ok = c[todo] & (p[:, 0] > SIGNIFICANCE * err[:, 0])
        a_ok = a[todo] & (p[:, 3] > SIGNIFICANCE * err[:, 3])
        same = (c_ok == c[todo]) & (a_ok == a[todo]) | ~(c[todo] | a[todo])
        failed[todo] = ~ok
        p_out[todo], sig_out[todo] = p, sigma
        c[todo], a[todo] = c_ok, a_ok
        start[todo] = p
        todo = todo[~same & ok]
    inv = 1.0 / sig_out
    r = sn - batch_model(x, p_out)  # data − model, as raman.fit_si gives it
    r *= inv
    keep = ~failed
    fits = absent_band_results(
        x, p_out[keep], r[keep], _jacobian_t(x, p_out[keep], inv[keep]), inv[keep], scale=sc[keep],
        present_c=c[keep], present_a=a[keep], y=y, gain=g[keep], read=np.sqrt(rd2[keep]),
    )
    return fits, failed


def _shape_inside(p: np.ndarray) -> np.ndarray:
    """No band position or width at a bound."""
    lo, hi = _LO[[1, 2, 4, 5]], _HI[[1, 2, 4, 5]]
    shape, span = p[:, [1, 2, 4, 5]], hi - lo
    return np.all((shape - lo > 1e-6 * span) & (hi - shape > 1e-6 * span), axis=1)


def _settled(p: np.ndarray, err: np.ndarray) -> np.ndarray:
    """c-Si above :data:`SIGNIFICANCE` and a-Si above :data:`A_MIN_SNR` times their errors (scaled units),
    and no band position or width at a bound: a fit with one minimum to find."""
    sig = (p[:, 0] > SIGNIFICANCE * err[:, 0]) & (p[:, 3] > A_MIN_SNR * err[:, 3])
    lo, hi = _LO[[1, 2, 4, 5]], _HI[[1, 2, 4, 5]]
    shape, span = p[:, [1, 2, 4, 5]], hi - lo
    return sig & np.all((shape - lo > 1e-6 * span) & (hi - shape > 1e-6 * span), axis=1)


def fit_results(
    p: np.ndarray, fun: np.ndarray, jac: np.ndarray, *, scale: np.ndarray, y: float, models: list[NoiseModel]
) -> list[SiFit]:
    """``raman.fit_result`` of every spectrum at once: the same numbers (covariance pinv(JᵀJ) times
    max(1, reduced chi-square), significance, Xc and its error or upper limit)."""
    if p.shape[0] == 0:
        return []
    gain = np.array([m.gain for m in models], dtype=float)
    read = np.array([m.read for m in models], dtype=float)
    return _results(p, fun, jac.transpose(0, 2, 1), np.asarray(scale, dtype=float), y, gain, read)


def _results(
    p: np.ndarray, fun: np.ndarray, jt: np.ndarray, scale: np.ndarray, y: float, gain: np.ndarray,
    read: np.ndarray,
) -> list[SiFit]:
    """:func:`fit_results` from the transposed Jacobian and the noise models as arrays."""
    n_b = p.shape[0]
    if n_b == 0:
        return []
    dof = max(fun.shape[1] - p.shape[1], 1)
    redchi = np.einsum("bn,bn->b", fun, fun) / dof
    cov = inv_psd(jt @ jt.transpose(0, 2, 1))
    cov *= np.maximum(redchi, 1.0)[:, None, None]
    err = np.sqrt(np.clip(np.einsum("bii->bi", cov), 0.0, None))
    ac, aa = p[:, 0] * scale, p[:, 3] * scale
    ac_err, aa_err = err[:, 0] * scale, err[:, 3] * scale
    significant = (ac > SIGNIFICANCE * ac_err) & (ac > 0)
    a_significant = aa > SIGNIFICANCE * aa_err
    xc = np.atleast_1d(crystalline_fraction(ac, aa, y, ac_err, aa_err))
    upper = np.atleast_1d(xc_upper_limit(ac, aa, y, ac_err, aa_err))
    s2 = scale**2
    ia = np.clip(aa, 0.0, None)
    den = ac + y * ia
    with np.errstate(invalid="ignore", divide="ignore"):
        d_ic, d_ia = y * ia / den**2, -y * ac / den**2
        var = d_ic**2 * cov[:, 0, 0] * s2 + d_ia**2 * cov[:, 3, 3] * s2 + 2 * d_ic * d_ia * cov[:, 0, 3] * s2
    xc_err = np.where(significant & (den > 0), np.sqrt(np.clip(var, 0.0, None)), NAN)
    c_pos = np.where(significant, p[:, 1], NAN)
    c_pos_err = np.where(significant, err[:, 1], NAN)
    c_w = np.where(significant, p[:, 2], NAN)
    c_w_err = np.where(significant, err[:, 2], NAN)
    a_shape = [p[:, 4], err[:, 4], p[:, 5], err[:, 5]]
    cols = [c_pos, c_pos_err, c_w, c_w_err, ac, ac_err, *a_shape, aa, aa_err, xc, xc_err, redchi, upper,
            gain, read]
    y = float(y)
    return [
        SiFit(*v[:14], y, sig, v[14], True, v[15], v[16], v[17], 0, a_sig)
        for v, sig, a_sig in zip(np.column_stack(cols).tolist(), significant.tolist(), a_significant.tolist(),
                                 strict=True)
    ]


def _has_outlier(
    x: np.ndarray, sn: np.ndarray, p: np.ndarray, sigma_fit: np.ndarray, sigma: np.ndarray
) -> np.ndarray:
    """The single fit's first cosmic-ray round for every spectrum: which have a pixel whose removal lowers
    chi-square (of the fit ``p`` made with ``sigma_fit``) by more than OUTLIER_Z² (the same candidates, by
    ``sigma`` of the model at ``p``; each trial refitted without its pixel: weighted 0)."""
    n_b = sn.shape[0]
    spiked = np.zeros(n_b, dtype=bool)
    if n_b == 0:
        return spiked
    model = batch_model(x, p)
    fitted = (sn - model) / sigma_fit
    chi2 = np.einsum("bn,bn->b", fitted, fitted)
    resid = (sn - model) / sigma
    top = np.argpartition(resid, -2, axis=1)[:, -2:]  # the two worst residuals (their order is no matter)
    cand = [top, np.take_along_axis(resid, top, axis=1) > 4.0]
    in_c = np.nonzero((x >= C_CENTER[0]) & (x <= C_CENTER[1]))[0]
    narrow = p[:, 2] < C_FWHM[0] + 0.3
    if narrow.any() and in_c.size >= 2:  # a spike on the peak pulls the fit onto itself: the tops of c-Si
        tops = in_c[np.argpartition(sn[:, in_c], -2, axis=1)[:, -2:]]
        dup = ((tops[:, :, None] == top[:, None, :]) & cand[1][:, None, :]).any(axis=2)
        valid = np.concatenate([cand[1], narrow[:, None] & ~dup], axis=1)
        cand = [np.concatenate([top, tops], axis=1), valid]
    rows, slot = np.nonzero(cand[1])
    if not rows.size:
        return spiked
    pix = cand[0][rows, slot]
    keep = np.ones((rows.size, x.size), dtype=bool)
    keep[np.arange(rows.size), pix] = False
    starts = _initial_guesses_without(x, sn[rows], keep)
    inv = np.where(keep, 1.0 / sigma[rows], 0.0)
    _, chi2_alt, _ = levenberg_marquardt(x, sn[rows], _inside(starts), inv, max_iter=80)
    spiked[rows[chi2[rows] - chi2_alt > OUTLIER_Z**2]] = True
    return spiked


def _initial_guesses_without(x: np.ndarray, sn: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``raman._initial_guess(x[keep[t]], sn[t][keep[t]])`` of every row t at once, each ``keep`` row
    dropping one pixel: (T, 8)."""
    n_t, n = keep.shape[0], int(keep[0].sum())
    xs = np.broadcast_to(x, keep.shape)[keep].reshape(n_t, n)
    s = median_filter(sn[keep].reshape(n_t, n), size=(1, 3), mode="nearest")
    step = np.median(np.diff(xs, axis=1), axis=1) if n > 1 else np.ones(n_t)
    edge = max(3, n // 20)
    left = np.median(s[:, :edge], axis=1)
    b1 = (np.median(s[:, -edge:], axis=1) - left) / np.maximum(xs[:, -1] - xs[:, 0], 1e-9)
    b0 = left + b1 * (_REF_CM1 - xs[:, 0])
    flat = s - (b0[:, None] + b1[:, None] * (xs - _REF_CM1))
    in_c = (xs >= C_CENTER[0]) & (xs <= C_CENTER[1])
    in_a = (xs >= 455.0) & (xs <= 495.0)
    with np.errstate(invalid="ignore"):
        level = np.nanmedian(np.where(in_a, flat, np.nan), axis=1) if in_a.any() else np.zeros(n_t)
    a_level = np.maximum(np.where(in_a.any(axis=1), level, 0.0), 0.0)
    aa = a_level * 70.0 * _SIGMA_PER_FWHM * _SQRT_2PI
    k = np.argmax(np.where(in_c, flat, -np.inf), axis=1)
    has_c = in_c.any(axis=1)
    rows = np.arange(n_t)
    xc0 = np.where(has_c, xs[rows, k], 520.0)
    c_height = np.where(has_c, np.maximum(flat[rows, k] - a_level * 0.5, 0.0), 0.0)
    wc0 = np.maximum(4.0, 2.0 * step)
    p0 = np.column_stack([c_height * np.pi * wc0 / 2.0, xc0, wc0, aa, np.full(n_t, 475.0),
                          np.full(n_t, 70.0), b0, b1])
    return _inside(p0)
