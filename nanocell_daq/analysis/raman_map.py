"""Raman maps: fit every pixel, arrange the results on the map grid, and take profiles along the wire.

Stage positions in um, wavenumbers in cm-1, intensities as integrated areas (counts·cm-1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from nanocell_daq.analysis.raman import (
    FIT_WINDOW_CM1,
    UPPER_LIMIT_Z,
    NoiseModel,
    SiFit,
    crystalline_fraction,
    estimate_noise,
    first_pass,
    fit_si,
    xc_upper_limit,
)
from nanocell_daq.analysis.raman_batch import CHUNK, BatchStats, fit_spectra
from nanocell_daq.analysis.raman_preprocess import (
    SI_PEAK_REGION_CM1,
    combine_frames,
    remove_spikes,
    subtract_baseline,
)

PIXEL_COLUMNS = ["pixel", "x_um", "y_um", *SiFit.__dataclass_fields__, "n_spikes"]


def fit_map(
    axis: np.ndarray,
    spectra: np.ndarray,
    positions: np.ndarray | None = None,
    *,
    y: float = 0.8,
    window: tuple[float, float] = FIT_WINDOW_CM1,
    despike: bool = True,
    spike_threshold: float = 6.0,
    baseline: str = "none",
    noise: NoiseModel | None = None,
    batch: bool = True,
    stats: BatchStats | None = None,
    chunk: int = CHUNK,
) -> pd.DataFrame:
    """Fit c-Si/a-Si in every spectrum of a map; one row per pixel (columns :data:`PIXEL_COLUMNS`).

    ``spectra``: (n_pixels, n_wavenumbers) counts, or (n_pixels, k, n_wavenumbers) for k >= 2 frames per pixel
    (summed after :func:`~nanocell_daq.analysis.raman_preprocess.combine_frames` took out what only one frame
    saw: the way to remove a cosmic ray on the c-Si peak); ``positions``: (n_pixels, 2 or 3) stage x, y[, z]
    (um). ``noise``: the spectrometer's :class:`~nanocell_daq.analysis.raman.NoiseModel` of one spectrum (one
    frame with frames), or None to estimate it once for the whole map (pooled residuals of a first, unweighted
    pass; with frames, from the frame differences). Cosmic rays are removed first (``despike``, away from the
    c-Si peak, where the fit drops them itself); ``baseline`` ("none", "poly", "als") is subtracted before the
    fit, which has its own linear background over ``window`` (cm-1) either way. ``n_spikes`` counts every
    pixel taken out (frames, filter and fit). ``batch``: all pixels in one vectorised fit
    (:func:`~nanocell_daq.analysis.raman_batch.fit_spectra`, the same results, tens of times faster);
    False fits them one by one with :func:`~nanocell_daq.analysis.raman.fit_si`. ``stats`` (optional) is
    filled with how many pixels the batch handed to the single fit. Spikes, baselines and batch fits are done
    ``chunk`` pixels at a time: beyond the cropped spectra and the results, the memory does not grow with the
    number of pixels.
    """
    axis = np.asarray(axis, dtype=float)
    data = np.asarray(spectra, dtype=float)
    if data.ndim == 1:
        data = data[None]
    n = data.shape[0]
    pos = np.zeros((n, 2)) if positions is None else np.atleast_2d(np.asarray(positions, dtype=float))
    sel = (axis >= window[0] - 20) & (axis <= window[1] + 20)
    # Only the fit window matters; cropping first keeps spike search and baselines cheap on big maps.
    x, data = axis[sel], data[..., sel]
    spikes = np.zeros(n, dtype=int)  # per pixel
    if data.ndim == 3:
        per_frame = None if noise is None else (noise.gain, noise.read)
        data, frame_mask, (gain, read) = combine_frames(data, noise=per_frame)
        spikes += frame_mask.sum(axis=(1, 2))
        noise = NoiseModel(gain, read * np.sqrt(frame_mask.shape[1]), noise.source if noise else "estimated")
    chunk = max(int(chunk), 1)
    for c0 in range(0, n, chunk):  # in place, a chunk at a time (``data`` is the cropped copy)
        part = data[c0 : c0 + chunk]
        if despike and x.size >= 5:
            part[:], mask = remove_spikes(part, threshold=spike_threshold, axis=x, protect=SI_PEAK_REGION_CM1)
            spikes[c0 : c0 + chunk] += mask.sum(axis=1)
        if baseline != "none" and x.size:
            part[:] = subtract_baseline(x, part, method=baseline, order=1, exclude=((400.0, 550.0),))
    pool = noise is None and baseline == "none"
    if batch:
        fits = fit_spectra(
            x, data, y=y, window=window, noise=noise, pool_noise=pool, stats=stats, chunk=chunk
        )
    else:
        if pool:
            passes = [first_pass(x, row, window=window) for row in data]
            got = [p for p in passes if p is not None]
            if got:
                noise = estimate_noise(
                    np.concatenate([p[0] for p in got]),
                    np.concatenate([p[1] for p in got]),
                    leverage=np.concatenate([p[2] for p in got]),
                )
        fits = [fit_si(x, row, y=y, window=window, noise=noise) for row in data]
    columns: dict[str, object] = {
        "pixel": np.arange(n),
        "x_um": pos[:n, 0].astype(float),
        "y_um": pos[:n, 1].astype(float) if pos.shape[1] > 1 else np.zeros(n),
    }
    names = list(SiFit.__dataclass_fields__)
    values = zip(*(vars(fit).values() for fit in fits), strict=True) if fits else [[] for _ in names]
    columns.update(zip(names, values, strict=True))  # the fields in order (as_dict deep-copies: slow)
    columns["n_spikes"] = spikes + np.array([fit.n_outliers for fit in fits], dtype=int)
    return pd.DataFrame(columns, columns=PIXEL_COLUMNS)


def map_grid(
    pixels: pd.DataFrame, column: str, decimals: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x values um, y values um, 2-D array [len(y), len(x)]) of ``column``; NaN where no pixel was measured.

    Positions are rounded to ``decimals`` so stage jitter does not split one grid column into many.
    """
    if pixels.empty:
        return np.array([]), np.array([]), np.empty((0, 0))
    xr = pixels["x_um"].round(decimals).to_numpy()
    yr = pixels["y_um"].round(decimals).to_numpy()
    xs, ix = np.unique(xr, return_inverse=True)
    ys, iy = np.unique(yr, return_inverse=True)
    grid = np.full((ys.size, xs.size), np.nan)
    grid[iy, ix] = pixels[column].to_numpy(dtype=float)
    return xs, ys, grid


