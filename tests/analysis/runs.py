"""Small but realistic runs written through the store API (pristine, after charge 1, after cycle 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nanocell_daq.storage import Store
from tests.analysis.synthetic import raman_spectrum, schottky_current, sweep

STATION = {
    "device": {
        "chip": "SYN-SI-01",
        "wire": "Si/a-Si core/shell nanowire",
        "nominal_capacity_Ah": 6e-13,
        "wire_position_um": {"start": [100.0, 200.0], "end": [110.0, 200.0], "z": 0.0},
    }
}
# (label, conductance S, nonlinear?, c-Si area per pixel, a-Si area per pixel)
CHECKPOINTS = [
    ("pristine", 1.0e-6, False, 15000.0, 4000.0),
    ("after charge 1", 2.0e-8, True, 4000.0, 10000.0),
    ("after cycle 1", 3.0e-9, True, 800.0, 12000.0),
]
CAPACITY_C = 2.0e-9
CURRENT_A = 5e-12


def _probe(
    store: Store,
    w,
    run: int,
    index: int,
    label: str,
    cycle: int | None,
    g: float,
    nonlinear: bool,
    areas: tuple[float, float],
    axis_id: int,
    axis: np.ndarray,
    rng: np.random.Generator,
    n_pixels: int,
) -> int:
    iv = store.start_step(run, index, "iv", {"pairs": ["S-D"], "v_max_V": 0.5}, cycle=cycle, label=label)
    v = sweep(0.5, 0.02)
    i = schottky_current(v, g * 0.1, g * 0.14, 0.1) if nonlinear else g * v
    i = i + rng.normal(0, 5e-13, v.size)
    direction = np.where(np.r_[True, np.diff(v) > 0], "up", "down")
    for k in range(v.size):
        w.iv_point(iv, float(v[k]), float(i[k]), str(direction[k]), "S-D", float(k))
    store.end_step(iv)
    rm = store.start_step(run, index + 1, "raman_map", {"mode": "line"}, cycle=cycle, label=label)
    grid = store.add_map_grid(
        run, 100.0, 200.0, 10.0 / (n_pixels - 1), 1.0, n_pixels, 1, step_id=rm, label=label
    )
    for p in range(n_pixels):
        # the far end of the wire loses its crystalline core first (inhomogeneous degradation)
        c_area = areas[0] * (1.0 if p < n_pixels // 2 else 0.6)
        _, counts = raman_spectrum(rng, c_area, areas[1], axis=axis)
        if p == 2:
            counts[262] += 3000.0  # a cosmic ray at ~535 cm-1, on the c-Si shoulder
        w.spectrum(
            rm,
            100.0 + p * 10.0 / (n_pixels - 1),
            200.0,
            0.0,
            2.0,
            counts.astype(np.float32),
            axis_id,
            grid,
            p,
            float(p),
        )
    store.end_step(rm)
    return index + 2


def _galvanostatic(
    store: Store, w, run: int, index: int, label: str, cycle: int, sign: float, t0: float
) -> float:
    step = store.start_step(
        run, index, "galvanostatic", {"current_A": sign * CURRENT_A}, cycle=cycle, label=label
    )
    t = t0 + np.linspace(0.0, CAPACITY_C / CURRENT_A, 200)
    frac = (t - t0) / (t[-1] - t0)
    e = 3.0 + 0.9 * frac if sign > 0 else 3.85 - 0.9 * frac
    for k in range(t.size):
        w.cycling_point(step, float(t[k]), float(e[k]), sign * CURRENT_A, sign * CURRENT_A * (t[k] - t0))
    store.end_step(step)
    return float(t[-1])


def build_run(path: Path, *, finish: bool = True, n_pixels: int = 12, seed: int = 0) -> tuple[Path, int]:
    """A database at ``path`` with one Si run: probe, charge, rest, probe, discharge, probe."""
    rng = np.random.default_rng(seed)
    store = Store.open(path)
    dev = store.add_device("SYN-SI-01", "Si/a-Si core/shell nanowire", extra={"nominal_capacity_Ah": 6e-13})
    run = store.create_run("synthetic Si: pristine then 1 cycle", "steps: []", device_id=dev, station=STATION)
    axis = np.linspace(100.0, 1800.0, 1024)
    axis_id = store.add_axis(axis)
    with store.writer(flush_interval=0.05) as w:
        idx = _probe(
            store,
            w,
            run,
            0,
            *CHECKPOINTS[0][:1],
            None,
            *CHECKPOINTS[0][1:3],
            CHECKPOINTS[0][3:],
            axis_id,
            axis,
            rng,
            n_pixels,
        )
        t = _galvanostatic(store, w, run, idx, "charge 1", 1, +1.0, 0.0)
        rest = store.start_step(run, idx + 1, "rest", {"duration_s": 60}, cycle=1, label="rest")
        for k in range(5):
            w.cycling_point(rest, t + 10.0 * k, 3.85 - 0.01 * k, 0.0, 0.0)
        store.end_step(rest)
        idx = _probe(
            store,
            w,
            run,
            idx + 2,
            CHECKPOINTS[1][0],
            1,
            *CHECKPOINTS[1][1:3],
            CHECKPOINTS[1][3:],
            axis_id,
            axis,
            rng,
            n_pixels,
        )
        _galvanostatic(store, w, run, idx, "discharge 1", 1, -1.0, t + 100.0)
        _probe(
            store,
            w,
            run,
            idx + 1,
            CHECKPOINTS[2][0],
            1,
            *CHECKPOINTS[2][1:3],
            CHECKPOINTS[2][3:],
            axis_id,
            axis,
            rng,
            n_pixels,
        )
        w.event(run, "info", "synthetic run written")
    if finish:
        store.finish_run(run, "completed")
    store.close()
    return path, run


def build_empty_run(path: Path, *, with_step: bool = True) -> int:
    """A finished run with one step (or none) and no data points."""
    store = Store.open(path)
    run = store.create_run("empty", "")
    if with_step:
        s = store.start_step(run, 0, "iv", {}, label="pristine")
        store.end_step(s, "aborted")
    store.finish_run(run, "aborted", "operator stopped it")
    store.close()
    return run


def build_running_run(path: Path) -> int:
    """A run still marked running, with one I-V step of data."""
    store = Store.open(path)
    run = store.create_run("still running", "")
    s = store.start_step(run, 0, "iv", {}, label="pristine")
    with store.writer(flush_interval=0.05) as w:
        for v in np.linspace(-0.5, 0.5, 21):
            w.iv_point(s, float(v), float(1e-6 * v), "up", "S-D")
    store.close()
    return run
