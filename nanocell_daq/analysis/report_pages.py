"""The pages after the one-page summary in a PDF report (``nanocell report RUN -o report.pdf``).

* Raman maps per checkpoint: c-Si (520 cm-1) and a-Si band areas normalised to the pristine map's mean (the
  quantity of Figure 10 G-I of the seed review), c-Si position and FWHM, and the mean normalised c-Si
  intensity per checkpoint with its error (upper limits as downward triangles);
* the mean on-wire spectrum of each map with its c-Si + a-Si fit;
* the time line: V, I and net charge against the engine clock with the checkpoints marked, G0 and Xc / c-Si
  intensity at the checkpoints on twin axes;
* conductance per segment (contact pair), G0 against Xc and against the c-Si intensity, and the capacity per
  half-cycle in pAh, mAh/g and Li per host atom where the device's geometry is known.

Every page carries the run's header line: the wire's geometry and the C-rate. matplotlib (Agg) only.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np
import pandas as pd

from nanocell_daq.analysis.band_intensity import SIGNIFICANCE, mean_area, normalised_map, wire_pixels
from nanocell_daq.analysis.raman import A_NOMINAL_CM1, A_NOMINAL_FWHM, fit_si, gaussian, lorentzian
from nanocell_daq.analysis.raman_map import map_grid, wire_axis
from nanocell_daq.analysis.report import (
    MAX_LEGEND,
    MAX_TABLE_ROWS,
    PAH_PER_C,
    _charge_curve,
    _colors,
    _f,
    _g0_points,
    _num,
    _pyplot,
    _table,
    _title,
    label_ticks,
    shown_text,
    spread,
)
from nanocell_daq.analysis.run_analysis import RunAnalysis
from nanocell_daq.analysis.specific_capacity import c_rate

MAPS_PER_PAGE = 6
MAX_MAP_PAGES = 2  # a week-long run's ~100 maps: 12 of them, evenly spread (each page takes seconds to draw)
PAGE_SIZE = (16.5, 11.7)  # A3 landscape, like page 1


def c_rate_text(a: RunAnalysis) -> str:
    """"C/5" style rate of the galvanostatic half-cycles against the nominal capacity ("" if unknown)."""
    rates = [c_rate(_f(h.get("mean_current_A")), a.nominal_capacity_Ah) for h in a.half_cycles]
    rates = sorted({float(f"{r:.2g}") for r in rates if np.isfinite(r) and r > 0})
    if not rates:
        return ""

    def one(r: float) -> str:
        return f"{r:.2g}C" if r >= 1 else f"C/{1 / r:.2g}"

    span = one(rates[0]) if len(rates) == 1 else f"{one(rates[0])} to {one(rates[-1])}"
    return f"rate {span} of the nominal {a.nominal_capacity_Ah * 1e12:.3g} pAh"


def header_line(a: RunAnalysis) -> str:
    """Geometry (mass) and C-rate of the run, for the title of every page ("" when neither is known)."""
    parts = [a.geometry.text()] if a.geometry else ["wire geometry not recorded: no mAh/g"]
    rate = c_rate_text(a)
    if rate:
        parts.append(rate)
    return " · ".join(parts)


def _new_page(a: RunAnalysis, title: str) -> Any:
    plt = _pyplot()
    fig = plt.figure(figsize=PAGE_SIZE, dpi=100, layout="constrained")
    fig.suptitle(f"{_title(a)}\n{title}", fontsize=12, fontweight="bold")
    return fig


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_axis_off()


# ---- Raman maps -----------------------------------------------------------------------------------------

def map_checkpoints(a: RunAnalysis) -> list[dict[str, Any]]:
    """The checkpoints with a fitted Raman map, in run order."""
    return [c for c in a.checkpoints if c.get("map_step_id") is not None and c["map_step_id"] in a.maps]


def _reference_area(a: RunAnalysis, band: str) -> float:
    """Mean area of ``band`` on the first map with that band: what the normalised maps divide by."""
    for c in map_checkpoints(a):
        m, err = mean_area(a.maps[c["map_step_id"]], band)
        if np.isfinite(m) and m > SIGNIFICANCE * np.nan_to_num(err):
            return m
    return float("nan")


def _draw_map(ax: Any, a: RunAnalysis, pixels: pd.DataFrame, values: np.ndarray, cmap: Any,
              vmin: float, vmax: float) -> Any:
    """``values`` per pixel as a strip along the wire (line map) or an image (area map)."""
    frame = pixels.assign(_v=values)
    xs, ys, grid = map_grid(frame, "_v")
    if grid.size == 0:
        return None
    if ys.size == 1:
        origin, d = wire_axis(pixels, *(a.wire or (None, None)))
        s = (pixels[["x_um", "y_um"]].to_numpy(float) - origin) @ d
        order = np.argsort(s)
        step = float(np.median(np.diff(s[order]))) if s.size > 1 else 1.0
        extent = (s.min() - step / 2, s.max() + step / 2, 0, 1)
        ax.set_yticks([])
        return ax.imshow(values[order][None, :], aspect="auto", extent=extent, cmap=cmap, vmin=vmin,
                         vmax=vmax, interpolation="nearest")
    dx = float(np.median(np.diff(xs))) if xs.size > 1 else 1.0
    dy = float(np.median(np.diff(ys))) if ys.size > 1 else 1.0
    extent = (xs[0] - dx / 2, xs[-1] + dx / 2, ys[0] - dy / 2, ys[-1] + dy / 2)
    return ax.imshow(grid, origin="lower", extent=extent, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax,
                     interpolation="nearest")


def _limits(values: list[np.ndarray], pad: float = 0.0) -> tuple[float, float]:
    v = np.concatenate([x[np.isfinite(x)] for x in values]) if values else np.array([])
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(v, [2, 98])
    return (float(lo) - pad, float(hi) + pad) if hi > lo else (float(lo) - 1.0, float(hi) + 1.0)


def _cmap(name: str) -> Any:
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad="0.82")  # grey: no fit / no band


def maps_pages(a: RunAnalysis) -> list[Any]:
    """One page per :data:`MAPS_PER_PAGE` map checkpoints: normalised c-Si and a-Si, c-Si position and FWHM
    (rows: checkpoints), and the mean normalised c-Si intensity per checkpoint."""
    every = map_checkpoints(a)
    if not every:
        return []
    cps = spread(every, MAPS_PER_PAGE * MAX_MAP_PAGES)
    ref_c, ref_a = _reference_area(a, "c"), _reference_area(a, "a")
    quantities = [
        ("c-Si (520 cm⁻¹) area / pristine", lambda p: normalised_map(p, "c", ref_c), "magma", None),
        ("a-Si (480 cm⁻¹) area / pristine", lambda p: normalised_map(p, "a", ref_a), "cividis", None),
        ("c-Si position (cm⁻¹)", lambda p: _significant(p, "c_position"), "coolwarm", None),
        ("c-Si FWHM (cm⁻¹)", lambda p: _significant(p, "c_fwhm"), "viridis", None),
    ]
    values = {(k, c["map_step_id"]): q[1](a.maps[c["map_step_id"]]) for k, q in enumerate(quantities)
              for c in cps}
    ranges = []
    for k, _q in enumerate(quantities):
        vals = [values[(k, c["map_step_id"])] for c in cps]
        lo, hi = _limits(vals)
        ranges.append((0.0, max(1.0, hi)) if k < 2 else (lo, hi))
    pages = []
    for start in range(0, len(cps), MAPS_PER_PAGE):
        chunk = cps[start:start + MAPS_PER_PAGE]
        fig = _new_page(a, "Raman maps per checkpoint, band areas normalised to the pristine map "
                           f"(c-Si pristine mean {ref_c:.4g}, a-Si {ref_a:.4g} counts·cm⁻¹)"
                           + shown_text(len(cps), len(every), "maps"))
        outer = fig.add_gridspec(1, 2, width_ratios=[3.2, 1.0])
        grid = outer[0].subgridspec(len(chunk), len(quantities))
        for col, (name, _fn, cmap, _) in enumerate(quantities):
            image = None
            axes = []
            for row, c in enumerate(chunk):
                ax = fig.add_subplot(grid[row, col])
                axes.append(ax)
                pixels = a.maps[c["map_step_id"]]
                image = _draw_map(ax, a, pixels, values[(col, c["map_step_id"])], _cmap(cmap), *ranges[col])
                ax.tick_params(labelsize=7)
                if row == 0:
                    ax.set_title(name, fontsize=9, fontweight="bold")
                if col == 0:
                    ax.set_ylabel(c["label"], rotation=0, ha="right", va="center", fontsize=8)
                if row < len(chunk) - 1:
                    ax.set_xticklabels([])
                else:
                    where = "distance along the wire (µm)" if _is_line(pixels) else "x (µm)"
                    ax.set_xlabel(where, fontsize=8)
            if image is not None:
                bar = fig.colorbar(image, ax=axes, location="bottom", fraction=0.04, pad=0.01, aspect=30)
                bar.ax.tick_params(labelsize=7)
        _plot_norm_trend(fig.add_subplot(outer[1]), a)
        pages.append(fig)
    return pages


def _is_line(pixels: pd.DataFrame) -> bool:
    return pixels["y_um"].round(3).nunique() == 1


def _significant(pixels: pd.DataFrame, column: str) -> np.ndarray:
    """A c-Si band parameter where the band is significant, NaN elsewhere (grey)."""
    v = pixels[column].to_numpy(float)
    return np.where(pixels["c_significant"].astype(bool).to_numpy(), v, np.nan)


def _plot_norm_trend(ax: Any, a: RunAnalysis) -> None:
    """Mean c-Si (and a-Si) intensity / pristine per checkpoint, ±1σ; upper limits as downward triangles."""
    ax.set_title("mean band intensity / pristine", loc="left", fontweight="bold", fontsize=10)
    cps = map_checkpoints(a)
    x = np.arange(len(cps))
    for key, color, marker, name in (("csi_norm", "tab:purple", "o", "c-Si"), ("asi_norm", "tab:olive", "s",
                                                                              "a-Si")):
        v = np.array([_f(c.get(key)) for c in cps])
        e = np.array([_f(c.get(f"{key}_err")) for c in cps])
        up = np.array([_f(c.get(f"{key}_upper")) for c in cps])
        lim = np.isfinite(up)
        ok = np.isfinite(v) & ~lim
        ax.errorbar(x[ok], v[ok], yerr=np.nan_to_num(e[ok]), fmt=marker + "-", color=color, capsize=3, ms=5,
                    label=f"{name} (±1σ)")
        if lim.any():
            ax.errorbar(x[lim], up[lim], yerr=0.08 * max(1.0, np.nanmax(up)), uplims=True, fmt="v",
                        color=color, ms=7, capsize=3, label=f"{name} upper limit (95 %)")
    ax.axhline(1.0, color="0.6", ls=":", lw=1)
    label_ticks(ax, [c["label"] for c in cps], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("band area / pristine mean")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False, loc="upper right")
    ax.text(0.02, 0.02, "lithiated a-LixSi has no Raman band:\nthe c-Si intensity shows the core's loss\n"
            "even where Xc = Ic/(Ic + y·Ia) rises", transform=ax.transAxes, va="bottom", fontsize=7,
            color="0.3")


# ---- mean spectra -----------------------------------------------------------------------------------------

def mean_spectrum(store: Any, a: RunAnalysis, step_id: int) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(axis cm-1, mean counts, number of spectra) over the on-wire pixels of one map (every frame)."""
    spectra = store.spectra(a.run_id, step_id=step_id)
    if len(spectra) == 0:
        return None
    pixels = a.maps[step_id]
    ids = pixels["spectrum_id"].to_numpy() if "spectrum_id" in pixels else np.array([])
    keep_grid = pixels["grid_pixel"].to_numpy()[wire_pixels(pixels)] if "grid_pixel" in pixels else []
    rows = np.isin(spectra.pixel, keep_grid) if len(keep_grid) and (spectra.pixel >= 0).all() else \
        np.isin(spectra.id, ids[wire_pixels(pixels)])
    if not rows.any():
        rows = np.ones(len(spectra), dtype=bool)
    return np.asarray(spectra.axis, float), spectra.counts[rows].astype(float).mean(axis=0), int(rows.sum())


