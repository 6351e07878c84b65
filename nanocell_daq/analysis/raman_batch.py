"""Batch Si Raman fits: every spectrum of a map at once, the same fit as :func:`raman.fit_si <fit_si>`.

A vectorised, bounded Levenberg-Marquardt over the batch (analytic Jacobians, 8x8 normal equations solved for
all spectra in one NumPy call) runs the same stages as the single fit on the same scaled data: an unweighted
start from the same initial guess, the noise model (given, pooled or estimated per spectrum as the single fit
does), two weighted fits with weights from the model, the cosmic-ray test near the c-Si peak (the same
candidate pixels, each trial refitted without its pixel, here as a zero weight), and the final weighted fit;
the errors are the weighted covariance scaled by max(1, reduced chi-square) (:func:`raman.fit_result`).

Spectra the batch cannot reproduce go to :func:`fit_si` one by one: pixels that are not finite in the window,
fits that do not converge in :data:`MAX_ITER` steps, and spectra where a pixel is dropped as a cosmic ray (the
refits after a drop are the single fit's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import median_filter

from nanocell_daq.analysis.raman import (
    _HI,
    _LO,
    _REF_CM1,
    _SIGMA_PER_FWHM,
    C_CENTER,
    C_FWHM,
    FIT_WINDOW_CM1,
    NAN,
    OUTLIER_Z,
    SIGNIFICANCE,
    NoiseModel,
    SiFit,
    _failed,
    _initial_guess,
    crystalline_fraction,
    estimate_noise,
    fit_si,
    xc_upper_limit,
)

MAX_ITER = 100
"""Levenberg-Marquardt steps per stage before a spectrum is handed to the single fit."""
_RTOL = 1e-10  # converged: an accepted step lowers chi-square by less than this fraction
A_MIN_SNR = 2.0
"""The batch keeps a spectrum whose a-Si area exceeds this many sigma (c-Si: :data:`SIGNIFICANCE`); below,
the Gaussian of an absent band fits noise and where it ends depends on the solver's path."""
_SQRT_2PI = np.sqrt(2.0 * np.pi)


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
    lor = ac / np.pi * hw / (d * d + hw * hw)
    s = wa * _SIGMA_PER_FWHM
    gau = aa / (s * _SQRT_2PI) * np.exp(-0.5 * ((x - xa) / s) ** 2)
    return lor + gau + b0 + b1 * (x - _REF_CM1)


