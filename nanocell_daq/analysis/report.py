"""The one-page run report (PNG or PDF; a PDF continues with the pages of
:mod:`~nanocell_daq.analysis.report_pages`), in the spirit of Figure 10 E-I of the seed review.

Voltage vs capacity per cycle (with the steps' cut-off lines and any overshoot), the I-V curve at every
checkpoint (linear, scaled to share one axis as in the seed's "primary state/100", and log |I|), G0 (±1σ error
bars; an upper limit drawn as a downward triangle when not significant; other contact pairs as small markers)
and mean Xc vs checkpoint, Xc along the wire per checkpoint (map strips and profiles), and a table of the
numbers with the SOC definition, the contact/wire split and the cycling notes. matplotlib (Agg) only.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nanocell_daq.analysis.cycling import charge_curve
from nanocell_daq.analysis.export import require_finished
from nanocell_daq.analysis.glyphs import substitute_missing_glyphs
from nanocell_daq.analysis.raman_map import map_grid, wire_axis
from nanocell_daq.analysis.run_analysis import AnalysisParams, RunAnalysis, analyze_run, load_run_or_fail
from nanocell_daq.errors import UserError
from nanocell_daq.provenance import report_lines

REPORT_SUFFIXES = (".png", ".pdf")
PAH_PER_C = 1e12 / 3600.0
MAX_SHOWN = 12
"""A week-long run has ~100 checkpoints and cycles: graphics with one curve, panel or legend entry per
checkpoint or cycle show at most this many, evenly spread (first and last included), and say so."""
MAX_TABLE_ROWS = 12
MAX_NOTE_LINES = 4
"""Contact/wire split lines and cycling notes under the checkpoint table (each; the rest: ``analyze``)."""
"""Rows of the checkpoint, cycle and capacity tables, evenly spread likewise (all rows: analyze, export)."""


def spread(items: list[Any], limit: int = MAX_SHOWN) -> list[Any]:
    """At most ``limit`` of ``items``, evenly spread, first and last included; all of them if no more."""
    if len(items) <= limit:
        return list(items)
    keep = np.unique(np.linspace(0, len(items) - 1, max(limit, 2)).round().astype(int))
    return [items[k] for k in keep]


def shown_text(shown: int, total: int, what: str) -> str:
    """" (12 of 125 checkpoints, evenly spread)" when a graphic or table shows a selection, else ""."""
    return f" ({shown} of {total} {what}, evenly spread)" if shown < total else ""


MAX_LEGEND = 8
"""Legend entries drawn; with more curves, a line says how the colour runs instead (a legend of a long run's
selection would cover the graph)."""


def legend_or_note(ax: Any, first: str, last: str, style: str, **legend: Any) -> None:
    """A legend, or with more than MAX_LEGEND entries the colour scale in one line ("colour: A (dark) → B
    (light)") and ``style`` (e.g. what dashes mean)."""
    handles, _labels = ax.get_legend_handles_labels()
    if len(handles) <= MAX_LEGEND:
        ax.legend(**legend)
        return
    text = f"colour: {first} (dark) → {last} (light)" + (f"\n{style}" if style else "")
    ax.text(0.02, 0.98, text, transform=ax.transAxes, va="top", ha="left", fontsize=7, color="0.25",
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.8", "alpha": 0.85})


def label_ticks(ax: Any, labels: list[str], limit: int = MAX_SHOWN, **style: Any) -> None:
    """Tick labels at positions 0..n-1, or at ``limit`` evenly spread ones when there are more."""
    keep = spread(list(range(len(labels))), limit)
    ax.set_xticks(keep)
    ax.set_xticklabels([labels[k] for k in keep], **style)


def _pyplot() -> Any:
    """matplotlib on the Agg backend (no display, no Qt), imported only when a report is drawn."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _colors(n: int) -> list[Any]:
    import matplotlib

    cmap = matplotlib.colormaps["plasma"]
    return [cmap(0.05 + 0.8 * k / max(n - 1, 1)) for k in range(n)]


def _si(value: float | None, unit: str, digits: int = 3) -> str:
    """1.23 nS style (engineering prefix)."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if value == 0:
        return f"0 {unit}"
    prefixes = {-15: "f", -12: "p", -9: "n", -6: "µ", -3: "m", 0: "", 3: "k", 6: "M", 9: "G"}
    value = float(f"{value:.{digits}g}")  # round first so 0.9999e-6 shows as 1 µS, not 1e+03 nS
    exp = int(math.floor(math.log10(abs(value)) / 3) * 3)
    exp = min(max(exp, -15), 9)
    return f"{value / 10**exp:.{digits}g} {prefixes[exp]}{unit}"


def _num(value: float | None, fmt: str = ".2f") -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    text = format(value, fmt)
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.00"


def _title(a: RunAnalysis) -> str:
    r = a.run
    started = r.get("started")
    ended = r.get("ended")
    when = started.strftime("%Y-%m-%d %H:%M UTC") if isinstance(started, dt.datetime) else "?"
    if isinstance(started, dt.datetime) and isinstance(ended, dt.datetime):
        when += f", wall time {_duration((ended - started).total_seconds())}"
    if not a.cycling_points.empty:
        # The engine clock (simulated time on a simulated bench) is the one the data follow.
        span = float(np.nanmax(a.cycling_points["t_s"]) - np.nanmin(a.cycling_points["t_s"]))
        when += f", cycling over {_duration(span)} (engine clock)"
    device = r.get("device") or "unknown device"
    wire = f" ({r['wire']})" if r.get("wire") else ""
    status = str(r.get("status"))
    if r.get("reason"):
        status += f": {r['reason']}"
    from nanocell_daq.analysis.report_pages import header_line  # (that module draws on this one)

    return (
        f"Run {a.run_id} · {device}{wire} · {r.get('protocol_name')}\n"
        f"status {status} · started {when} · Xc with y = {a.params.y:g}\n{header_line(a)}"
    )


def _duration(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _xc_cmap() -> Any:
    import matplotlib

    return matplotlib.colormaps["viridis"].with_extremes(bad="0.82")  # grey: no Si band (Xc undefined)


def _plot_cycling(ax: Any, a: RunAnalysis) -> None:
    ax.set_title("a  Voltage vs capacity", loc="left", fontweight="bold")
    pts = a.cycling_points
    hcs = a.half_cycles
    if pts.empty or not hcs:
        ax.text(0.5, 0.5, "no cycling data", ha="center", va="center", transform=ax.transAxes, color="0.4")
        ax.set_axis_off()
        return
    every = sorted({h["cycle"] for h in hcs})
    cycles = spread(every)
    if len(cycles) < len(every):
        selection = shown_text(len(cycles), len(every), "cycles").replace(" (", "\n(")  # a line of its own
        ax.set_title("a  Voltage vs capacity" + selection, loc="left", fontweight="bold")
    colors = dict(zip(cycles, _colors(len(cycles)), strict=True))
    by_step = dict(tuple(pts.groupby("step_id", sort=False)))
    for h in hcs:
        if h["cycle"] not in colors or h["step_id"] not in by_step:
            continue
        seg = by_step[h["step_id"]].sort_values("t_s")
        q = np.abs(_charge_curve(seg)) * PAH_PER_C
        style = "-" if h["direction"] == "charge" else "--"
        ax.plot(
            q,
            seg["voltage_V"].to_numpy(float),
            style,
            color=colors[h["cycle"]],
            lw=1.6,
            label=f"cycle {h['cycle']} {h['direction']}",
        )
    _cutoff_lines(ax, hcs)
    ax.set_xlabel("capacity (pAh)")
    ax.set_ylabel("cell voltage (V)")
    legend_or_note(ax, f"cycle {cycles[0]}", f"cycle {cycles[-1]}", "solid: charge, dashed: discharge",
                   fontsize=7, frameon=False, loc="best")
    ax.grid(alpha=0.3)


def _charge_curve(seg: pd.DataFrame) -> np.ndarray:
    """Charge passed (C) at each point of a step (in time order): the analysis' curve computed on every point
    (``charge_curve_C``, the points being thinned for plots), else :func:`~nanocell_daq.analysis.cycling.
    charge_curve` of these points."""
    if "charge_curve_C" in seg.columns:
        return seg["charge_curve_C"].to_numpy(float)
    return charge_curve(seg["t_s"].to_numpy(float), seg["current_A"].to_numpy(float),
                        seg["charge_C"].to_numpy(float) if "charge_C" in seg.columns else None)


def _cutoff_lines(ax: Any, hcs: list[dict[str, Any]]) -> None:
    """A dotted line at each voltage cut-off of the half-cycles; an overshoot beyond it is labelled."""
    for v in sorted({h["cutoff_V"] for h in hcs if np.isfinite(h.get("cutoff_V", np.nan))}):
        ax.axhline(v, color="0.35", ls=":", lw=1.0)
        ax.text(0.99, v, f"cut-off {v:g} V", transform=ax.get_yaxis_transform(), ha="right",
                va="bottom", fontsize=7, color="0.35")
    worst = [h for h in hcs if np.isfinite(h.get("overshoot_V", np.nan)) and h["overshoot_V"] > 0.005]
    if worst:
        h = max(worst, key=lambda x: x["overshoot_V"])
        ax.text(0.02, 0.02, f"overshoot: {1000 * h['overshoot_V']:.0f} mV beyond {h['cutoff_V']:g} V "
                f"({h.get('label') or h['direction']})", transform=ax.transAxes, fontsize=7, color="tab:red")


def _iv_curves(a: RunAnalysis) -> list[tuple[str, pd.DataFrame, Any]]:
    """(label, points, color) of the primary pair's I-V at each checkpoint that has one."""
    cps = spread([c for c in a.checkpoints if c.get("iv_step_id") is not None])
    colors = _colors(len(cps))
    out = []
    by_step = dict(tuple(a.iv_points.groupby("step_id", sort=False))) if not a.iv_points.empty else {}
    for c, color in zip(cps, colors, strict=True):
        seg = by_step.get(c["iv_step_id"], a.iv_points.iloc[:0])
        if "pair" in seg.columns and (seg["pair"] == "S-D").any():
            seg = seg[seg["pair"] == "S-D"]
        elif "pair" in seg.columns and not seg.empty:
            seg = seg[seg["pair"] == seg["pair"].iloc[0]]
        out.append((c["label"], seg, color))
    return out


def _plot_iv(ax_lin: Any, ax_log: Any, a: RunAnalysis) -> None:
    curves = _iv_curves(a)
    n_iv = sum(c.get("iv_step_id") is not None for c in a.checkpoints)
    selection = shown_text(len(curves), n_iv, "checkpoints").replace(" (", "\n(")  # (on a line of its own)
    ax_lin.set_title("b  I-V at each checkpoint" + selection, loc="left", fontweight="bold")
    ax_log.set_title("c  I-V, log scale", loc="left", fontweight="bold")
    if not curves:
        for ax in (ax_lin, ax_log):
            ax.text(0.5, 0.5, "no I-V data", ha="center", va="center", transform=ax.transAxes, color="0.4")
            ax.set_axis_off()
        return
    peaks = [float(np.nanmax(np.abs(seg["current_A"]))) for _, seg, _ in curves if not seg.empty]
    smallest = min(p for p in peaks if p > 0) if any(p > 0 for p in peaks) else 1.0
    unit_exp = int(math.floor(math.log10(smallest) / 3) * 3)
    unit = {-15: "fA", -12: "pA", -9: "nA", -6: "µA", -3: "mA"}.get(unit_exp, "A")
    for label, seg, color in curves:
        if seg.empty:
            continue
        v = seg["voltage_V"].to_numpy(float)
        i = seg["current_A"].to_numpy(float)
        # Scale big curves down by powers of ten so every curve is visible on one axis (seed: "primary/100").
        peak = float(np.nanmax(np.abs(i)))
        k = max(0, math.floor(math.log10(peak / smallest))) if peak > 0 and smallest > 0 else 0
        tag = f" (÷{10**k:g})" if k else ""
        ax_lin.plot(v, i / 10**k / 10**unit_exp, "-", color=color, lw=1.4, label=label + tag)
        ax_log.semilogy(v, np.abs(i), "-", color=color, lw=1.2, label=label)
    ax_lin.set_xlabel("bias V (V)")
    ax_lin.set_ylabel(f"current I ({unit})")
    ax_lin.axhline(0, color="0.6", lw=0.6)
    ax_lin.axvline(0, color="0.6", lw=0.6)
    legend_or_note(ax_lin, curves[0][0], curves[-1][0], "", fontsize=7, frameon=False, loc="upper left")
    ax_lin.grid(alpha=0.3)
    ax_log.set_xlabel("bias V (V)")
    ax_log.set_ylabel("|I| (A)")
    ax_log.grid(alpha=0.3, which="both")
    legend_or_note(ax_log, curves[0][0], curves[-1][0], "", fontsize=7, frameon=False, loc="lower right")


def _plot_trend(ax: Any, a: RunAnalysis) -> None:
    ax.set_title("d  Conductance and Xc vs checkpoint", loc="left", fontweight="bold")
    cps = a.checkpoints
    if not cps:
        ax.text(0.5, 0.5, "no checkpoints", ha="center", va="center", transform=ax.transAxes, color="0.4")
        ax.set_axis_off()
        return
    x = np.arange(len(cps))
    g, ok = _plot_g0(ax, x, cps)
    ax.set_ylabel("zero-bias conductance G0 (S)", color="tab:blue")
    ax.tick_params(axis="y", colors="tab:blue", which="both")
    if ok.any():  # whole decades around the values (one point with a tiny error: no singular axis)
        lo, hi = np.log10(g[ok].min()), np.log10(g[ok].max())
        ax.set_ylim(10 ** (math.floor(lo) - 0.2), 10 ** (math.ceil(hi) + 0.2))
    label_ticks(ax, [c["label"] for c in cps], rotation=25, ha="right", fontsize=8)
    ax.grid(alpha=0.3, which="both")
    xc = np.array([c["xc_mean"] if c["xc_mean"] is not None else np.nan for c in cps], float)
    pooled = np.array([c.get("xc_pooled", np.nan) for c in cps], float)  # few significant pixels: summed
    xc = np.where(np.isfinite(xc), xc, pooled)
    okx = np.isfinite(xc)
    upper = np.array([c.get("xc_upper", np.nan) for c in cps], float)  # no significant c-Si: "Xc < x"
    upper = np.where(okx, np.nan, upper)
    oku = np.isfinite(upper)
    if okx.any() or oku.any():  # no Xc axis for a wire without Si bands (H2V3O8) or a run without maps
        twin = ax.twinx()
        twin.plot(x[okx], xc[okx], "s--", color="tab:green", lw=1.4, ms=6, label="mean Xc")
        if oku.any():
            twin.plot(x[oku], upper[oku], "v", color="tab:green", ms=8, mfc="none",
                      label="Xc upper limit (95 %)")
        twin.set_ylim(-0.02, 1.02)
        twin.set_ylabel("mean crystalline fraction Xc", color="tab:green")
        twin.tick_params(axis="y", colors="tab:green")
    if ok.sum() >= 2:
        ax.text(
            0.98,
            0.96,
            _g0_change(cps),
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=8,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"},
        )


def _g0_points(cps: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(G0, its error, upper limit or NaN) per checkpoint; the value shown is the upper limit when G0 is not
    significant."""
    g = np.array([_f(c.get("conductance_S")) for c in cps])
    err = np.array([_f(c.get("conductance_err_S")) for c in cps])
    ul = np.array([_f(c.get("conductance_upper_limit_S")) if not c.get("conductance_significant", True)
                   else np.nan for c in cps])
    return g, err, ul


def _f(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and value is not None else float("nan")


def _plot_g0(ax: Any, x: np.ndarray, cps: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """G0 per checkpoint on a log axis: measured values with 1-sigma error bars, upper limits as downward
    triangles with an arrow, other contact pairs (segments) as small markers; returns (values, shown?)."""
    g, err, ul = _g0_points(cps)
    limit = np.isfinite(ul) & (ul > 0)
    measured = np.isfinite(g) & (g > 0) & ~limit
    shown = np.where(limit, ul, g)
    ok = measured | limit
    ax.semilogy(x[ok], shown[ok], "-", color="tab:blue", lw=1.2, alpha=0.6)
    lo = np.where(np.isfinite(err), np.minimum(err, g * 0.999), 0.0)
    ax.errorbar(x[measured], g[measured], yerr=[lo[measured], np.nan_to_num(err[measured])], fmt="o",
                color="tab:blue", ms=6, capsize=3, label="G0 (zero bias, ±1σ)")
    if limit.any():
        ax.errorbar(x[limit], ul[limit], yerr=0.4 * ul[limit], uplims=True, fmt="v", color="tab:blue", ms=7,
                    capsize=3, label="G0 upper limit (95 %)")
    pairs = sorted({p for c in cps for p in (c.get("per_pair") or {}) if p not in ("S-D", "", "None")})
    for k, pair in enumerate(pairs):
        vals = np.array([_f(((c.get("per_pair") or {}).get(pair) or {}).get("conductance_S")) for c in cps])
        sig = np.array([bool(((c.get("per_pair") or {}).get(pair) or {}).get("conductance_significant", True))
                        for c in cps])
        good = np.isfinite(vals) & (vals > 0) & sig
        if good.any():
            ax.semilogy(x[good] + 0.06 * (k + 1), vals[good], "d", ms=4, alpha=0.7, color=f"C{k + 3}",
                        label=f"G0 {pair}")
    if pairs:
        ax.legend(fontsize=6, frameon=False, loc="lower left")
    return shown, ok


def _g0_change(cps: list[dict[str, Any]]) -> str:
    """ΔG0 from the first to the last checkpoint, in decades; a bound when either end is an upper limit."""
    g, _, ul = _g0_points(cps)
    idx = [k for k in range(len(cps)) if np.nan_to_num(ul[k]) > 0 or np.nan_to_num(g[k]) > 0]
    first, last = idx[0], idx[-1]
    if np.isfinite(ul[first]):
        return "ΔG0: first G0 is an upper limit"
    if np.isfinite(ul[last]):
        return f"ΔG0 < {math.log10(ul[last] / g[first]):+.1f} decades"
    return f"ΔG0 = {math.log10(g[last] / g[first]):+.1f} decades"


def _map_checkpoints(a: RunAnalysis) -> list[tuple[str, pd.DataFrame]]:
    return [
        (c["label"], a.maps[c["map_step_id"]])
        for c in a.checkpoints
        if c.get("map_step_id") is not None and c["map_step_id"] in a.maps
    ]


def _is_line_map(pixels: pd.DataFrame) -> bool:
    """A line map (one row of pixels along the wire), drawn as a thin strip."""
    return "y_um" not in pixels or pixels["y_um"].round(3).nunique() <= 1


def _plot_maps(fig: Any, spec: Any, a: RunAnalysis) -> None:
    """Xc along the wire: one strip (line map) or image (area map) per checkpoint, and the profiles."""
    maps = _map_checkpoints(a)
    left, right = spec.subgridspec(1, 2, width_ratios=[1.35, 1.0], wspace=0.28)
    if not maps:
        ax = fig.add_subplot(spec)
        ax.text(0.5, 0.5, "no Raman maps", ha="center", va="center", transform=ax.transAxes, color="0.4")
        ax.set_axis_off()
        return
    shown = spread(maps, 6 if all(_is_line_map(p) for _, p in maps) else 4)  # area maps need height
    strips = left.subgridspec(len(shown), 1, hspace=0.15)
    image = None
    wire = a.wire
    for k, (label, pixels) in enumerate(shown):
        ax = fig.add_subplot(strips[k])
        xs, ys, grid = map_grid(pixels, "xc")
        if grid.size == 0:
            continue
        if ys.size == 1:
            origin, d = wire_axis(pixels, *(wire or (None, None)))
            s = (pixels[["x_um", "y_um"]].to_numpy(float) - origin) @ d
            order = np.argsort(s)
            step = np.median(np.diff(s[order])) if s.size > 1 else 1.0
            extent = (s.min() - step / 2, s.max() + step / 2, 0, 1)
            image = ax.imshow(
                pixels["xc"].to_numpy(float)[order][None, :],
                aspect="auto",
                extent=extent,
                cmap=_xc_cmap(),
                vmin=0,
                vmax=1,
                interpolation="nearest",
            )
            ax.set_yticks([])
        else:
            dx = np.median(np.diff(xs)) if xs.size > 1 else 1.0
            dy = np.median(np.diff(ys)) if ys.size > 1 else 1.0
            extent = (xs[0] - dx / 2, xs[-1] + dx / 2, ys[0] - dy / 2, ys[-1] + dy / 2)
            image = ax.imshow(
                grid,
                origin="lower",
                extent=extent,
                aspect="auto",
                cmap=_xc_cmap(),
                vmin=0,
                vmax=1,
                interpolation="nearest",
            )
            ax.tick_params(labelsize=7)
            ax.set_ylabel("y (µm)", fontsize=7)
        if ys.size == 1:
            ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
        else:
            ax.text(0.01, 0.95, label, transform=ax.transAxes, va="top", fontsize=8, color="white")
        if not np.isfinite(pixels["xc"].to_numpy(float)).any():
            ax.text(
                0.5,
                0.5,
                "no Si band above noise: Xc undefined",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=8,
                color="0.25",
            )
        if k == 0:
            title = "e  Xc map along the wire (per checkpoint)" + shown_text(len(shown), len(maps), "maps")
            ax.set_title(title, loc="left", fontweight="bold")
        if k < len(shown) - 1:
            ax.set_xticklabels([])
        else:
            ax.set_xlabel("distance along the wire (µm)" if ys.size == 1 else "x (µm)")
    if image is not None:
        bar = fig.colorbar(image, ax=fig.axes[-len(shown) :], location="right", fraction=0.025, pad=0.01)
        bar.set_label("Xc (grey: no Si band)", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    axp = fig.add_subplot(right)
    profiles = spread(maps)
    axp.set_title("f  Xc profile along the wire" + shown_text(len(profiles), len(maps), "maps"), loc="left",
                  fontweight="bold")
    colors = dict(zip([c["label"] for c in a.checkpoints], _colors(len(a.checkpoints)), strict=True))
    for label, _pixels in profiles:
        sid = next(c["map_step_id"] for c in a.checkpoints if c["label"] == label)
        prof = a.profiles.get(sid)
        if prof is None or prof.empty:
            continue
        axp.plot(prof["distance_um"], prof["mean"], "o-", ms=3, lw=1.4, color=colors.get(label), label=label)
        if (prof["n"] > 1).any():
            axp.fill_between(
                prof["distance_um"],
                prof["mean"] - prof["std"],
                prof["mean"] + prof["std"],
                color=colors.get(label),
                alpha=0.15,
            )
    axp.set_ylim(-0.02, 1.02)
    axp.set_xlabel("distance along the wire (µm)")
    axp.set_ylabel("crystalline fraction Xc")
    axp.grid(alpha=0.3)
    legend_or_note(axp, profiles[0][0], profiles[-1][0], "", fontsize=7, frameon=False, loc="best")


def _checkpoint_rows(a: RunAnalysis) -> tuple[list[str], list[list[str]]]:
    header = [
        "checkpoint",
        "cycle",
        "SOC",
        "charge (nC)",
        "G0",
        "chord G",
        "NL",
        "rect.",
        "Xc mean",
        "c-Si / pristine",
        "c-Si (cm⁻¹)",
    ]
    rows = []
    tl = a.timeline
    for c in spread(a.checkpoints, MAX_TABLE_ROWS):
        chord = np.nan
        if c.get("iv_step_id") is not None and not a.iv_table.empty:
            sub = a.iv_table[a.iv_table["step_id"] == c["iv_step_id"]]
            if not sub.empty:
                chord = float(sub["chord_conductance_S"].iloc[0])
        pos = np.nan
        if c.get("map_step_id") is not None and not tl.empty:
            hit = tl[tl["step_id"] == c["map_step_id"]]
            if not hit.empty:
                pos = float(hit["c_position_cm1"].iloc[0])
        rows.append(
            [
                str(c["label"]),
                "-" if c.get("cycle") is None else str(c["cycle"]),
                _num(c.get("soc")),
                _num((c.get("charge_passed_C") or 0.0) * 1e9, ".3f"),
                _g0_cell(c),
                _si(chord, "S"),
                _num(c.get("nonlinearity"), ".1f"),
                _num(c.get("rectification"), ".2f"),
                _xc_cell(c),
                _norm_cell(c),
                _num(pos, ".1f"),
            ]
        )
    return header, rows


def _xc_cell(c: dict[str, Any]) -> str:
    """Mean Xc, else Xc of the summed areas, else "<limit" where no c-Si band is significant."""
    for key in ("xc_mean", "xc_pooled"):  # the pooled value where few pixels keep a significant peak
        if c.get(key) is not None and np.isfinite(c[key]):
            return _num(c[key])
    up = c.get("xc_upper")
    return f"<{up:.3f}" if up is not None and np.isfinite(up) else _num(None)


def _norm_cell(c: dict[str, Any]) -> str:
    """Mean c-Si band area relative to the pristine map ± error, or "< limit" (95 %) when not significant."""
    up = _f(c.get("csi_norm_upper"))
    if np.isfinite(up):
        return f"< {up:.2f}"
    value, err = _f(c.get("csi_norm")), _f(c.get("csi_norm_err"))
    return _num(value) + (f" ± {err:.2f}" if np.isfinite(value) and np.isfinite(err) else "")


def _g0_cell(c: dict[str, Any]) -> str:
    """G0 ± error, or "< upper limit" when not significant."""
    if not c.get("conductance_significant", True) and np.isfinite(_f(c.get("conductance_upper_limit_S"))):
        return "< " + _si(c["conductance_upper_limit_S"], "S", 2)
    err = _f(c.get("conductance_err_S"))
    text = _si(c.get("conductance_S"), "S")
    return text + (f" ± {_si(err, 'S', 3)}" if np.isfinite(err) else "")


def _cycle_rows(a: RunAnalysis) -> tuple[list[str], list[list[str]]]:
    header = ["cycle", "Q ch (pAh)", "Q dis (pAh)", "CE", "V̄ ch (V)", "V̄ dis (V)", "ΔV (V)"]
    rows = []
    table = a.cycle_table
    for _, r in table.iloc[spread(list(range(len(table))), MAX_TABLE_ROWS)].iterrows():
        rows.append(
            [
                str(int(r["cycle"])),
                _num(r["charge_capacity_pAh"], ".4f"),
                _num(r["discharge_capacity_pAh"], ".4f"),
                _num(r["coulombic_efficiency"], ".3f"),
                _num(r["mean_charge_voltage_V"], ".3f"),
                _num(r["mean_discharge_voltage_V"], ".3f"),
                _num(r["voltage_hysteresis_V"], ".3f"),
            ]
        )
    return header, rows


def _table(ax: Any, title: str, header: list[str], rows: list[list[str]]) -> None:
    ax.set_axis_off()
    ax.set_title(title, loc="left", fontweight="bold")
    if not rows:
        ax.text(0.0, 0.8, "none", transform=ax.transAxes, color="0.4")
        return
    widths = [max(len(h), *(len(r[k]) for r in rows)) + 2 for k, h in enumerate(header)]
    total = sum(widths)
    table = ax.table(
        cellText=rows,
        colLabels=header,
        loc="upper center",
        cellLoc="center",
        colWidths=[w / total for w in widths],
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1.0, 1.35)
    for (row, _col), cell in table.get_celld().items():
        cell.set_edgecolor("0.8")
        if row == 0:
            cell.set_facecolor("0.92")
            cell.set_text_props(fontweight="bold")


def _footnotes(a: RunAnalysis) -> list[str]:
    """Lines under the checkpoint table: G0's definition, upper limits, SOC, the contact/wire split, notes."""
    lines = ["G0 = dI/dV at 0 V from a fit of the whole sweep (Schottky + R or line), ±1σ"]
    n_cp, n_cy = len(a.checkpoints), len(a.cycle_table)
    if n_cp > MAX_TABLE_ROWS or n_cy > MAX_TABLE_ROWS:
        lines.append(f"tables g and h: {min(n_cp, MAX_TABLE_ROWS)} of {n_cp} checkpoints and "
                     f"{min(n_cy, MAX_TABLE_ROWS)} of {n_cy} cycles, evenly spread (every row: "
                     f"`nanocell analyze`, `nanocell export`)")
    if any(not c.get("conductance_significant", True) for c in a.checkpoints):
        lines.append("< x: G0 not significant (< 3σ), one-sided 95 % upper limit")
    if a.soc_definition:
        lines.append(a.soc_definition)
    splits = [c for c in a.checkpoints if c.get("contact_split")]
    for c in spread(splits, MAX_NOTE_LINES):
        lines.append(f"{c['label']}: {c['contact_split'].get('text')}")
    if len(splits) > MAX_NOTE_LINES:
        lines.append(f"(the contact/wire split of {len(splits) - MAX_NOTE_LINES} more checkpoints: "
                     f"`nanocell analyze`)")
    lines += a.notes[:MAX_NOTE_LINES]
    if len(a.notes) > MAX_NOTE_LINES:
        lines.append(f"({len(a.notes) - MAX_NOTE_LINES} more notes on the cycling: `nanocell analyze`)")
    return lines


def draw_report(a: RunAnalysis, provenance: list[str] | None = None) -> Any:
    """The report figure of an analysed run (a matplotlib Figure, Agg backend); ``provenance``: lines of
    :func:`nanocell_daq.provenance.report_lines`, the first ones shown in the page's footer."""
    plt = _pyplot()
    fig = plt.figure(figsize=(16.5, 11.7), dpi=100, layout="constrained")
    fig.get_layout_engine().set(h_pad=0.08, w_pad=0.08, hspace=0.05, wspace=0.04)
    map_height = 0.85 if a.maps else 0.12  # no maps: a one-line note, not an empty band
    # Notes wrapped to the table's width, in a band of their own sized by their lines (long lines would
    # squeeze the table, an unreserved block would run off the page).
    notes = [part for line in _footnotes(a) for part in textwrap.wrap(line, 165, subsequent_indent="    ")]
    table_h, notes_h = 0.065 * (min(len(a.checkpoints), MAX_TABLE_ROWS) + 2), 0.047 * len(notes)
    outer = fig.add_gridspec(3, 1, height_ratios=[1.0, map_height, max(0.5, table_h + notes_h)])
    top = outer[0].subgridspec(1, 4)
    _plot_cycling(fig.add_subplot(top[0]), a)
    _plot_iv(fig.add_subplot(top[1]), fig.add_subplot(top[2]), a)
    _plot_trend(fig.add_subplot(top[3]), a)
    _plot_maps(fig, outer[1], a)
    bottom = outer[2].subgridspec(1, 2, width_ratios=[1.75, 1.0])
    left = bottom[0].subgridspec(2, 1, height_ratios=[table_h, max(notes_h, 1e-3)], hspace=0.0)
    ax_cp = fig.add_subplot(left[0])
    _table(ax_cp, "g  Checkpoints", *_checkpoint_rows(a))
    ax_notes = fig.add_subplot(left[1])
    ax_notes.set_axis_off()
    ax_notes.text(0.0, 1.0, "\n".join(notes), transform=ax_notes.transAxes, fontsize=8, color="0.3",
                  va="top").set_in_layout(False)
    _table(fig.add_subplot(bottom[1]), "h  Cycles", *_cycle_rows(a))
    fig.suptitle(_title(a), fontsize=13, fontweight="bold")
    if a.warnings:
        fig.text(0.01, 0.003, "; ".join(a.warnings), fontsize=8, color="tab:red", va="bottom")
    if provenance:
        footer = textwrap.shorten(" · ".join(provenance[:4]), 260, placeholder=" …")
        fig.text(0.995, 0.003, footer, fontsize=6.5, color="0.45", ha="right", va="bottom")
    return fig


def draw_provenance_page(lines: list[str]) -> Any:
    """A page with the run's whole provenance (the PDF's last page)."""
    plt = _pyplot()
    fig = plt.figure(figsize=(16.5, 11.7), dpi=100)
    wrapped = [part for line in lines for part in textwrap.wrap(line, 150, subsequent_indent="    ")]
    fig.text(0.04, 0.95, "Provenance", fontsize=13, fontweight="bold", va="top")
    fig.text(0.04, 0.91, "\n".join(wrapped), fontsize=9, family="monospace", va="top")
    fig.text(0.04, 0.03, "the station and protocol files as recorded: `nanocell show RUN --texts`",
             fontsize=8, color="0.4")
    return fig


def write_report(
    store: Any,
    run_id: int | str,
    output: str | Path,
    *,
    y: float = 0.8,
    allow_running: bool = False,
) -> Path:
    """Analyse the run (cached) and write its report by the file suffix: PNG, the one-page summary; PDF, the
    summary then the pages of :mod:`~nanocell_daq.analysis.report_pages` (maps, spectra, time line, ...)."""
    out = Path(output)
    if out.suffix.lower() not in REPORT_SUFFIXES:
        raise UserError(f"{out}: the report is written as .png or .pdf (got {out.suffix or 'no suffix'!r})")
    if not out.parent.exists():
        raise UserError(f"{out}: folder {out.parent} does not exist")
    info = load_run_or_fail(store, run_id)
    require_finished(info, "report", allow_running)
    params = AnalysisParams(y=y)
    a = analyze_run(store, info.id, params=params)
    provenance = report_lines(store, info.id, {"parameters": params.key()})
    fig = draw_report(a, provenance)
    substitute_missing_glyphs(fig)  # a Unicode protocol or device name: "?" for what the font cannot draw
    plt = _pyplot()
    if out.suffix.lower() != ".pdf":
        try:
            fig.savefig(out, dpi=150)
        finally:
            plt.close(fig)
        return out
    from matplotlib.backends.backend_pdf import PdfPages

    from nanocell_daq.analysis.report_pages import draw_pages

    figures = [fig]
    try:
        figures += draw_pages(a, store)
        figures.append(draw_provenance_page(provenance))
        for page in figures[1:]:
            substitute_missing_glyphs(page)
        with PdfPages(out) as pdf:
            for page in figures:
                pdf.savefig(page)
    finally:
        for page in figures:
            plt.close(page)
    return out
