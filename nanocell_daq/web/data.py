"""What the web monitor shows, read from the store the way the GUI reads it (plain JSON-able data)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from nanocell_daq.storage import queue as queue_rows
from nanocell_daq.storage.leases import liveness

MAX_POINTS = 2000
"""A trace sent to the browser is decimated to at most this many points (min/max per bucket)."""


def _finite(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in values.tolist()]


def decimate(t: np.ndarray, *ys: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, ...]:
    """Keep at most ``max_points`` samples: every point of a short trace, else the first and the extremes
    of the first series in each bucket (peaks stay visible)."""
    n = len(t)
    if n <= max_points:
        return (t, *ys)
    buckets = max(max_points // 2, 1)
    edges = np.linspace(0, n, buckets + 1).astype(int)
    keep: list[int] = []
    ref = ys[0] if ys else t
    for a, b in itertools.pairwise(edges):
        if b <= a:
            continue
        seg = ref[a:b]
        keep += sorted({a + int(np.nanargmin(seg)) if np.isfinite(seg).any() else a,
                        a + int(np.nanargmax(seg)) if np.isfinite(seg).any() else a})
    idx = np.array(sorted(set(keep)), dtype=int)
    return (t[idx], *(y[idx] for y in ys))


def runs(store: Any) -> list[dict[str, Any]]:
    """Every run, newest first: id, status and liveness (running, paused, stale, dead), device, protocol."""
    summaries = store.runs()
    live = liveness(store, summaries)
    out = []
    for s in reversed(summaries):
        row = s.as_json()
        lv = live[s.id]
        row["stored_status"], row["status"] = row["status"], lv.state
        row["engine_pid"], row["engine_host"] = lv.engine_pid, lv.host
        row["heartbeat_age_s"] = None if lv.heartbeat_age_s is None else round(lv.heartbeat_age_s, 1)
        out.append(row)
    return out


def run(store: Any, run_id: int) -> dict[str, Any]:
    """One run: what ``runs`` shows, its reason, progress and steps. KeyError for an unknown run."""
    info = store.run(run_id)
    row = next(r for r in runs(store) if r["id"] == info.id)
    progress = store.progress(info.id)
    row.update(
        reason=info.reason,
        operator=info.operator,
        station=(info.station or {}).get("config", {}).get("name"),
        device_name=((info.station or {}).get("config", {}).get("device") or {}).get("device"),
        progress=None if progress is None else {
            "step": progress.step_label, "fraction": progress.fraction, "eta_s": progress.eta_s,
            "updated": progress.updated.isoformat()},
        steps=[{"id": s.id, "index": s.index, "kind": s.kind, "label": s.label, "status": s.status}
               for s in store.steps(info.id)],
    )
    return row


def cycling(store: Any, run_id: int, max_points: int = MAX_POINTS) -> dict[str, Any]:
    """E and I against t (engine clock, s), decimated."""
    data = store.cycling(run_id)
    t, e, i = decimate(data.t, data.E, data.I, max_points=max_points)
    return {"t_s": _finite(t), "E_V": _finite(e), "I_A": _finite(i), "points": len(data)}


def latest_iv(store: Any, run_id: int) -> dict[str, Any]:
    """The last I-V step's curve (V, I per contact pair)."""
    data = store.iv(run_id)
    if not len(data):
        return {"step_id": None, "curves": []}
    step = int(data.step_id[-1])
    mask = data.step_id == step
    curves = []
    for pair in dict.fromkeys(data.pair[mask].tolist()):
        sel = mask & (data.pair == pair)
        curves.append({"pair": str(pair), "V_V": _finite(data.V[sel]), "I_A": _finite(data.I[sel])})
    label = next((s.label for s in store.steps(run_id) if s.id == step), None)
    return {"step_id": step, "label": label, "curves": curves}


def latest_map(store: Any, run_id: int) -> dict[str, Any]:
    """The last map: total counts per pixel (ny rows of nx), with its grid."""
    grids = store.map_grids(run_id)
    if not grids:
        return {"grid": None, "intensity": []}
    grid = grids[-1]
    spectra = store.spectra(run_id, grid_id=grid.id)
    image = np.full(grid.nx * grid.ny, np.nan)
    if len(spectra.id):
        totals = spectra.counts.astype(np.float64).sum(axis=1)
        pixels = spectra.pixel.astype(int)
        ok = (pixels >= 0) & (pixels < image.size)
        image[pixels[ok]] = totals[ok]
    rows = [_finite(image[r * grid.nx:(r + 1) * grid.nx]) for r in range(grid.ny)]
    return {"grid": {"id": grid.id, "label": grid.label, "nx": grid.nx, "ny": grid.ny, "x0_um": grid.x0_um,
                     "y0_um": grid.y0_um, "dx_um": grid.dx_um, "dy_um": grid.dy_um},
            "intensity": rows}


def events(store: Any, run_id: int, after_id: int = 0, limit: int = 500) -> list[dict[str, Any]]:
    """The run's log after ``after_id`` (the last ``limit`` of them)."""
    found = store.events(run_id, after_id=after_id)[-limit:]
    return [{"id": e.id, "time": e.time.isoformat(), "level": e.level, "message": e.message} for e in found]


def queue(store: Any) -> list[dict[str, Any]]:
    """The run queue, oldest first."""
    return [e.as_dict() for e in queue_rows.entries(store)]