def batch_jacobian(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """d model / d params of every row of ``p``: (B, n, 8), analytic (as ``raman._model_jac``)."""
    return _jacobian_t(x, p).transpose(0, 2, 1)


def _jacobian_t(x: np.ndarray, p: np.ndarray, inv: np.ndarray | None = None) -> np.ndarray:
    """Transposed Jacobian (B, 8, n), rows times ``inv`` (B, n) if given: contiguous per parameter."""
    ac, xc, wc, aa, xa, wa = (p[:, k, None] for k in range(6))
    hw = 0.5 * wc
    d = x - xc
    den = d * d + hw * hw
    jt = np.empty((p.shape[0], 8, x.size))
    lor = hw / (np.pi * den)
    if inv is not None:
        lor *= inv
    jt[:, 0] = lor
    np.multiply(lor, ac * 2.0 * d / den, out=jt[:, 1])
    np.multiply(lor, ac * (0.5 / hw - hw / den), out=jt[:, 2])  # = ac/π · ½(den − 2hw²)/den²
    sg = wa * _SIGMA_PER_FWHM
    u = (x - xa) / sg
    gau = np.exp(-0.5 * u * u) / (sg * _SQRT_2PI)
    if inv is not None:
        gau *= inv
    jt[:, 3] = gau
    np.multiply(gau, aa * u / sg, out=jt[:, 4])
    np.multiply(gau, aa * (u * u - 1.0) / wa, out=jt[:, 5])
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
    x: np.ndarray, sn: np.ndarray, p0: np.ndarray, inv: np.ndarray, max_iter: int = MAX_ITER
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimise sum(((model(p) − sn)·inv)²) for every row within the bounds: (p, chi2, converged).

    Bounded by projection: a parameter at a bound whose gradient pushes it out is held for that step; steps
    are Marquardt-scaled by the largest diagonal of JᵀJ seen (scale-free, as the single fit's x_scale="jac").
    Only the spectra not yet converged are computed on each step.
    """
    p_out = p0.copy()
    n_b = p_out.shape[0]
    r = (batch_model(x, p_out) - sn) * inv
    chi2_out = np.einsum("bn,bn->b", r, r)
    converged = np.zeros(n_b, dtype=bool)
    # the working set: the spectra not yet converged, compacted as they finish (no gathers on every step)
    live = np.arange(n_b)
    p, chi2 = p_out.copy(), chi2_out.copy()
    lam = np.full(n_b, 1e-3)
    dscale = np.zeros((n_b, 8))
    normal = np.zeros((n_b, 8, 8))  # JᵀJ and Jᵀr at p: kept while steps are rejected
    grad = np.zeros((n_b, 8))
    stale = np.ones(n_b, dtype=bool)
    eye = np.eye(8)
    for _ in range(max_iter):
        if live.size == 0:
            break
        if stale.all():
            jt = _jacobian_t(x, p, inv)
            normal = jt @ jt.transpose(0, 2, 1)
            grad = (jt @ r[..., None])[..., 0]
            dscale = np.maximum(dscale, np.einsum("bii->bi", normal))
        elif stale.any():
            new = np.nonzero(stale)[0]
            jt = _jacobian_t(x, p[new], inv[new])
            normal[new] = jt @ jt.transpose(0, 2, 1)
            grad[new] = (jt @ r[new, :, None])[..., 0]
            dscale[new] = np.maximum(dscale[new], np.einsum("bii->bi", normal[new]))
        stale[:] = False
        dl = np.maximum(dscale, 1e-12 * dscale.max(axis=1, keepdims=True) + 1e-300)
        held = ((p <= _LO + 1e-12) & (grad > 0)) | ((p >= _HI - 1e-12) & (grad < 0))
        free = ~held
        mask2 = free[:, :, None] & free[:, None, :]
        m = np.where(mask2, normal, 0.0) + eye * np.where(free, lam[:, None] * dl, 1.0)[:, None, :]
        delta = np.linalg.solve(m, np.where(free, -grad, 0.0)[..., None])[..., 0]
        pn = np.clip(p + delta, _LO, _HI)
        rn = (batch_model(x, pn) - sn) * inv
        chi2n = np.einsum("bn,bn->b", rn, rn)
        better = (chi2n <= chi2) & np.isfinite(chi2n)
        gain = (chi2 - chi2n) / np.maximum(chi2, 1e-300)
        small_step = np.all(np.abs(pn - p) * np.sqrt(dl) <= 1e-10 * (1.0 + np.sqrt(chi2))[:, None], axis=1)
        done = (better & (gain < _RTOL)) | small_step
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
    p_out[live], chi2_out[live] = p, chi2
    p, chi2 = p_out, chi2_out
    return p, chi2, converged


def _sigma(noise_var, p: np.ndarray, x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Model-based sigma of the scaled spectra (B, n): the single fit's ``sqrt(noise.variance(m))/scale``."""
    return np.sqrt(noise_var(batch_model(x, p) * scale[:, None])) / scale[:, None]


class _Noise:
    """Per-spectrum noise models as arrays (gain, read) with :meth:`NoiseModel.variance`'s formula."""

    def __init__(self, models: list[NoiseModel]):
        self.models = models
        self.gain = np.array([m.gain for m in models])[:, None]
        self.read = np.array([m.read for m in models])[:, None]

    def take(self, idx: np.ndarray) -> _Noise:
        return _Noise([self.models[i] for i in idx])

    def __call__(self, mean: np.ndarray) -> np.ndarray:
        return np.maximum(self.gain * np.clip(mean, 0.0, None) + self.read**2, 1e-6)


def _leverage(jac: np.ndarray) -> np.ndarray:
    """Hat-matrix diagonals of every spectrum's Jacobian (B, n, 8): (B, n), as ``raman._leverage``."""
    inv_a = np.linalg.pinv(np.einsum("bni,bnj->bij", jac, jac))
    return np.clip(np.einsum("bni,bij,bnj->bn", jac, inv_a, jac), 0.0, 1.0)


def fit_spectra(
    axis: np.ndarray,
    spectra: np.ndarray,
    *,
    y: float = 0.8,
    window: tuple[float, float] = FIT_WINDOW_CM1,
    noise: NoiseModel | None = None,
    pool_noise: bool = False,
    stats: BatchStats | None = None,
) -> list[SiFit]:
    """Fit every row of ``spectra`` (B, n counts on ``axis`` cm-1) as ``fit_si(axis, row, y=y, window=window,
    noise=noise)`` does, in one batch; ``pool_noise`` with ``noise`` None: one noise model estimated from
    the pooled residuals of the unweighted fits of all spectra (what ``fit_map`` does) instead of one per
    spectrum. ``stats`` (optional) is filled with how many spectra went to the single fit, and why."""
    stats = stats if stats is not None else BatchStats()
    axis = np.asarray(axis, dtype=float)
    data = np.atleast_2d(np.asarray(spectra, dtype=float))
    n_b = data.shape[0]
    sel = (axis >= window[0]) & (axis <= window[1])
    x, s = axis[sel], data[:, sel]
    results: list[SiFit | None] = [None] * n_b
    if x.size < 12:
        return [_failed(y) for _ in range(n_b)]
    finite = np.all(np.isfinite(s), axis=1)
    single: dict[int, str] = {int(k): "not finite" for k in np.nonzero(~finite)[0]}
    idx = np.nonzero(finite)[0]
    s = s[idx]
    scale = np.max(np.abs(s), axis=1) if idx.size else np.ones(0)
    scale[scale == 0] = 1.0
    sn = s / scale[:, None]
    p, _, ok = levenberg_marquardt(x, sn, initial_guesses(x, sn), np.ones_like(sn))
    given = noise
    if noise is None and idx.size:
        lev = _leverage(batch_jacobian(x, p))
        model = batch_model(x, p) * scale[:, None]
        if pool_noise:
            given = _pooled(axis, data, window, ~finite, model, s - model, lev)
        models = [
            given or estimate_noise(model[k], s[k] - model[k], leverage=lev[k]) for k in range(idx.size)
        ]
    elif pool_noise and noise is None:
        given = _pooled(axis, data, window, ~finite, np.zeros(0), np.zeros(0), np.zeros(0))
        models = []
    else:
        models = [noise] * idx.size
    if idx.size:
        nv = _Noise(models)
        for _ in range(2):
            sigma_prev = _sigma(nv, p, x, scale)
            p, _, ok2 = levenberg_marquardt(x, sn, p, 1.0 / sigma_prev)
            ok &= ok2
        clear = ok & _well_determined(x, sn, p, sigma_prev)
        for j in np.nonzero(~clear)[0]:
            single[int(idx[j])] = "not converged" if not ok[j] else "band at noise level or bound"
        keep = np.nonzero(clear)[0]
        idx, sn, p, scale, sigma_prev = idx[keep], sn[keep], p[keep], scale[keep], sigma_prev[keep]
        models, nv = [models[j] for j in keep], nv.take(keep)
        spiked = _has_outlier(x, sn, p, sigma_prev, _sigma(nv, p, x, scale))
        sigma = _sigma(nv, p, x, scale)
        p, _, ok = levenberg_marquardt(x, sn, p, 1.0 / sigma)
        fun = (batch_model(x, p) - sn) / sigma
        jac = batch_jacobian(x, p) / sigma[..., None]
        fits = fit_results(p, fun, jac, scale=scale, y=y, models=models)
        for j, k in enumerate(idx):
            if spiked[j]:
                single[int(k)] = "cosmic ray"
            elif not ok[j]:
                single[int(k)] = "not converged"
            else:
                results[k] = fits[j]
    for k, reason in single.items():
        stats.add(reason, 1)
        results[k] = fit_si(axis, data[k], y=y, window=window, noise=given)
    stats.n_batch += n_b - len(single)
    return results  # type: ignore[return-value]


def fit_results(
    p: np.ndarray, fun: np.ndarray, jac: np.ndarray, *, scale: np.ndarray, y: float, models: list[NoiseModel]
) -> list[SiFit]:
    """``raman.fit_result`` of every spectrum at once: the same numbers (covariance pinv(JᵀJ) times
    max(1, reduced chi-square), significance, Xc and its error or upper limit)."""
    n_b = p.shape[0]
    if n_b == 0:
        return []
    dof = max(fun.shape[1] - p.shape[1], 1)
    redchi = np.einsum("bn,bn->b", fun, fun) / dof
    cov = np.linalg.pinv(jac.transpose(0, 2, 1) @ jac) * np.maximum(redchi, 1.0)[:, None, None]
    err = np.sqrt(np.clip(np.einsum("bii->bi", cov), 0.0, None))
    ac, aa = p[:, 0] * scale, p[:, 3] * scale
    ac_err, aa_err = err[:, 0] * scale, err[:, 3] * scale
    significant = (ac > SIGNIFICANCE * ac_err) & (ac > 0)
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
    cols = [c_pos, c_pos_err, c_w, c_w_err, ac, ac_err, *a_shape, aa, aa_err, xc, xc_err, redchi, upper]
    table = np.column_stack(cols).tolist()
    out = []
    for k in range(n_b):
        v = table[k]
        out.append(
            SiFit(
                *v[:14], float(y), bool(significant[k]), v[14], True, v[15],
                float(models[k].gain), float(models[k].read), 0,
            )
        )
    return out


def _pooled(axis, data, window, bad, model, resid, lev) -> NoiseModel | None:
    """The pooled noise estimate of ``fit_map``: every spectrum's unweighted fit (the batch's, plus the single
    first pass of spectra the batch cannot take)."""
    from nanocell_daq.analysis.raman import first_pass

    ms, rs, hs = [model.ravel()], [resid.ravel()], [lev.ravel()]
    for k in np.nonzero(bad)[0]:
        got = first_pass(axis, data[k], window=window)
        if got is not None:
            ms.append(got[0])
            rs.append(got[1])
            hs.append(got[2])
    m = np.concatenate(ms)
    if m.size == 0:
        return None
    return estimate_noise(m, np.concatenate(rs), leverage=np.concatenate(hs))


def _well_determined(x: np.ndarray, sn: np.ndarray, p: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Spectra whose fit has one minimum to find: c-Si above :data:`SIGNIFICANCE` sigma, a-Si above
    :data:`A_MIN_SNR` sigma, and no band position or width at a bound. Elsewhere (a band lost in the noise)
    the parameters of the missing band wander, and where the fit ends depends on the solver's path: those
    go to the single fit."""
    jac = batch_jacobian(x, p) / sigma[..., None]
    a = jac.transpose(0, 2, 1) @ jac
    r = (batch_model(x, p) - sn) / sigma
    redchi = np.einsum("bn,bn->b", r, r) / max(x.size - 8, 1)
    cov = np.linalg.pinv(a) * np.maximum(redchi, 1.0)[:, None, None]
    err = np.sqrt(np.clip(np.einsum("bii->bi", cov), 0.0, None))
    sig = (p[:, 0] > SIGNIFICANCE * err[:, 0]) & (p[:, 3] > A_MIN_SNR * err[:, 3])
    span = _HI[[1, 2, 4, 5]] - _LO[[1, 2, 4, 5]]
    shape = p[:, [1, 2, 4, 5]]
    lo, hi = _LO[[1, 2, 4, 5]], _HI[[1, 2, 4, 5]]
    inside = np.all((shape - lo > 1e-6 * span) & (hi - shape > 1e-6 * span), axis=1)
    return sig & inside


def _has_outlier(
    x: np.ndarray, sn: np.ndarray, p: np.ndarray, sigma_fit: np.ndarray, sigma: np.ndarray
) -> np.ndarray:
    """The single fit's first cosmic-ray round for every spectrum: which have a pixel whose removal lowers
    chi-square (of the fit ``p`` made with ``sigma_fit``) by more than OUTLIER_Z² (the same candidates, by
    ``sigma`` of the model at ``p``; each trial refitted without its pixel: weighted 0)."""
    n_b, n = sn.shape
    fitted = (sn - batch_model(x, p)) / sigma_fit
    chi2 = np.einsum("bn,bn->b", fitted, fitted)
    resid = (sn - batch_model(x, p)) / sigma
    order = np.argsort(resid, axis=1)[:, ::-1][:, :2]
    trials: list[tuple[int, int]] = []
    for b in range(n_b):
        cands = [int(k) for k in order[b] if resid[b, k] > 4.0]
        if p[b, 2] < C_FWHM[0] + 0.3:
            in_c = np.nonzero((x >= C_CENTER[0]) & (x <= C_CENTER[1]))[0]
            cands += [int(k) for k in in_c[np.argsort(sn[b, in_c])[::-1][:2]] if k not in cands]
        trials += [(b, k) for k in cands]
    spiked = np.zeros(n_b, dtype=bool)
    if not trials:
        return spiked
    rows = np.array([t[0] for t in trials])
    pix = np.array([t[1] for t in trials])
    keep = np.ones((len(trials), n), dtype=bool)
    keep[np.arange(len(trials)), pix] = False
    starts = np.array([_initial_guess(x[keep[t]], sn[rows[t]][keep[t]]) for t in range(len(trials))])
    inv = np.where(keep, 1.0 / sigma[rows], 0.0)
    _, chi2_alt, _ = levenberg_marquardt(x, sn[rows], _inside(starts), inv, max_iter=80)
    gain = chi2[rows] - chi2_alt
    spiked[rows[gain > OUTLIER_Z**2]] = True
    return spiked