def spectra_page(a: RunAnalysis, store: Any) -> list[Any]:
    """The mean on-wire spectrum of each map with its fit: total, c-Si (Lorentzian), a-Si (Gaussian)."""
    every = map_checkpoints(a)
    if not every or store is None:
        return []
    cps = spread(every)
    fig = _new_page(a, "Mean on-wire spectrum per checkpoint with the c-Si + a-Si fit"
                    + shown_text(len(cps), len(every), "maps"))
    n = len(cps)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    grid = fig.add_gridspec(rows, cols)
    window = a.params.fit_window_cm1
    for k, c in enumerate(cps):
        ax = fig.add_subplot(grid[k // cols, k % cols])
        got = mean_spectrum(store, a, c["map_step_id"])
        if got is None:
            _empty(ax, f"{c['label']}: no spectra")
            continue
        axis, counts, n_spec = got
        sel = (axis >= window[0] - 60) & (axis <= window[1] + 60)
        ax.plot(axis[sel], counts[sel], ".", ms=2.5, color="0.3", label=f"mean of {n_spec} spectra")
        fit = fit_si(axis, counts, y=a.params.y, window=window, despike=True)
        if fit.success:
            inside = (axis >= window[0]) & (axis <= window[1])
            x = axis[inside]
            bands_c = lorentzian(x, fit.c_area, fit.c_position, fit.c_fwhm) if np.isfinite(fit.c_position) \
                else np.zeros(x.size)
            if np.isfinite(fit.a_position):
                bands_a = gaussian(x, fit.a_area, fit.a_position, fit.a_fwhm)
            else:  # a-Si not significant: its area was fitted with the nominal band's shape
                bands_a = gaussian(x, fit.a_area, A_NOMINAL_CM1, A_NOMINAL_FWHM)
            background = np.polyval(np.polyfit(x, counts[inside] - bands_c - bands_a, 1), x)
            ax.plot(x, background + bands_c + bands_a, "-", color="tab:red", lw=1.4, label="fit")
            ax.plot(x, background + bands_c, "-", color="tab:purple", lw=1.0, label="c-Si (Lorentzian)")
            ax.plot(x, background + bands_a, "-", color="tab:olive", lw=1.0, label="a-Si (Gaussian)")
            ax.plot(x, background, ":", color="0.5", lw=1.0)
            text = (f"c-Si {fit.c_position:.1f} cm⁻¹, FWHM {fit.c_fwhm:.1f}" if fit.c_significant
                    else "c-Si not significant")
            text += f"\nXc = {_num(fit.xc, '.3f')} ± {_num(fit.xc_err, '.3f')}" if np.isfinite(fit.xc) else (
                f"\nXc < {fit.xc_upper:.3f} (95 %)" if np.isfinite(fit.xc_upper) else "")
            ax.text(0.98, 0.97, text, transform=ax.transAxes, ha="right", va="top", fontsize=8,
                    bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})
        for v in window:
            ax.axvline(v, color="0.7", ls="--", lw=0.8)
        ax.set_title(c["label"], loc="left", fontsize=10, fontweight="bold")
        ax.set_xlabel("Raman shift (cm⁻¹)")
        ax.set_ylabel("counts")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False, loc="upper left")
    return [fig]


