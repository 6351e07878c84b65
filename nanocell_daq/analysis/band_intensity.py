"""Si band intensities of each Raman map normalised to the pristine map (Figure 10 G-I of the seed review).

Lithiation consumes the crystalline core: its 520 cm-1 band loses intensity. The lithiated a-LixSi has no
distinct band (domain notes 2.6), so Xc = Ic/(Ic + y·Ia) can *rise* after a charge while the core shrinks;
the c-Si intensity relative to the pristine map is what shows the loss. ``csi_norm`` = mean c-Si area over the
map's fitted pixels / the same mean of the first (pristine) map, with its 1-sigma error from the fits'
area errors; ``asi_norm`` the same for the a-Si band (a-Si appears after delithiation).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nanocell_daq.analysis.raman_map import on_wire

UPPER_Z = 1.645  # one-sided 95 %
SIGNIFICANCE = 2.0  # a normalised intensity below 2 sigma is shown as an upper limit


def mean_area(pixels: pd.DataFrame, band: str) -> tuple[float, float]:
    """(mean, 1-sigma error) of the ``band`` ("c" or "a") area over the fitted pixels of a map (counts·cm-1).

    Failed fits are left out; a band that was not found counts as zero area with its fit error."""
    if pixels.empty:
        return float("nan"), float("nan")
    ok = pixels["success"].astype(bool).to_numpy()
    area = pixels[f"{band}_area"].to_numpy(float)[ok]
    err = pixels[f"{band}_area_err"].to_numpy(float)[ok]
    good = np.isfinite(area)
    if not good.any():
        return float("nan"), float("nan")
    n = int(good.sum())
    return float(area[good].mean()), float(np.sqrt(np.nansum(err[good] ** 2)) / n)


def ratio(num: tuple[float, float], den: tuple[float, float]) -> tuple[float, float]:
    """(a/b, its 1-sigma error) from (a, σa) and (b, σb), independent errors."""
    (a, sa), (b, sb) = num, den
    if not (np.isfinite(a) and np.isfinite(b)) or b <= 0:
        return float("nan"), float("nan")
    r = a / b
    return float(r), float(np.hypot(np.nan_to_num(sa) / b, a * np.nan_to_num(sb) / b**2))


def upper_limit(value: float, err: float) -> float:
    """One-sided 95 % upper limit of a normalised intensity that is not significant (NaN if it is)."""
    if not np.isfinite(value) or not np.isfinite(err) or value > SIGNIFICANCE * err:
        return float("nan")
    return max(value, 0.0) + UPPER_Z * err


def normalised_intensities(checkpoints: list[dict[str, Any]], maps: dict[int, pd.DataFrame]) -> None:
    """Add ``csi_norm``, ``csi_norm_err``, ``csi_norm_upper``, ``asi_norm``, ``asi_norm_err`` to each
    checkpoint dict with a map, relative to the first checkpoint with a map that has a c-Si (a-Si) band."""
    with_map = [c for c in checkpoints if c.get("map_step_id") is not None and c["map_step_id"] in maps]
    ref: dict[str, tuple[float, float]] = {}
    for band in ("c", "a"):
        for c in with_map:
            m = mean_area(maps[c["map_step_id"]], band)
            if np.isfinite(m[0]) and m[0] > max(SIGNIFICANCE * np.nan_to_num(m[1]), 0.0):
                ref[band] = m
                break
    for c in with_map:
        pixels = maps[c["map_step_id"]]
        for band, key in (("c", "csi_norm"), ("a", "asi_norm")):
            mean = mean_area(pixels, band)
            value, err = ratio(mean, ref[band]) if band in ref else (np.nan, np.nan)
            if band in ref and mean == ref[band]:  # the reference map itself: 1 by definition
                value, err = 1.0, 0.0
            c[key], c[f"{key}_err"] = float(value), float(err)
        c["csi_norm_upper"] = upper_limit(c["csi_norm"], c["csi_norm_err"])


def normalised_map(pixels: pd.DataFrame, band: str, reference: float) -> np.ndarray:
    """Per-pixel band area / ``reference`` (the pristine mean area); NaN where the fit failed."""
    area = pixels[f"{band}_area"].to_numpy(float)
    ok = pixels["success"].astype(bool).to_numpy() & np.isfinite(area)
    return np.where(ok, area / reference, np.nan) if reference > 0 else np.full(len(pixels), np.nan)


def wire_pixels(pixels: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the on-wire pixels (for mean spectra)."""
    return on_wire(pixels)
