"""Raman preprocessing: cosmic-ray (spike) removal, and baselines (polynomial, ALS).

Spectra are 1-D (n_wavenumbers) or 2-D (n_spectra, n_wavenumbers) arrays of counts; axes in cm-1.

Cosmic rays are found three ways, best first: by comparing frames of the same pixel (:func:`combine_frames`,
when the map took two or more read-outs per pixel); by a modified z-score of the first difference of the
square-root spectrum (Whitaker & Hayes 2018 on variance-stabilised counts, :func:`spike_mask`), away from
``protect`` regions (the c-Si peak, a sharp band a single frame cannot tell from a spike); and there by the
fit itself (:func:`nanocell_daq.analysis.raman.fit_si` drops pixels far above the c-Si Lorentzian and refits).
"""


from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import spsolve

# Regions (cm-1) holding the Si bands; baselines are fitted away from them.
SI_BANDS_CM1: tuple[tuple[float, float], ...] = ((405.0, 545.0), (920.0, 1020.0))
SI_PEAK_REGION_CM1: tuple[tuple[float, float], ...] = ((497.0, 536.0),)
"""Where the c-Si peak may sit (505-528 cm-1) plus 8 cm-1: spikes there are left to the peak fit."""


def modified_z(values: np.ndarray) -> np.ndarray:
    """Modified z-score 0.6745·(x − median)/MAD along the last axis (Iglewicz & Hoaglin)."""
    med = np.median(values, axis=-1, keepdims=True)
    mad = np.median(np.abs(values - med), axis=-1, keepdims=True)
    mad = np.where(mad > 0, mad, np.finfo(float).tiny)
    return 0.6745 * (values - med) / mad


def spike_mask(
    spectra: np.ndarray,
    threshold: float = 6.0,
    max_width: int = 3,
    sharpness: float = 0.75,
    *,
    axis: np.ndarray | None = None,
    protect: Sequence[tuple[float, float]] = (),
) -> np.ndarray:
    """Boolean mask of cosmic-ray pixels (same shape as ``spectra``).

    Whitaker & Hayes (2018) on sqrt(counts), where shot noise has one width whatever the level (otherwise the
    quiet flat parts set the scale and the noise of a strong band reads as spikes): a pixel is a candidate
    where the modified z-score of the first difference exceeds ``threshold``. A candidate run (joined over
    gaps of one pixel, at most ``max_width`` pixels wide) is kept only if it is sharper than any
    instrument-broadened band: its largest one-pixel jump must reach ``sharpness`` times its height above the
    local median. Runs touching a ``protect`` region (cm-1, needs ``axis``) are not flagged here.
    """
    y = np.atleast_2d(np.asarray(spectra, dtype=float))
    mask = np.zeros(y.shape, dtype=bool)
    if y.shape[1] < 5:
        return mask.reshape(np.shape(spectra))
    guarded = (
        ~region_mask(axis, protect) if axis is not None and protect else np.zeros(y.shape[1], dtype=bool)
    )
    z = np.abs(modified_z(np.diff(np.sqrt(np.clip(y, 0.0, None) + 1.0), axis=1)))
    flagged = z > threshold
    # a run is made of candidate pixels and one-pixel gaps: none can leave the protected pixels when all the
    # pixels within one of a flagged jump are protected (the c-Si peak's own edges), so those rows are skipped
    g = np.pad(~guarded, (1, 2))
    reach = (g[:-3] | g[1:-2] | g[2:-1] | g[3:])[: y.shape[1] - 1]
    rows = np.nonzero((flagged & reach).any(axis=1))[0]
    half = max(2 * max_width, 5)
    for r in rows:
        cand = np.zeros(y.shape[1], dtype=bool)
        idx = np.nonzero(flagged[r])[0]
        cand[idx] = True
        cand[idx + 1] = True  # a jump between k and k+1 implicates both pixels
        for start, stop in _runs(cand):
            lo, hi = max(0, start - half), min(y.shape[1], stop + half)
            around = np.concatenate([y[r, lo:start], y[r, stop:hi]])
            if around.size == 0:
                continue
            base = float(np.median(around))
            seg = y[r, start:stop]
            peak = int(np.argmax(seg)) + start
            height = y[r, peak] - base
            if height <= 0:
                continue
            local = y[r, max(0, start - 1) : min(y.shape[1], stop + 1)]
            jump = float(np.max(np.abs(np.diff(local)))) if local.size > 1 else 0.0
            # The spike proper: pixels in the run that stand clearly above the surroundings.
            core = np.arange(start, stop)[seg - base > 0.25 * height]
            if core.size <= max_width and jump >= sharpness * height and not guarded[core].any():
                mask[r, core] = True
    return mask.reshape(np.shape(spectra))