# ---- time line ---------------------------------------------------------------------------------------------

def checkpoint_engine_times(a: RunAnalysis) -> list[float]:
    """Engine-clock time (s) of each checkpoint: the last cycling sample recorded before its first step (the
    run's first sample for a checkpoint before any cycling); NaN without cycling data."""
    pts = a.cycling_points
    if pts.empty or a.steps.empty:
        return [float("nan")] * len(a.checkpoints)
    index_of = dict(zip(a.steps["step_id"], a.steps["index"], strict=True))
    pts_index = pts["step_id"].map(index_of).to_numpy(float)
    t = pts["t_s"].to_numpy(float)
    out = []
    for c in a.checkpoints:
        first = min((index_of.get(s, np.inf) for s in c.get("step_ids") or []), default=np.inf)
        before = t[pts_index < first]
        out.append(float(np.nanmax(before)) if before.size else float(np.nanmin(t)))
    return out


def net_charge(a: RunAnalysis) -> tuple[np.ndarray, np.ndarray]:
    """(engine time s, net charge passed C) over the whole run, charging positive, step after step."""
    pts = a.cycling_points
    ts, qs, total = [], [], 0.0
    for _, unsorted in pts.groupby("step_id", sort=False):
        seg = unsorted.sort_values("t_s")
        q = _charge_curve(seg) * a.params.charge_sign
        ts.append(seg["t_s"].to_numpy(float))
        qs.append(total + q)
        total += float(q[-1]) if q.size else 0.0
    if not ts:
        return np.array([]), np.array([])
    t, q = np.concatenate(ts), np.concatenate(qs)
    order = np.argsort(t, kind="stable")
    return t[order], q[order]