def wire_axis(
    pixels: pd.DataFrame, start: Sequence[float] | None = None, end: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(origin (x, y) um, unit vector) of the wire: from ``start`` to ``end`` when given (the device's
    wire position), else the principal direction of the map pixels."""
    if start is not None and end is not None:
        a, b = np.asarray(start[:2], dtype=float), np.asarray(end[:2], dtype=float)
        d = b - a
        if np.linalg.norm(d) > 0:
            return a, d / np.linalg.norm(d)
    pts = pixels[["x_um", "y_um"]].to_numpy(dtype=float)
    centre = pts.mean(axis=0)
    if pts.shape[0] < 2:
        return centre, np.array([1.0, 0.0])
    _, _, vt = np.linalg.svd(pts - centre, full_matrices=False)
    d = vt[0] if vt[0][np.argmax(np.abs(vt[0]))] > 0 else -vt[0]
    along = (pts - centre) @ d
    return centre + along.min() * d, d


def profile_along_wire(
    pixels: pd.DataFrame,
    column: str = "xc",
    *,
    start: Sequence[float] | None = None,
    end: Sequence[float] | None = None,
    bin_um: float | None = None,
) -> pd.DataFrame:
    """Mean and standard deviation of ``column`` in bins of distance along the wire (um).

    Area maps are averaged across the wire; ``bin_um`` defaults to the median spacing of the pixels along the
    wire. Columns: distance_um, mean, std, n.
    """
    if pixels.empty:
        return pd.DataFrame(columns=["distance_um", "mean", "std", "n"])
    origin, d = wire_axis(pixels, start, end)
    pts = pixels[["x_um", "y_um"]].to_numpy(dtype=float)
    s = (pts - origin) @ d
    if bin_um is None:
        steps = np.diff(np.unique(np.round(s, 3)))
        bin_um = float(np.median(steps)) if steps.size else 1.0
    bin_um = max(bin_um, 1e-6)
    k = np.round((s - s.min()) / bin_um).astype(int)
    values = pixels[column].to_numpy(dtype=float)
    frame = pd.DataFrame({"k": k, "v": values})
    grouped = frame.groupby("k")["v"]
    out = pd.DataFrame(
        {
            "distance_um": grouped.size().index.to_numpy() * bin_um + s.min(),
            "mean": grouped.mean().to_numpy(),
            "std": grouped.std(ddof=0).to_numpy(),
            "n": grouped.count().to_numpy(),
        }
    )
    return out


def on_wire(pixels: pd.DataFrame, fraction: float = 0.1) -> np.ndarray:
    """Pixels whose total Si signal Ic + Ia exceeds ``fraction`` of the map's strongest pixel.

    That is the wire, not the bare substrate, whose Xc is noise.
    """
    if pixels.empty:
        return np.zeros(0, dtype=bool)
    c = pixels["c_area"].fillna(0).clip(lower=0)
    total = (c + pixels["a_area"].fillna(0).clip(lower=0)).to_numpy(float)
    ok = pixels["success"].astype(bool).to_numpy()
    top = float(np.max(total[ok])) if ok.any() else 0.0
    return ok & (total > fraction * top) if top > 0 else np.zeros(len(pixels), dtype=bool)


def map_summary(pixels: pd.DataFrame, y: float | None = None) -> dict[str, float | int | str]:
    """Map-wide numbers over the on-wire pixels: how many have a significant c-Si peak, Xc of the summed
    areas (``xc_pooled``) or, where the summed c-Si area is not significant either, its one-sided 95 % upper
    limit (``xc_upper``), mean/std of the per-pixel Xc, median c-Si position and FWHM (cm-1), summed areas,
    pixel counts, and ``xc_text``: one line saying all that ("0 of 20 pixels have a significant c-Si peak;
    Xc < 0.012 (95 % upper limit)").

    ``xc_mean`` is NaN unless at least half of the wire pixels have a significant c-Si peak: the few pixels
    that pass by chance would otherwise stand for the whole wire.
    """
    nan = float("nan")
    wire = on_wire(pixels)
    n_spikes = int(pixels["n_spikes"].sum()) if "n_spikes" in pixels else 0
    if pixels.empty or not wire.any():
        return {
            "xc_mean": nan,
            "xc_std": nan,
            "xc_pooled": nan,
            "xc_upper": nan,
            "c_position_median": nan,
            "c_fwhm_median": nan,
            "c_area_sum": nan,
            "a_area_sum": nan,
            "n_pixels": len(pixels),
            "n_wire_pixels": 0,
            "n_xc_pixels": 0,
            "n_c_significant": 0,
            "n_spikes": n_spikes,
            "xc_text": f"no Si band above noise in any of {len(pixels)} pixels",
        }
    sub = pixels[wire]
    y = float(sub["y"].iloc[0]) if y is None else y
    significant = sub["c_significant"].astype(bool).to_numpy()
    xc = sub["xc"].to_numpy(dtype=float)
    xc = xc[significant & np.isfinite(xc)]
    ic, ia = float(np.nansum(sub["c_area"])), float(np.nansum(sub["a_area"]))
    ic_err = float(np.sqrt(np.nansum(sub["c_area_err"] ** 2)))
    ia_err = float(np.sqrt(np.nansum(sub["a_area_err"] ** 2)))
    pos, fwhm = sub["c_position"].to_numpy(float), sub["c_fwhm"].to_numpy(float)
    pooled = crystalline_fraction(ic, ia, y, ic_err, ia_err)
    upper = xc_upper_limit(ic, ia, y, ic_err, ia_err) if not np.isfinite(pooled) else nan
    n_wire, n_sig = int(wire.sum()), int(significant.sum())
    defined = n_sig >= max(1, 0.5 * n_wire) and np.isfinite(pooled)
    text = f"{n_sig} of {n_wire} pixels have a significant c-Si peak; "
    if np.isfinite(pooled):
        text += f"Xc = {pooled:.3f} (summed areas)"
    elif np.isfinite(upper):
        text += f"Xc < {upper:.3g} ({100 * confidence():.0f} % upper limit)"
    else:
        text += "no Si band above noise"
    return {
        "xc_mean": float(np.mean(xc)) if defined else nan,
        "xc_std": float(np.std(xc)) if xc.size else nan,
        "xc_pooled": pooled,
        "xc_upper": float(upper),
        "n_xc_pixels": int(xc.size),
        "n_c_significant": n_sig,
        "c_position_median": float(np.nanmedian(pos)) if np.isfinite(pos).any() else nan,
        "c_fwhm_median": float(np.nanmedian(fwhm)) if np.isfinite(fwhm).any() else nan,
        "c_area_sum": ic,
        "a_area_sum": ia,
        "n_pixels": len(pixels),
        "n_wire_pixels": n_wire,
        "n_spikes": n_spikes,
        "xc_text": text,
    }


def confidence() -> float:
    """One-sided confidence of the upper limits (0.95 for z = 1.645)."""
    from math import erf, sqrt

    return 0.5 * (1.0 + erf(UPPER_LIMIT_Z / sqrt(2.0)))
