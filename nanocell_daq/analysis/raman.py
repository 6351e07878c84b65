"""Si Raman band fits: c-Si (Lorentzian near 520 cm-1) + a-Si TO (Gaussian near 475 cm-1) + linear background.

Positions and widths (FWHM) in cm-1, intensities as integrated areas (counts·cm-1). The crystalline fraction
is Xc = Ic / (Ic + y·Ia) with y the a-Si/c-Si Raman cross-section ratio (a user setting, default 0.8).

Fits are weighted by a CCD noise model, variance = gain·counts + read² (shot noise of the photoelectrons,
``gain`` in counts per electron, plus read noise in counts rms), taken from the spectrometer where it is known
and otherwise estimated from the residuals of the data themselves (:func:`estimate_noise`). The weights come
from the model, not the data (data weights bias Poisson fits low), refined once. Parameter errors are the
weighted-fit covariance, scaled up by the reduced chi-square when the model fits worse than the noise allows.

A band is present when its area exceeds :data:`SIGNIFICANCE` sigma. An absent band (off-wire pixels, fully
amorphised or fully crystalline ones) has no minimum of its own in the full model: its free shape fits noise
wherever the solver's path takes it. The result is then the reduced model's (c-Si area held at 0, a-Si with
its nominal shape), a deterministic function of the data, with one-sided 95 % upper limits of the absent
band's area (:func:`absent_band_results`; coverage tested in tests/analysis/test_raman_absent.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import median_filter
from scipy.optimize import least_squares, nnls

from nanocell_daq.analysis.raman_preprocess import SI_PEAK_REGION_CM1, remove_spikes

NAN = float("nan")
FIT_WINDOW_CM1 = (380.0, 600.0)
_SIGMA_PER_FWHM = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
_REF_CM1 = 490.0  # background is b0 + b1·(ν − 490), keeping b0 and b1 uncorrelated-ish

# Parameter bounds (cm-1): the c-Si peak may red-shift with heating/confinement; a-Si TO sits at 460-490.
C_CENTER = (505.0, 528.0)
C_FWHM = (2.5, 25.0)  # intrinsic c-Si is ~3 cm-1 wide (domain notes 1.6): a 1-pixel spike is no band
A_CENTER = (440.0, 500.0)
A_FWHM = (30.0, 120.0)

SIGNIFICANCE = 3.0
"""A band is significant when its area exceeds this many times its 1-sigma error."""
OUTLIER_Z = 7.0
"""A pixel this many sigma (studentized) above the fitted bands is a cosmic ray (:func:`fit_si`)."""
MAX_OUTLIERS = 4
"""Most pixels one fit drops as cosmic rays (a spike is 1-2 pixels; a few spikes per spectrum at most)."""
UPPER_LIMIT_Z = 1.645
"""Upper limits are one-sided 95 % confidence: the c-Si area plus 1.645 sigma (Gaussian errors)."""
C_SCAN_CM1 = np.arange(C_CENTER[0], C_CENTER[1] + 1e-9, 1.0)
"""Positions (cm-1) where the upper limit of an absent c-Si band is sought (:func:`absent_band_results`)."""
C_NOMINAL_FWHM = 4.5
"""FWHM (cm-1) of the c-Si band whose area an upper limit bounds (a thin wire's band, domain notes 1.6)."""
A_NOMINAL_CM1, A_NOMINAL_FWHM = 475.0, 70.0
"""Position and FWHM (cm-1) of the a-Si band where it is not significant: its area is fitted with this shape
(a broad band: a linear parameter with one minimum; Xc of a highly crystalline pixel stays unbiased)."""
_FREE = {  # parameters fitted when (c-Si, a-Si) are present: the reduced models hold the c-Si area at 0
    (True, True): np.ones(8, dtype=bool),  # and the a-Si shape at its nominal one
    (False, True): np.array([0, 0, 0, 1, 1, 1, 1, 1], dtype=bool),
    (True, False): np.array([1, 1, 1, 1, 0, 0, 1, 1], dtype=bool),
    (False, False): np.array([0, 0, 0, 1, 0, 0, 1, 1], dtype=bool),
}
_NOMINAL = np.array([0.0, 520.0, C_NOMINAL_FWHM, 0.0, A_NOMINAL_CM1, A_NOMINAL_FWHM, 0.0, 0.0])


@dataclass(frozen=True)
class NoiseModel:
    """CCD noise of one spectrum: variance(counts) = ``gain``·counts + ``read``².

    ``gain`` in counts per photoelectron (1 for a detector that reports electrons), ``read`` the read noise of
    the whole spectrum in counts rms (per-frame read noise x sqrt(accumulations)); ``source`` says where the
    numbers come from ("spectrometer", "estimated" or "given").
    """

    gain: float = 1.0
    read: float = 0.0
    source: str = "given"

    def variance(self, mean: np.ndarray) -> np.ndarray:
        """Expected variance (counts²) of pixels whose expected counts are ``mean``; never below 1e-6."""
        mean = np.asarray(mean, dtype=float)
        return np.maximum(self.gain * np.clip(mean, 0.0, None) + self.read**2, 1e-6)


def estimate_noise(
    expected: np.ndarray, residuals: np.ndarray, *, leverage: np.ndarray | float = 0.0
) -> NoiseModel:
    """Noise model fitted to squared residuals: E[r²] = (gain·m + read²)·(1 − h) over every pixel given.

    ``expected`` (m, counts) and ``residuals`` (data − m) of one or many spectra (same shape); pool a whole
    map for a stable estimate. ``leverage`` h (same shape, or a number such as p/n) corrects for what the fit
    took out of each residual: a narrow peak's few pixels, which alone tell gain from read noise, are fitted
    closely. Iteratively reweighted (the variance of r² is 2·var²), both coefficients kept >= 0.
    """
    m = np.clip(np.ravel(np.asarray(expected, dtype=float)), 0.0, None)
    h = np.ravel(np.broadcast_to(np.asarray(leverage, dtype=float), np.shape(expected)))
    r2 = np.ravel(np.asarray(residuals, dtype=float)) ** 2 / np.clip(1.0 - h, 0.05, 1.0)
    ok = np.isfinite(m) & np.isfinite(r2)
    m, r2 = m[ok], r2[ok]
    if m.size < 3:
        return NoiseModel(1.0, 0.0, "estimated")
    var = np.full(m.size, max(float(np.median(r2)) / 0.455, 1e-6))  # median of chi²(1) is 0.455
    gain, c = 1.0, 0.0
    for _ in range(5):
        use = r2 < 25.0 * var  # a cosmic ray is no noise: trimmed (a 5-sigma cut loses 6e-7 of Gaussian r²)
        w = 1.0 / var[use]
        design = np.column_stack([m[use] * w, w])
        (gain, c), _ = nnls(design, r2[use] * w)
        var = np.maximum(gain * m + c, 1e-6)
    return NoiseModel(float(gain), float(np.sqrt(c)), "estimated")


@dataclass(frozen=True)
class SiFit:
    """Result of one fit: c-Si and a-Si band parameters with 1-sigma errors, and Xc.

    ``c_*``: Lorentzian (position cm-1, FWHM cm-1, area counts·cm-1); ``a_*``: Gaussian; ``c_significant``:
    the c-Si area exceeds :data:`SIGNIFICANCE` sigma (otherwise position and width are NaN: they mean nothing
    without a peak). ``xc`` is the crystalline fraction (0..1) for the ``y`` used, only where the c-Si band is
    significant; elsewhere ``xc_upper`` is its one-sided 95 % upper limit (with the c-Si area raised by
    :data:`UPPER_LIMIT_Z` sigma), NaN when there is no Si band at all. ``redchi`` is chi-square per degree of
    freedom with the noise model (about 1 when model and noise are right); ``noise_gain``/``noise_read`` the
    noise model used (counts per electron, counts rms); ``n_outliers`` pixels the fit dropped as cosmic rays.

    A band is present when its area exceeds :data:`SIGNIFICANCE` sigma in the full fit (``c_significant``,
    ``a_significant``). Where one is not, the full model's band fits noise and has no minimum of its own:
    the result is then the reduced model's (c-Si area held at 0; a-Si with its nominal shape), a
    deterministic function of the data, and ``c_area_upper``/``a_area_upper`` are the one-sided 95 % upper
    limits of the absent band's area (NaN where the band is present); see :func:`absent_band_results`.
    """

    c_position: float
    c_position_err: float
    c_fwhm: float
    c_fwhm_err: float
    c_area: float
    c_area_err: float
    a_position: float
    a_position_err: float
    a_fwhm: float
    a_fwhm_err: float
    a_area: float
    a_area_err: float
    xc: float
    xc_err: float
    y: float
    c_significant: bool
    redchi: float
    success: bool
    xc_upper: float = NAN
    noise_gain: float = NAN
    noise_read: float = NAN
    n_outliers: int = 0
    a_significant: bool = False
    c_area_upper: float = NAN
    a_area_upper: float = NAN

    def as_dict(self) -> dict:
        return asdict(self)


def lorentzian(x: np.ndarray, area: float, center: float, fwhm: float) -> np.ndarray:
    """Area-normalized Lorentzian (area in counts·cm-1, center and FWHM in cm-1)."""
    hw = 0.5 * fwhm
    return area / np.pi * hw / ((x - center) ** 2 + hw * hw)


def gaussian(x: np.ndarray, area: float, center: float, fwhm: float) -> np.ndarray:
    """Area-normalized Gaussian (area in counts·cm-1, center and FWHM in cm-1)."""
    s = fwhm * _SIGMA_PER_FWHM
    return area / (s * np.sqrt(2.0 * np.pi)) * np.exp(-0.5 * ((x - center) / s) ** 2)


def si_model(x: np.ndarray, params: np.ndarray) -> np.ndarray:
    """c-Si Lorentzian + a-Si Gaussian + linear background; params = (Ac, xc, wc, Aa, xa, wa, b0, b1)."""
    ac, xc, wc, aa, xa, wa, b0, b1 = params
    return lorentzian(x, ac, xc, wc) + gaussian(x, aa, xa, wa) + b0 + b1 * (x - _REF_CM1)


def crystalline_fraction(
    ic: float | np.ndarray,
    ia: float | np.ndarray,
    y: float = 0.8,
    ic_err: float | np.ndarray | None = None,
    ia_err: float | np.ndarray | None = None,
    *,
    min_snr: float = SIGNIFICANCE,
):
    """Xc = Ic / (Ic + y·Ia) (areas); NaN where the denominator is not positive.

    With the area errors given, also NaN where the c-Si area is not above ``min_snr`` times its error: Xc
    of a band lost in the noise would be a ratio of noise (see :func:`xc_upper_limit` for those pixels). A
    highly crystalline pixel (a-Si area about zero, even negative within its error) keeps its Xc.
    ``ia_err`` is
    accepted for symmetry, not needed. NaN errors (a failed covariance) do not veto.
    """
    ic = np.asarray(ic, dtype=float)
    ia = np.asarray(ia, dtype=float)
    den = ic + y * np.clip(ia, 0.0, None)
    ok = den > 0
    if ic_err is not None:
        ok &= ~(ic <= min_snr * np.asarray(ic_err, dtype=float))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(ok, ic / np.where(ok, den, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def xc_upper_limit(
    ic: float | np.ndarray,
    ia: float | np.ndarray,
    y: float,
    ic_err: float | np.ndarray,
    ia_err: float | np.ndarray,
    *,
    z: float = UPPER_LIMIT_Z,
    min_snr: float = SIGNIFICANCE,
):
    """One-sided upper limit of Xc where the c-Si band is not significant: Xc with Ic raised to
    max(Ic, 0) + ``z``·σ(Ic) (z = 1.645: 95 % confidence). NaN where c-Si is significant (Xc itself is then
    defined) and where the a-Si band is not significant either (no Si in the spot: no limit to give)."""
    ic = np.asarray(ic, dtype=float)
    ia = np.asarray(ia, dtype=float)
    ic_err = np.asarray(ic_err, dtype=float)
    ia_err = np.asarray(ia_err, dtype=float)
    hi = np.clip(ic, 0.0, None) + z * ic_err
    ok = ~(ic > min_snr * ic_err) & (ia > min_snr * ia_err) & np.isfinite(hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(ok, hi / np.where(ok, hi + y * ia, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def _initial_guess(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    s = median_filter(s, size=3, mode="nearest")  # a one-pixel cosmic ray must not pass for the c-Si peak
    step = float(np.median(np.diff(x))) if x.size > 1 else 1.0
    edge = max(3, x.size // 20)
    b1 = (np.median(s[-edge:]) - np.median(s[:edge])) / max(x[-1] - x[0], 1e-9)
    b0 = float(np.median(s[:edge])) + b1 * (_REF_CM1 - x[0])
    flat = s - (b0 + b1 * (x - _REF_CM1))
    in_c = (x >= C_CENTER[0]) & (x <= C_CENTER[1])
    in_a = (x >= 455.0) & (x <= 495.0)
    a_level = max(float(np.median(flat[in_a])) if in_a.any() else 0.0, 0.0)
    aa = a_level * 70.0 * _SIGMA_PER_FWHM * np.sqrt(2 * np.pi)  # Gaussian area from its height
    if in_c.any():
        k = int(np.argmax(flat[in_c]))
        xc0 = float(x[in_c][k])
        c_height = max(float(flat[in_c][k]) - a_level * 0.5, 0.0)
    else:
        xc0, c_height = 520.0, 0.0
    wc0 = max(4.0, 2.0 * step)
    ac = c_height * np.pi * wc0 / 2.0
    return np.array([ac, xc0, wc0, aa, 475.0, 70.0, b0, b1])


_LO = np.array([0.0, C_CENTER[0], C_FWHM[0], 0.0, A_CENTER[0], A_FWHM[0], -np.inf, -np.inf])
_HI = np.array([np.inf, C_CENTER[1], C_FWHM[1], np.inf, A_CENTER[1], A_FWHM[1], np.inf, np.inf])


def _window(axis: np.ndarray, spectrum: np.ndarray, window: tuple[float, float]) -> tuple[np.ndarray, ...]:
    x = np.asarray(axis, dtype=float)
    s = np.asarray(spectrum, dtype=float)
    sel = (x >= window[0]) & (x <= window[1]) & np.isfinite(s)
    return x[sel], s[sel]


def _solve(
    x: np.ndarray, sn: np.ndarray, p0: np.ndarray, sigma: np.ndarray | None, max_nfev: int = 400
) -> object:
    """Bounded trust-region fit of the scaled spectrum ``sn``, residuals divided by ``sigma`` if given."""
    p0 = np.clip(p0, _LO, _HI)
    p0[[0, 3]] = np.maximum(p0[[0, 3]], 1e-6)  # strictly inside the bounds, as trf requires
    p0 = np.minimum(p0, np.where(np.isfinite(_HI), _HI - 1e-9, np.inf))
    p0 = np.maximum(p0, np.where(np.isfinite(_LO), _LO + 1e-9, -np.inf))
    inv = np.ones_like(x) if sigma is None else 1.0 / sigma
    return least_squares(
        lambda p: (si_model(x, p) - sn) * inv, p0, jac=lambda p: _model_jac(x, p) * inv[:, None],
        bounds=(_LO, _HI), method="trf", x_scale="jac", max_nfev=max_nfev,
    )


def _model_jac(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """d si_model / d params, (n, 8), analytic (4x fewer model evaluations than finite differences)."""
    ac, xc, wc, aa, xa, wa, _, _ = p
    hw = 0.5 * wc
    d = x - xc
    den = d * d + hw * hw
    lor = hw / (np.pi * den)  # per unit area
    j = np.empty((x.size, 8))
    j[:, 0] = lor
    j[:, 1] = ac * lor * 2.0 * d / den
    j[:, 2] = ac / np.pi * 0.5 * (den - 2.0 * hw * hw) / (den * den)
    sg = wa * _SIGMA_PER_FWHM
    u = (x - xa) / sg
    gau = np.exp(-0.5 * u * u) / (sg * np.sqrt(2.0 * np.pi))
    j[:, 3] = gau
    j[:, 4] = aa * gau * u / sg
    j[:, 5] = aa * gau * (u * u - 1.0) / wa
    j[:, 6] = 1.0
    j[:, 7] = x - _REF_CM1
    return j


def _leverage(jac: np.ndarray) -> np.ndarray:
    """Diagonal of the hat matrix J (JᵀJ)⁺ Jᵀ: how much of each residual the fit took out."""
    return np.clip(np.einsum("ij,jk,ik->i", jac, np.linalg.pinv(jac.T @ jac), jac), 0.0, 1.0)


def first_pass(
    axis: np.ndarray, spectrum: np.ndarray, *, window: tuple[float, float] = FIT_WINDOW_CM1
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Unweighted fit inside ``window``: (expected counts, residuals, leverage) on the window's pixels, or
    None. What :func:`estimate_noise` needs; :func:`~nanocell_daq.analysis.raman_map.fit_map` pools it."""
    x, s = _window(axis, spectrum, window)
    if x.size < 12:
        return None
    scale = float(np.max(np.abs(s))) or 1.0
    try:
        res = _solve(x, s / scale, _initial_guess(x, s / scale), None)
        lev = _leverage(res.jac)
    except (ValueError, np.linalg.LinAlgError):
        return None
    model = si_model(x, res.x) * scale
    return model, s - model, lev


def fit_si(
    axis: np.ndarray,
    spectrum: np.ndarray,
    *,
    y: float = 0.8,
    window: tuple[float, float] = FIT_WINDOW_CM1,
    despike: bool = False,
    noise: NoiseModel | None = None,
    reject_outliers: bool = True,
) -> SiFit:
    """Fit the c-Si + a-Si bands of one spectrum (``axis`` cm-1, ``spectrum`` counts) inside ``window``.

    Weighted by ``noise`` (:class:`NoiseModel`; None: estimated from this spectrum's residuals, see the
    module doc). With ``reject_outliers``, pixels more than :data:`OUTLIER_Z` sigma (studentized) above the
    fit are cosmic rays: dropped one at a time (at most :data:`MAX_OUTLIERS`) and the fit redone;
    ``n_outliers`` says how many. This is the peak-protected despiking near c-Si, where a spike and a sharp
    band look alike to a filter but not to the band's shape. 1-sigma errors are the weighted covariance times
    max(1, reduced chi-square); over ensembles of Poisson + read-noise spectra they cover the truth 62-72 %
    of the time (tests/analysis/test_raman_ensembles.py). A few ms: the data are scaled to order one and the
    bounded trust-region solver starts from a guess read off the spectrum.
    """
    s_all = np.asarray(spectrum, dtype=float)
    if despike:
        s_all = remove_spikes(s_all, axis=axis, protect=SI_PEAK_REGION_CM1)[0]
    return fit_from_start(fit_start(axis, s_all, window), y=y, noise=noise, reject_outliers=reject_outliers)


def fit_start(axis: np.ndarray, spectrum: np.ndarray, window: tuple[float, float]) -> tuple | None:
    """The first, unweighted stage of :func:`fit_si` (its fit stops at 100 evaluations): (pixels, counts,
    scale, solver result or the error it raised) in ``window``, None for too few pixels. The batch fit
    pools its residuals (as :func:`first_pass` where it converged) before :func:`fit_from_start` goes on."""
    x, s = _window(axis, spectrum, window)
    if x.size < 12:
        return None
    scale = float(np.max(np.abs(s))) or 1.0
    sn = s / scale
    try:
        res = _solve(x, sn, _initial_guess(x, sn), None, max_nfev=100)  # a start (a spike makes it slow)
    except (ValueError, np.linalg.LinAlgError) as exc:
        return x, s, scale, exc
    return x, s, scale, res


def fit_from_start(
    start: tuple | None, *, y: float, noise: NoiseModel | None, reject_outliers: bool = True
) -> SiFit:
    """:func:`fit_si` from its first stage (:func:`fit_start`) on."""
    if start is None or isinstance(start[3], Exception):
        return _failed(y)
    x, s, scale, res = start
    sn = s / scale
    keep = np.ones(x.size, dtype=bool)
    n_out = 0
    estimated = noise is None
    try:
        if estimated:
            model = si_model(x, res.x) * scale
            noise = estimate_noise(model, s - model, leverage=_leverage(res.jac))
        for _ in range(2):  # weights from the model, refined once (a spike makes these slow: capped here)
            sigma = np.sqrt(noise.variance(si_model(x, res.x) * scale)) / scale
            res = _solve(x, sn, res.x.copy(), sigma, max_nfev=60)
        while reject_outliers and n_out < MAX_OUTLIERS:
            # a cosmic ray the despiker left (on the c-Si peak): the fit without that pixel is better by
            # more than OUTLIER_Z² in chi-square (a spike cannot be a band: the c-Si width has a floor)
            sigma = np.sqrt(noise.variance(si_model(x, res.x) * scale)) / scale
            chi2 = float(np.sum(res.fun**2))
            z = np.where(keep, (sn - si_model(x, res.x)) / sigma, -np.inf)
            # candidates: the worst residuals, and the tops of the c-Si region when the fitted peak is as
            # narrow as allowed (a spike on the peak pulls the fit onto itself and hides its residual)
            cands = [int(k) for k in np.argsort(z)[::-1][:2] if z[k] > 4.0]
            if res.x[2] < C_FWHM[0] + 0.3:
                in_c = np.nonzero(keep & (x >= C_CENTER[0]) & (x <= C_CENTER[1]))[0]
                cands += [int(k) for k in in_c[np.argsort(sn[in_c])[::-1][:2]] if k not in cands]
            best = None
            for k in cands:
                trial = keep.copy()
                trial[k] = False
                start = _initial_guess(x[trial], sn[trial])
                alt = _solve(x[trial], sn[trial], start, sigma[trial], max_nfev=80)
                gain_chi2 = chi2 - float(np.sum(alt.fun**2))
                if gain_chi2 > OUTLIER_Z**2 and (best is None or gain_chi2 > best[0]):
                    best = (gain_chi2, trial, alt)
            if best is None:
                break
            _, keep, res = best
            n_out += 1
            if estimated:  # the spike (and the fit it spoilt) inflated the first estimate
                model = si_model(x[keep], res.x) * scale
                noise = estimate_noise(model, s[keep] - model, leverage=_leverage(res.jac))
            sigma = np.sqrt(noise.variance(si_model(x, res.x) * scale)) / scale
            res = _solve(x[keep], sn[keep], res.x.copy(), sigma[keep], max_nfev=60)
        sigma = np.sqrt(noise.variance(si_model(x, res.x) * scale)) / scale
        res = _solve(x[keep], sn[keep], res.x.copy(), sigma[keep])
    except (ValueError, np.linalg.LinAlgError):
        return _failed(y)
    fit = fit_result(
        res.x, res.fun, res.jac, scale=scale, y=y, noise=noise, n_outliers=n_out, success=bool(res.success)
    )
    a_present = fit.a_significant
    if fit.c_significant and a_present:
        return fit
    try:  # a band is absent: the reduced model without it (its unique minimum) is the result
        xk, snk = x[keep], sn[keep]
        p, sigma, present = reduced_fit(xk, snk, res.x, scale, noise, (fit.c_significant, a_present))
    except (ValueError, np.linalg.LinAlgError):
        return _failed(y)
    inv = 1.0 / sigma
    r = (snk - si_model(xk, p)) * inv
    jt = (_model_jac(xk, p) * inv[:, None]).T
    return absent_band_results(
        xk, p[None], r[None], jt[None], inv[None], scale=np.array([scale]), present_c=np.array([present[0]]),
        present_a=np.array([present[1]]), y=y, gain=np.array([noise.gain]), read=np.array([noise.read]),
        n_outliers=n_out, success=fit.success,
    )[0]


def _solve_free(x: np.ndarray, sn: np.ndarray, p: np.ndarray, sigma: np.ndarray, free: np.ndarray) -> object:
    """:func:`_solve` of the parameters ``free`` only (the others held at their values in ``p``)."""
    p0 = np.clip(p, _LO, _HI)
    p0[[0, 3]] = np.maximum(p0[[0, 3]], 1e-6)
    p0 = np.minimum(p0, np.where(np.isfinite(_HI), _HI - 1e-9, np.inf))
    p0 = np.maximum(p0, np.where(np.isfinite(_LO), _LO + 1e-9, -np.inf))
    base = np.where(free, p0, p)
    inv = 1.0 / sigma

    def full(q: np.ndarray) -> np.ndarray:
        out = base.copy()
        out[free] = q
        return out

    return least_squares(
        lambda q: (si_model(x, full(q)) - sn) * inv, p0[free],
        jac=lambda q: _model_jac(x, full(q))[:, free] * inv[:, None],
        bounds=(_LO[free], _HI[free]), method="trf", x_scale="jac", ftol=1e-10,
    ), full


REDUCED_ROUNDS = 3
"""Weighted fits of a reduced model, each with the weights of the one before (the model's own weights)."""


def reduced_fit(
    x: np.ndarray, sn: np.ndarray, p_full: np.ndarray, scale: float, noise: NoiseModel,
    present: tuple[bool, bool],
) -> tuple[np.ndarray, np.ndarray, tuple[bool, bool]]:
    """The model without the absent bands (``present``: c-Si, a-Si) fitted to the scaled spectrum ``sn``:
    (parameters with the absent bands' areas 0 and their shapes nominal, the sigma of its last fit, the bands
    present). Starts from the full fit's ``p_full``; :data:`REDUCED_ROUNDS` fits, weights from the model. A
    band kept that is no longer above :data:`SIGNIFICANCE` sigma in the reduced model is dropped too."""
    c, a = present
    while True:
        free = _FREE[(c, a)]
        p = np.where(free, p_full, _NOMINAL)
        if not a:  # its area at the nominal shape, from where the full fit's band put it (about, not exactly)
            p[3] = max(p_full[3], 1e-6)
        for _ in range(REDUCED_ROUNDS):
            sigma = np.sqrt(noise.variance(si_model(x, p) * scale)) / scale
            res, full = _solve_free(x, sn, p, sigma, free)
            p = full(res.x)
        if not (c or a):
            return p, sigma, (c, a)
        inv = 1.0 / sigma
        r = (sn - si_model(x, p)) * inv
        jt = (_model_jac(x, p) * inv[:, None]).T
        cov = masked_inverse(jt[None], free[None])[0]
        redchi = float(r @ r) / max(x.size - int(free.sum()), 1)
        err = np.sqrt(np.clip(np.diag(cov), 0.0, None) * max(redchi, 1.0))
        c_ok, a_ok = c and p[0] > SIGNIFICANCE * err[0], a and p[3] > SIGNIFICANCE * err[3]
        if (c_ok, a_ok) == (c, a):
            return p, sigma, (c, a)
        c, a = bool(c_ok), bool(a_ok)
        p_full = p


def masked_inverse(jt: np.ndarray, free: np.ndarray) -> np.ndarray:
    """(JᵀJ)⁺ of the ``free`` parameters (B, 8) from the transposed weighted Jacobians ``jt`` (B, 8, n); rows
    and columns of the parameters held fixed are 0."""
    normal = jt @ jt.transpose(0, 2, 1)
    mask = free[:, :, None] & free[:, None, :]
    out = np.linalg.pinv(np.where(mask, normal, 0.0))
    return np.where(mask, out, 0.0)


def _scan_upper(
    x: np.ndarray, r: np.ndarray, jt: np.ndarray, cov: np.ndarray, inv: np.ndarray, factor: np.ndarray,
    band, centers: np.ndarray, fwhm: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(one-sided upper limit, 1-sigma error) of the area of a band of width ``fwhm`` added to the fitted
    model (weighted residuals ``r``, Jacobian ``jt``, its (JᵀJ)⁺ ``cov``): the linear estimate of its area
    at each of ``centers``, taken where it is most significant; upper limit max(area, 0) + z·sigma."""
    jr = np.einsum("bkn,bn->bk", jt, r)
    best_z = np.full(r.shape[0], -np.inf)
    best_a, best_s = np.zeros(r.shape[0]), np.full(r.shape[0], np.nan)
    for g in centers:
        fw = band(x, 1.0, g, fwhm) * inv
        jf = np.einsum("bkn,bn->bk", jt, fw)
        t = np.einsum("bkl,bl->bk", cov, jf)
        ff = np.einsum("bn,bn->b", fw, fw) - np.einsum("bk,bk->b", jf, t)
        fr = np.einsum("bn,bn->b", fw, r) - np.einsum("bk,bk->b", t, jr)
        with np.errstate(invalid="ignore", divide="ignore"):
            area = fr / ff
            sig = np.sqrt(factor / ff)
            z = np.where(ff > 0, area / sig, -np.inf)
        better = z > best_z
        best_z = np.where(better, z, best_z)
        best_a, best_s = np.where(better, area, best_a), np.where(better, sig, best_s)
    return np.clip(best_a, 0.0, None) + UPPER_LIMIT_Z * best_s, best_s


def absent_band_results(
    x: np.ndarray, p: np.ndarray, r: np.ndarray, jt: np.ndarray, inv: np.ndarray, *, scale: np.ndarray,
    present_c: np.ndarray, present_a: np.ndarray, y: float, gain: np.ndarray, read: np.ndarray,
    n_outliers: int | np.ndarray = 0, success: bool | np.ndarray = True,
) -> list[SiFit]:
    """:class:`SiFit` of reduced-model fits (B of them; shared by :func:`fit_si` and the batch fit):
    parameters ``p`` (B, 8, scaled), weighted residuals ``r`` and transposed weighted Jacobian ``jt`` (B, 8,
    n) on ``x``, the weights ``inv`` (1/sigma, B x n), the bands present. Position and width of an absent
    band are NaN. An absent c-Si band has area 0 and as error the 1-sigma error of the area of a band of
    :data:`C_NOMINAL_FWHM` added to the model where it is most significant (:data:`C_SCAN_CM1`); an absent
    a-Si band the area fitted with its nominal shape; their one-sided 95 % upper limits are
    ``c_area_upper``/``a_area_upper`` (max(area, 0) + 1.645 sigma). Errors are times max(1, reduced
    chi-square) as in :func:`fit_result`."""
    n_b = p.shape[0]
    present_c, present_a = np.asarray(present_c, dtype=bool), np.asarray(present_a, dtype=bool)
    free = np.array([_FREE[(bool(c), bool(a))] for c, a in zip(present_c, present_a, strict=True)])
    free = free.reshape(n_b, 8)
    redchi = np.einsum("bn,bn->b", r, r) / np.maximum(r.shape[1] - free.sum(axis=1), 1)
    cov0 = masked_inverse(jt, free)
    factor = np.maximum(redchi, 1.0)
    err = np.sqrt(np.clip(np.einsum("bii->bi", cov0), 0.0, None) * factor[:, None])
    c_up, c_err = _scan_upper(x, r, jt, cov0, inv, factor, lorentzian, C_SCAN_CM1, C_NOMINAL_FWHM)
    ac = np.where(present_c, p[:, 0], 0.0) * scale
    aa = p[:, 3] * scale
    ac_err = np.where(present_c, err[:, 0], c_err) * scale
    aa_err = err[:, 3] * scale
    xc = np.where(present_c, np.atleast_1d(crystalline_fraction(ac, aa, y)), NAN)
    var_c = np.where(present_c, cov0[:, 0, 0] * factor, 0.0) * scale**2
    var_a = cov0[:, 3, 3] * factor * scale**2
    cov_ca = cov0[:, 0, 3] * factor * scale**2
    den = ac + y * aa
    with np.errstate(invalid="ignore", divide="ignore"):
        d_ic, d_ia = y * aa / den**2, -y * ac / den**2
        var_xc = d_ic**2 * var_c + d_ia**2 * var_a + 2 * d_ic * d_ia * cov_ca
        xc_err = np.where(present_c & (den > 0), np.sqrt(np.clip(var_xc, 0.0, None)), NAN)
        c_upper = np.where(present_c, NAN, c_up * scale)
        xc_upper = np.where(~present_c & present_a, c_upper / (c_upper + y * aa), NAN)
    a_upper = np.where(present_a, NAN, aa + UPPER_LIMIT_Z * aa_err)
    out = []
    n_out = np.broadcast_to(np.asarray(n_outliers), (n_b,))
    ok = np.broadcast_to(np.asarray(success, dtype=bool), (n_b,))
    for k in range(n_b):
        c, a = bool(present_c[k]), bool(present_a[k])
        out.append(SiFit(
            c_position=float(p[k, 1]) if c else NAN, c_position_err=float(err[k, 1]) if c else NAN,
            c_fwhm=float(p[k, 2]) if c else NAN, c_fwhm_err=float(err[k, 2]) if c else NAN,
            c_area=float(ac[k]), c_area_err=float(ac_err[k]),
            a_position=float(p[k, 4]) if a else NAN, a_position_err=float(err[k, 4]) if a else NAN,
            a_fwhm=float(p[k, 5]) if a else NAN, a_fwhm_err=float(err[k, 5]) if a else NAN,
            a_area=float(aa[k]), a_area_err=float(aa_err[k]), xc=float(xc[k]), xc_err=float(xc_err[k]),
            y=float(y), c_significant=c, redchi=float(redchi[k]), success=bool(ok[k]),
            xc_upper=float(xc_upper[k]), noise_gain=float(gain[k]), noise_read=float(read[k]),
            n_outliers=int(n_out[k]), a_significant=a, c_area_upper=float(c_upper[k]),
            a_area_upper=float(a_upper[k]),
        ))
    return out


def fit_result(
    p: np.ndarray, fun: np.ndarray, jac: np.ndarray, *, scale: float, y: float, noise: NoiseModel,
    n_outliers: int, success: bool,
) -> SiFit:
    """:class:`SiFit` of a converged weighted fit of the scaled spectrum: parameters ``p``, weighted residuals
    ``fun`` and Jacobian ``jac`` on the pixels fitted (shared by :func:`fit_si` and the batch fit)."""
    dof = max(fun.size - p.size, 1)
    redchi = float(np.sum(fun**2) / dof)
    try:
        cov = np.linalg.pinv(jac.T @ jac) * max(redchi, 1.0)
        err = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    except np.linalg.LinAlgError:
        cov = np.full((p.size, p.size), np.nan)
        err = np.full(p.size, np.nan)
    ac, aa = p[0] * scale, p[3] * scale
    ac_err, aa_err = err[0] * scale, err[3] * scale
    significant = bool(ac > SIGNIFICANCE * ac_err and ac > 0)
    xc = crystalline_fraction(ac, aa, y, ac_err, aa_err)
    xc_err = (
        _xc_error(ac, aa, cov[0, 0] * scale**2, cov[3, 3] * scale**2, cov_ca=cov[0, 3] * scale**2, y=y)
        if significant
        else NAN
    )
    c_pos, c_pos_err = (p[1], err[1]) if significant else (NAN, NAN)
    c_w, c_w_err = (p[2], err[2]) if significant else (NAN, NAN)
    return SiFit(
        c_position=float(c_pos),
        c_position_err=float(c_pos_err),
        c_fwhm=float(c_w),
        c_fwhm_err=float(c_w_err),
        c_area=float(ac),
        c_area_err=float(ac_err),
        a_position=float(p[4]),
        a_position_err=float(err[4]),
        a_fwhm=float(p[5]),
        a_fwhm_err=float(err[5]),
        a_area=float(aa),
        a_area_err=float(aa_err),
        xc=float(xc),
        xc_err=float(xc_err),
        y=float(y),
        c_significant=significant,
        redchi=redchi,
        success=success,
        xc_upper=float(xc_upper_limit(ac, aa, y, ac_err, aa_err)),
        noise_gain=float(noise.gain),
        noise_read=float(noise.read),
        n_outliers=n_outliers,
        a_significant=bool(aa > SIGNIFICANCE * aa_err),
    )


def _xc_error(ic: float, ia: float, var_c: float, var_a: float, *, cov_ca: float, y: float) -> float:
    """1-sigma error of Xc = Ic/(Ic + y·Ia) by linear propagation."""
    ia = max(ia, 0.0)
    den = ic + y * ia
    if not den > 0:
        return NAN
    d_ic = y * ia / den**2
    d_ia = -y * ic / den**2
    var = d_ic**2 * var_c + d_ia**2 * var_a + 2 * d_ic * d_ia * cov_ca
    return float(np.sqrt(max(var, 0.0)))


def _failed(y: float) -> SiFit:
    return SiFit(
        NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, float(y), False, NAN, False,
    )


SI_REFERENCE_CM1 = 520.7
"""Raman shift of bulk c-Si at room temperature (cm-1; 520.5-520.7 in the domain notes, section 1.6)."""


def reference_offset(
    axis: np.ndarray, spectra: np.ndarray, reference_cm1: float = SI_REFERENCE_CM1
) -> tuple[float, float, float]:
    """Axis offset from spectra of a Si reference: (``reference_cm1`` minus the fitted c-Si position, that
    position, its 1-sigma error), cm-1; NaNs when no significant c-Si peak is found. Add the offset to the
    band positions measured on this axis. Two or more spectra are compared first (cosmic rays out)."""
    data = np.atleast_2d(np.asarray(spectra, dtype=float))
    if data.shape[0] >= 2:
        from nanocell_daq.analysis.raman_preprocess import combine_frames

        counts = combine_frames(data)[0]
    else:
        counts = data[0]
    fit = fit_si(axis, counts, window=(460.0, 580.0))
    if not fit.c_significant:
        return NAN, NAN, NAN
    return reference_cm1 - fit.c_position, fit.c_position, fit.c_position_err