def timeline_page(a: RunAnalysis) -> list[Any]:
    """V, I and net charge against the engine clock with the checkpoints marked; G0 and Xc at the checkpoints
    on twin axes."""
    if a.cycling_points.empty and not a.checkpoints:
        return []
    fig = _new_page(a, "Time line (engine clock)")
    axes = fig.subplots(4, 1, sharex=True, height_ratios=[1.0, 0.8, 0.8, 1.1])
    pts = a.cycling_points.sort_values("t_s")
    times = checkpoint_engine_times(a)
    if pts.empty:
        for ax in axes[:3]:
            _empty(ax, "no cycling data")
    else:
        t = pts["t_s"].to_numpy(float)
        scale, unit = _time_unit(float(np.nanmax(t) - np.nanmin(t)))
        tv, v, i = _joined_steps(pts)  # one line per quantity, broken between steps
        axes[0].plot(tv / scale, v, "-", lw=1.2, color="tab:blue")
        axes[1].plot(tv / scale, i * 1e12, "-", lw=1.2, color="tab:orange")
        tq, q = net_charge(a)
        axes[2].plot(tq / scale, q * PAH_PER_C, "-", lw=1.2, color="tab:green")
        cut = sorted({h["cutoff_V"] for h in a.half_cycles if np.isfinite(h.get("cutoff_V", np.nan))})
        for v in cut:
            axes[0].axhline(v, color="0.35", ls=":", lw=1.0)
        axes[0].set_ylabel("cell voltage (V)")
        axes[1].set_ylabel("current (pA)")
        axes[2].set_ylabel("net charge (pAh)")
        if a.geometry:  # capacity per mass on the right
            twin = axes[2].twinx()
            lo, hi = axes[2].get_ylim()
            twin.set_ylim(a.geometry.mAh_per_g(lo / PAH_PER_C) * np.sign(lo),
                          a.geometry.mAh_per_g(hi / PAH_PER_C) * np.sign(hi))
            twin.set_ylabel(f"mAh/g {a.geometry.material}", color="0.3")
        for ax in axes:
            for tc in times:
                if np.isfinite(tc):
                    ax.axvline(tc / scale, color="0.5", ls="--", lw=0.8)
        named = {id(c) for c in spread(a.checkpoints)}
        for tc, c in zip(times, a.checkpoints, strict=True):
            if np.isfinite(tc) and id(c) in named:
                axes[0].text(tc / scale, 1.01, c["label"], transform=axes[0].get_xaxis_transform(),
                             rotation=30, fontsize=7, ha="left", va="bottom")
        axes[3].set_xlabel(f"engine time ({unit})")
        times = [tc / scale for tc in times]
    _timeline_trend(axes[3], a, np.array(times, float))
    for ax in axes:
        ax.grid(alpha=0.3)
    return [fig]


