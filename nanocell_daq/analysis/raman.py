"""Si Raman band fits: c-Si (Lorentzian near 520 cm-1) + a-Si TO (Gaussian near 475 cm-1) + linear background.

Positions and widths (FWHM) in cm-1, intensities as integrated areas (counts·cm-1). The crystalline fraction
is Xc = Ic / (Ic + y·Ia) with y the a-Si/c-Si Raman cross-section ratio (a user setting, default 0.8).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import least_squares

from nanocell_daq.analysis.raman_preprocess import remove_spikes

NAN = float("nan")
FIT_WINDOW_CM1 = (380.0, 600.0)
_SIGMA_PER_FWHM = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
_REF_CM1 = 490.0  # background is b0 + b1·(ν − 490), keeping b0 and b1 uncorrelated-ish

# Parameter bounds (cm-1): the c-Si peak may red-shift with heating/confinement; a-Si TO sits at 460-490.
C_CENTER = (505.0, 528.0)
C_FWHM = (1.5, 25.0)
A_CENTER = (440.0, 500.0)
A_FWHM = (30.0, 120.0)


@dataclass(frozen=True)
class SiFit:
    """Result of one fit: c-Si and a-Si band parameters with 1-sigma errors, and Xc.

    ``c_*``: Lorentzian (position cm-1, FWHM cm-1, area counts·cm-1); ``a_*``: Gaussian; ``xc`` crystalline
    fraction (0..1) for the ``y`` used; ``c_significant``: the c-Si area exceeds 3 sigma (otherwise position
    and width are NaN: they mean nothing without a peak). ``redchi`` is the reduced chi-square in counts².
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
    min_snr: float = 3.0,
):
    """Xc = Ic / (Ic + y·Ia) (areas); NaN where the denominator is not positive.

    With the area errors given, also NaN where the Si signal Ic + y·Ia is below ``min_snr`` times its error:
    a lithiated wire (a-LixSi has no distinct band) or a pixel off the wire has no crystalline fraction, and
    the ratio of two noise values would read as one.
    """
    ic = np.asarray(ic, dtype=float)
    ia = np.asarray(ia, dtype=float)
    den = ic + y * ia
    ok = den > 0
    if ic_err is not None and ia_err is not None:
        noise = np.sqrt(np.asarray(ic_err, dtype=float) ** 2 + (y * np.asarray(ia_err, dtype=float)) ** 2)
        ok &= ~(den <= min_snr * noise)  # NaN errors (failed covariance) do not veto
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(ok, ic / np.where(ok, den, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def _initial_guess(x: np.ndarray, s: np.ndarray) -> np.ndarray:
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


def fit_si(
    axis: np.ndarray,
    spectrum: np.ndarray,
    *,
    y: float = 0.8,
    window: tuple[float, float] = FIT_WINDOW_CM1,
    despike: bool = False,
) -> SiFit:
    """Fit the c-Si + a-Si bands of one spectrum (``axis`` cm-1, ``spectrum`` counts) inside ``window``.

    Uncertainties are 1-sigma from the Jacobian scaled by the residual variance. Fast (a few ms): the data
    are scaled to order one and the bounded trust-region solver starts from a guess read off the spectrum.
    """
    x = np.asarray(axis, dtype=float)
    s = np.asarray(spectrum, dtype=float)
    if despike:
        s = remove_spikes(s)[0]
    sel = (x >= window[0]) & (x <= window[1]) & np.isfinite(s)
    x, s = x[sel], s[sel]
    if x.size < 12:
        return _failed(y)
    scale = float(np.max(np.abs(s))) or 1.0
    sn = s / scale
    p0 = _initial_guess(x, sn)
    lo = np.array([0.0, C_CENTER[0], C_FWHM[0], 0.0, A_CENTER[0], A_FWHM[0], -np.inf, -np.inf])
    hi = np.array([np.inf, C_CENTER[1], C_FWHM[1], np.inf, A_CENTER[1], A_FWHM[1], np.inf, np.inf])
    p0 = np.clip(p0, lo, hi)
    p0[[0, 3]] = np.maximum(p0[[0, 3]], 1e-6)  # strictly inside the bounds, as trf requires
    try:
        res = least_squares(
            lambda p: si_model(x, p) - sn, p0, bounds=(lo, hi), method="trf", x_scale="jac", max_nfev=400
        )
    except (ValueError, np.linalg.LinAlgError):
        return _failed(y)
    p = res.x
    dof = max(x.size - p.size, 1)
    redchi = float(np.sum(res.fun**2) / dof)
    jac = res.jac
    try:
        cov = np.linalg.pinv(jac.T @ jac) * redchi
        err = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    except np.linalg.LinAlgError:
        cov = np.full((p.size, p.size), np.nan)
        err = np.full(p.size, np.nan)
    ac, aa = p[0] * scale, p[3] * scale
    ac_err, aa_err = err[0] * scale, err[3] * scale
    significant = bool(ac > 3.0 * ac_err and ac > 0)
    xc = crystalline_fraction(ac, aa, y, ac_err, aa_err)
    xc_err = _xc_error(ac, aa, cov[0, 0] * scale**2, cov[3, 3] * scale**2, cov_ca=cov[0, 3] * scale**2, y=y)
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
        redchi=redchi * scale**2,
        success=bool(res.success),
    )


def _xc_error(ic: float, ia: float, var_c: float, var_a: float, *, cov_ca: float, y: float) -> float:
    """1-sigma error of Xc = Ic/(Ic + y·Ia) by linear propagation."""
    den = ic + y * ia
    if not den > 0:
        return NAN
    d_ic = y * ia / den**2
    d_ia = -y * ic / den**2
    var = d_ic**2 * var_c + d_ia**2 * var_a + 2 * d_ic * d_ia * cov_ca
    return float(np.sqrt(max(var, 0.0)))


def _failed(y: float) -> SiFit:
    return SiFit(
        NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, float(y), False, NAN, False
    )