def _runs(flags: np.ndarray, join_gap: int = 1) -> list[tuple[int, int]]:
    """[start, stop) index ranges of True runs, joining runs separated by <= ``join_gap`` False pixels."""
    idx = np.nonzero(flags)[0]
    if idx.size == 0:
        return []
    breaks = np.nonzero(np.diff(idx) > join_gap + 1)[0]
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    stops = np.concatenate([idx[breaks], [idx[-1]]]) + 1
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def remove_spikes(
    spectra: np.ndarray,
    threshold: float = 6.0,
    window: int = 5,
    max_width: int = 3,
    sharpness: float = 0.75,
    *,
    axis: np.ndarray | None = None,
    protect: Sequence[tuple[float, float]] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Cosmic rays replaced by the mean of the non-spike neighbours within ±``window`` pixels.

    Returns (cleaned spectra (float64, same shape), spike mask). See :func:`spike_mask` for the detection
    (and ``axis``/``protect``).
    """
    y = np.array(spectra, dtype=float, copy=True)
    mask = spike_mask(y, threshold, max_width, sharpness, axis=axis, protect=protect)
    y2, m2 = np.atleast_2d(y), np.atleast_2d(mask)
    n = y2.shape[1]
    for r, k in zip(*np.nonzero(m2), strict=True):
        lo, hi = max(0, k - window), min(n, k + window + 1)
        good = ~m2[r, lo:hi]
        if good.any():
            y2[r, k] = float(np.mean(y2[r, lo:hi][good]))
    return y2.reshape(y.shape), mask


def combine_frames(
    frames: np.ndarray, threshold: float = 5.0, noise: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Sum of k >= 2 read-outs of one pixel (``frames``: (k, n) or (n_pixels, k, n) counts) with cosmic rays
    taken out by comparing them: a pixel of one frame more than ``threshold`` sigma above the median of the
    others is a spike and is replaced by that median. Works as well on the c-Si peak as anywhere (a band is in
    every frame, a cosmic ray in one).

    ``noise`` = (gain counts/electron, read noise counts rms per frame); None: estimated from the frame
    differences (pooled over every pixel given, see :func:`nanocell_daq.analysis.raman.estimate_noise`).
    Returns (summed counts (n) or (n_pixels, n), spike mask of the frames (same shape as ``frames``),
    (gain, read noise per frame)).
    """
    from nanocell_daq.analysis.raman import estimate_noise  # raman imports this module

    f = np.asarray(frames, dtype=float)
    single = f.ndim == 2
    f = f[None] if single else f
    if f.ndim != 3 or f.shape[1] < 2:
        raise ValueError(f"frames: expected (k >= 2, n) or (pixels, k >= 2, n), got shape {np.shape(frames)}")
    k = f.shape[1]
    # the expected level of a frame: the median of the frames, smoothed over 3 pixels where that is higher
    # (one frame's value would be low half the time and flag noise on the other; a peak top keeps its own)
    med = np.median(f, axis=1)
    pad = np.pad(med, ((0, 0), (1, 1)), mode="edge")
    smooth = (pad[:, :-2] + pad[:, 1:-1] + pad[:, 2:]) / 3.0
    level = np.maximum(med, smooth)
    if noise is None:
        # frame differences are pure noise: var(f_i − f_j) = 2·(gain·m + read²), m the frames' level
        # (smoothed: a noisy m would flatten the fitted slope, the gain)
        d = (f[:, 1:] - f[:, :1]) / np.sqrt(2.0)
        est = estimate_noise(np.broadcast_to(smooth[:, None], d.shape), d)
        noise = (est.gain, est.read)
    gain, read = noise
    mask = np.zeros(f.shape, dtype=bool)
    cleaned = f.copy()
    for i in range(k):
        others = np.median(np.delete(f, i, axis=1), axis=1)
        # the difference of a frame and the median of the others: its variance, with the others' share
        var = (gain * np.clip(level, 0.0, None) + read**2) * (1.0 + 1.0 / max(k - 1, 1))
        spike = f[:, i] - others > threshold * np.sqrt(np.maximum(var, 1e-6))
        mask[:, i] = spike
        cleaned[:, i] = np.where(spike, others, f[:, i])
    total = cleaned.sum(axis=1)
    return (total[0], mask[0], (gain, read)) if single else (total, mask, (gain, read))


def region_mask(axis: np.ndarray, exclude: Sequence[tuple[float, float]]) -> np.ndarray:
    """True where ``axis`` (cm-1) lies outside every (lo, hi) region of ``exclude``."""
    axis = np.asarray(axis, dtype=float)
    keep = np.ones(axis.shape, dtype=bool)
    for lo, hi in exclude:
        keep &= ~((axis >= lo) & (axis <= hi))
    return keep


def baseline_poly(
    axis: np.ndarray,
    spectra: np.ndarray,
    order: int = 3,
    exclude: Sequence[tuple[float, float]] = SI_BANDS_CM1,
) -> np.ndarray:
    """Polynomial baseline of every spectrum, fitted on the pixels outside the ``exclude`` regions (cm-1).

    One least-squares solve for all spectra (a shared design matrix), so a map of hundreds of spectra takes
    milliseconds. Returns the baseline with the shape of ``spectra``.
    """
    axis = np.asarray(axis, dtype=float)
    y = np.atleast_2d(np.asarray(spectra, dtype=float))
    keep = region_mask(axis, exclude)
    if keep.sum() <= order:
        keep = np.ones(axis.shape, dtype=bool)
    centre, scale = axis.mean(), max(np.ptp(axis) / 2, 1e-12)
    x = (axis - centre) / scale
    design = np.vander(x, order + 1)
    coef, *_ = np.linalg.lstsq(design[keep], y[:, keep].T, rcond=None)
    return (design @ coef).T.reshape(np.shape(spectra))


def baseline_als(spectrum: np.ndarray, lam: float = 1e5, p: float = 0.01, n_iter: int = 10) -> np.ndarray:
    """Asymmetric least-squares baseline of one spectrum (Eilers & Boelens 2005).

    ``lam`` sets the smoothness, ``p`` the asymmetry (points above the baseline weigh ``p``, below ``1 - p``).
    """
    y = np.asarray(spectrum, dtype=float)
    n = y.size
    diff2 = sparse.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(n - 2, n))
    penalty = lam * (diff2.T @ diff2)
    w = np.ones(n)
    z = y
    for _ in range(n_iter):
        weights = sparse.diags(w)
        z = spsolve((weights + penalty).tocsc(), w * y)
        w = np.where(y > z, p, 1.0 - p)
    return np.asarray(z)


def subtract_baseline(
    axis: np.ndarray,
    spectra: np.ndarray,
    *,
    method: str = "poly",
    order: int = 3,
    exclude: Sequence[tuple[float, float]] = SI_BANDS_CM1,
    lam: float = 1e5,
    p: float = 0.01,
) -> np.ndarray:
    """Spectra minus their baseline (``method`` "poly" or "als"); "none" returns a copy."""
    y = np.asarray(spectra, dtype=float)
    if method == "none":
        return y.copy()
    if method == "poly":
        return y - baseline_poly(axis, y, order, exclude)
    if method == "als":
        y2 = np.atleast_2d(y)
        return np.vstack([row - baseline_als(row, lam, p) for row in y2]).reshape(y.shape)
    raise ValueError(f"baseline method {method!r}: expected 'poly', 'als' or 'none'")