def _joined_steps(pts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, voltage, current) of every step in time order, a NaN between steps so that one line per quantity
    draws them apart (hundreds of steps as separate lines draw slowly)."""
    t, v, i = [], [], []
    for _sid, seg in pts.groupby("step_id", sort=False):
        t += [seg["t_s"].to_numpy(float), [np.nan]]
        v += [seg["voltage_V"].to_numpy(float), [np.nan]]
        i += [seg["current_A"].to_numpy(float), [np.nan]]
    if not t:
        return np.array([]), np.array([]), np.array([])
    return np.concatenate(t), np.concatenate(v), np.concatenate(i)


def _log_decades(ax: Any, values: np.ndarray) -> None:
    """Whole decades around the positive finite ``values`` on a log axis (never a singular range)."""
    v = values[np.isfinite(values) & (values > 0)]
    if v.size:
        ax.set_ylim(10 ** (math.floor(np.log10(v.min())) - 0.2), 10 ** (math.ceil(np.log10(v.max())) + 0.2))


def _time_unit(span: float) -> tuple[float, str]:
    if span > 2 * 3600:
        return 3600.0, "h"
    if span > 120:
        return 60.0, "min"
    return 1.0, "s"


def _timeline_trend(ax: Any, a: RunAnalysis, x: np.ndarray) -> None:
    """G0 (log, ±1σ, upper limits) and Xc / c-Si intensity at the checkpoints' times."""
    cps = a.checkpoints
    if not cps:
        _empty(ax, "no checkpoints")
        return
    if not np.isfinite(x).all():
        x = np.arange(len(cps), dtype=float)
        ax.set_xticks(x)
        ax.set_xticklabels([c["label"] for c in cps], rotation=20, fontsize=8)
    _g0_errorbars(ax, x, cps)
    ax.set_ylabel("G0 (S)", color="tab:blue")
    ax.legend(fontsize=7, frameon=False, loc="lower left")
    xc = np.array([_f(c.get("xc_mean")) for c in cps])
    xc = np.where(np.isfinite(xc), xc, np.array([_f(c.get("xc_pooled")) for c in cps]))
    up = np.where(np.isfinite(xc), np.nan, np.array([_f(c.get("xc_upper")) for c in cps]))
    ok, lim = np.isfinite(xc), np.isfinite(up)
    cn = np.array([_f(c.get("csi_norm")) for c in cps])
    ce = np.array([_f(c.get("csi_norm_err")) for c in cps])
    okc = np.isfinite(cn)
    if not (ok.any() or lim.any() or okc.any()):  # no Raman: no second axis
        return
    twin = ax.twinx()
    twin.plot(x[ok], xc[ok], "s--", color="tab:green", ms=5, label="Xc")
    if lim.any():
        twin.errorbar(x[lim], up[lim], yerr=0.06, uplims=True, fmt="v", color="tab:green", ms=7,
                      label="Xc upper limit (95 %)")
    if okc.any():
        twin.errorbar(x[okc], cn[okc], yerr=np.nan_to_num(ce[okc]), fmt="o:", color="tab:purple", ms=5,
                      capsize=3, label="c-Si intensity / pristine")
    twin.set_ylim(-0.02, max(1.05, float(np.nanmax(np.r_[cn[okc] + np.nan_to_num(ce[okc]), 1.0])) + 0.05))
    twin.set_ylabel("Xc, c-Si / pristine", color="tab:green")
    twin.legend(fontsize=7, frameon=False, loc="upper right")


def _g0_errorbars(ax: Any, x: np.ndarray, cps: list[dict[str, Any]]) -> None:
    g, err, ul = _g0_points(cps)
    limit = np.isfinite(ul) & (ul > 0)
    ok = np.isfinite(g) & (g > 0) & ~limit
    lo = np.where(np.isfinite(err), np.minimum(err, g * 0.999), 0.0)
    ax.set_yscale("log")
    ax.errorbar(x[ok], g[ok], yerr=[lo[ok], np.nan_to_num(err[ok])], fmt="o-", color="tab:blue", capsize=3,
                ms=5, label="G0 S-D (±1σ)")
    if limit.any():
        ax.errorbar(x[limit], ul[limit], yerr=0.4 * ul[limit], uplims=True, fmt="v", color="tab:blue", ms=7,
                    capsize=3, label="G0 upper limit (95 %)")
    ax.tick_params(axis="y", colors="tab:blue", which="both")
    _log_decades(ax, np.where(limit, ul, g))


# ---- conductance, correlations, capacity ----------------------------------------------------------------

def conductance_page(a: RunAnalysis) -> list[Any]:
    """G0 per segment per checkpoint, G0 vs Xc and vs c-Si intensity, and the capacity table."""
    if not a.checkpoints and not a.half_cycles:
        return []
    fig = _new_page(a, "Conductance per segment, conductance vs crystallinity, capacity")
    grid = fig.add_gridspec(2, 3, height_ratios=[1.0, 0.75])
    _plot_segments(fig.add_subplot(grid[0, 0]), a)
    _plot_g_vs(fig.add_subplot(grid[0, 1]), a, "xc", "mean crystalline fraction Xc")
    _plot_g_vs(fig.add_subplot(grid[0, 2]), a, "csi_norm", "c-Si intensity / pristine")
    ax = fig.add_subplot(grid[1, :])
    n_half = len(a.half_cycles)
    title = "Capacity per half-cycle" + shown_text(min(n_half, MAX_TABLE_ROWS), n_half, "half-cycles")
    _table(ax, title, *capacity_rows(a))
    notes = [header_line(a)]
    notes += [f"{c['label']}: {c['contact_split']['text']}" for c in a.checkpoints
              if (c.get("contact_split") or {}).get("determined")]
    if a.geometry:
        notes.append(f"mass = {a.geometry.density_g_cm3:g} g/cm³ · π(d/2)² · L; "
                     f"Li per {a.geometry.material} = Q / F / (mass / {a.geometry.molar_mass_g_mol:g} g/mol)"
                     + (f"; theoretical {a.geometry.theoretical_mAh_g:g} mAh/g (Li15Si4)"
                        if a.geometry.theoretical_mAh_g else "")
                     + " (domain notes 1.2)")
    wrapped = [part for line in notes for part in textwrap.wrap(line, 230, subsequent_indent="    ")]
    ax.text(0.0, 0.0, "\n".join(wrapped), transform=ax.transAxes, fontsize=8, color="0.3",
            va="bottom").set_in_layout(False)
    return [fig]


def capacity_rows(a: RunAnalysis) -> tuple[list[str], list[list[str]]]:
    """Per half-cycle: capacity in pAh and nC, mAh/g and Li per host atom (where the geometry is known),
    mean current and C-rate."""
    geo = a.geometry
    li = f"Li per {geo.material if geo else 'host'}"
    header = ["cycle", "half-cycle", "Q (pAh)", "Q (nC)", "mAh/g", li, "|I| (pA)", "C-rate", "V̄ (V)"]
    rows = []
    for h in spread(a.half_cycles, MAX_TABLE_ROWS):
        q = _f(h.get("capacity_C"))
        rate = c_rate(_f(h.get("mean_current_A")), a.nominal_capacity_Ah)
        rows.append([
            str(h["cycle"]), str(h.get("label") or h["direction"]), _num(h.get("capacity_pAh"), ".4f"),
            _num(q * 1e9, ".3f"), _num(geo.mAh_per_g(q), ".0f") if geo else "n/a",
            _num(geo.li_per_host(q), ".3f") if geo else "n/a",
            _num(abs(_f(h.get("mean_current_A"))) * 1e12, ".3g"),
            _num(rate, ".3g"), _num(h.get("mean_voltage_V"), ".3f"),
        ])
    return header, rows


def _plot_segments(ax: Any, a: RunAnalysis) -> None:
    ax.set_title("G0 per contact pair (segment)", loc="left", fontweight="bold", fontsize=10)
    seg = a.segments
    cps = [c for c in a.checkpoints if c.get("iv_step_id") is not None]
    if seg.empty or not cps:
        _empty(ax, "no I-V data")
        return
    x_of = {c["iv_step_id"]: k for k, c in enumerate(cps)}
    pairs = list(dict.fromkeys(str(p) for p in seg["pair"]))
    for k, (pair, color) in enumerate(zip(pairs, _colors(len(pairs)), strict=True)):
        rows = seg[(seg["pair"].astype(str) == pair) & seg["step_id"].isin(x_of)]
        x = rows["step_id"].map(x_of).to_numpy(float) + 0.08 * (k - (len(pairs) - 1) / 2)
        g = rows["conductance_S"].to_numpy(float)
        e = rows["conductance_err_S"].to_numpy(float)
        sig = rows["significant"].astype(bool).to_numpy()
        ul = rows["upper_limit_S"].to_numpy(float)
        length = rows["length_um"].to_numpy(float)
        name = pair + (f" ({length[0]:g} µm)" if length.size and np.isfinite(length[0]) else "")
        ok = sig & np.isfinite(g) & (g > 0)
        lo = np.where(np.isfinite(e), np.minimum(e, g * 0.999), 0.0)
        ax.errorbar(x[ok], g[ok], yerr=[lo[ok], np.nan_to_num(e[ok])], fmt="o-", color=color, capsize=3, ms=5,
                    label=name)
        lim = ~sig & np.isfinite(ul) & (ul > 0)
        if lim.any():
            ax.errorbar(x[lim], ul[lim], yerr=0.4 * ul[lim], uplims=True, fmt="v", color=color, ms=7,
                        capsize=3, label=f"{pair} upper limit (95 %)")
    ax.set_yscale("log")
    _log_decades(ax, np.r_[seg["conductance_S"].to_numpy(float)[seg["significant"].astype(bool).to_numpy()],
                           seg["upper_limit_S"].to_numpy(float)])
    label_ticks(ax, [c["label"] for c in cps], rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("G0 (S)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, frameon=False)


def _plot_g_vs(ax: Any, a: RunAnalysis, key: str, label: str) -> None:
    """G0 (±1σ; upper limits as downward triangles) against Xc or the c-Si intensity, one point per
    checkpoint that has both; Xc upper limits as leftward triangles."""
    ax.set_title(f"G0 vs {label}", loc="left", fontweight="bold", fontsize=10)
    cps = [c for c in a.checkpoints if c.get("iv_step_id") is not None and c.get("map_step_id") is not None]
    if not cps:
        _empty(ax, "no checkpoint with both an I-V and a map")
        return
    g, gerr, gul = _g0_points(cps)
    if key == "xc":
        v = np.array([_f(c.get("xc_mean")) for c in cps])
        v = np.where(np.isfinite(v), v, np.array([_f(c.get("xc_pooled")) for c in cps]))
        verr = np.full(len(cps), np.nan)
        vul = np.where(np.isfinite(v), np.nan, np.array([_f(c.get("xc_upper")) for c in cps]))
    else:
        v = np.array([_f(c.get("csi_norm")) for c in cps])
        verr = np.array([_f(c.get("csi_norm_err")) for c in cps])
        vul = np.array([_f(c.get("csi_norm_upper")) for c in cps])
    x = np.where(np.isfinite(vul), vul, v)
    y = np.where(np.isfinite(gul) & (gul > 0), gul, g)
    ok = np.isfinite(x) & np.isfinite(y) & (y > 0)
    if not ok.any():
        _empty(ax, f"no checkpoint with both G0 and {label}")
        return
    colors = _colors(len(cps))
    named = {id(c) for c in spread(cps, MAX_LEGEND)}  # legend entries: at most MAX_LEGEND checkpoints
    for k in np.nonzero(ok)[0]:
        g_lim, x_lim = np.isfinite(gul[k]) and gul[k] > 0, np.isfinite(vul[k])
        lo = min(_f(gerr[k]), g[k] * 0.999) if np.isfinite(gerr[k]) and not g_lim else 0.0
        ax.errorbar([x[k]], [y[k]], yerr=None if g_lim else [[lo], [np.nan_to_num(gerr[k])]],
                    xerr=None if x_lim else np.nan_to_num(verr[k]), fmt="o", color=colors[k], ms=6, capsize=3,
                    label=cps[k]["label"] if id(cps[k]) in named else "_nolegend_")
        if g_lim:
            ax.errorbar([x[k]], [y[k]], yerr=0.4 * y[k], uplims=True, fmt="v", color=colors[k], ms=8)
        if x_lim:
            ax.errorbar([x[k]], [y[k]], xerr=0.05, xuplims=True, fmt="<", color=colors[k], ms=8)
    ax.set_yscale("log")
    _log_decades(ax, y[ok])
    ax.set_xlim(-0.03, max(1.05, float(np.nanmax(x[ok])) + 0.1))
    ax.set_xlabel(label)
    ax.set_ylabel("G0 (S)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, frameon=False)
    ax.text(0.99, 0.01, "▼ / ◀: 95 % upper limits", transform=ax.transAxes, ha="right", fontsize=7,
            color="0.4")


def draw_pages(a: RunAnalysis, store: Any = None) -> list[Any]:
    """The figures after the summary page: Raman maps, mean spectra (needs ``store``), time line,
    conductance and capacity. Pages without data are left out."""
    return [*maps_pages(a), *spectra_page(a, store), *timeline_page(a), *conductance_page(a)]
