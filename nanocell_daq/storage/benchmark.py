"""``nanocell bench storage``: write and load rates of the run store against plain sqlite3."""

from __future__ import annotations

import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nanocell_daq.storage.store import Store

TARGETS = "api >= 0.5 x raw; 2M rate >= 0.8 x 20k rate; >= 10,000 spectra/s; load 1M <= 0.5 s"


def raw_rows_per_s(folder: Path, n: int) -> float:
    """Plain sqlite3 executemany of n rows (run_id, step_id, t, E, I, Q) into a WAL file, one commit."""
    con = sqlite3.connect(folder / "raw.db")
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute(
        "CREATE TABLE cycling_points (id INTEGER PRIMARY KEY, run_id INTEGER, step_id INTEGER,"
        " t_s REAL, e_v REAL, i_a REAL, q_c REAL)"
    )
    rows = [(1, 1, i * 0.1, 3.7, 1e-12, i * 1e-13) for i in range(n)]
    t0 = time.perf_counter()
    con.executemany(
        "INSERT INTO cycling_points (run_id, step_id, t_s, e_v, i_a, q_c) VALUES (?,?,?,?,?,?)", rows
    )
    con.commit()
    elapsed = time.perf_counter() - t0
    con.close()
    return n / elapsed


def _new_run(store: Store, n_steps: int = 1) -> tuple[int, list[int]]:
    run = store.create_run("bench", "benchmark")
    return run, [store.start_step(run, k, "galvanostatic") for k in range(n_steps)]


def api_rows_per_s(store: Store, n: int, n_steps: int = 1) -> tuple[float, int, list[int]]:
    """n cycling points through the Writer, one call per point; timed until all are committed."""
    run, steps = _new_run(store, n_steps)
    per_step = n // n_steps
    t0 = time.perf_counter()
    writer = store.writer(flush_interval=0.5)
    append = writer.cycling_point
    for step in steps:
        for i in range(per_step):
            append(step, i * 0.1, 3.7, 1e-12, i * 1e-13)
    writer.close()
    return n_steps * per_step / (time.perf_counter() - t0), run, steps


def spectra_per_s(store: Store, n: int, m: int = 1024) -> float:
    """n spectra of m float32 counts through the Writer; timed until all are committed."""
    _run, (step,) = _new_run(store)
    axis = store.add_axis(np.linspace(100.0, 1800.0, m))
    counts = np.random.default_rng(0).normal(1000.0, 30.0, m).astype(np.float32)
    t0 = time.perf_counter()
    writer = store.writer(flush_interval=0.5)
    for k in range(n):
        writer.spectrum(step, k * 0.1, 0.0, 0.0, 1.0, counts, axis, pixel=k)
    writer.close()
    return n / (time.perf_counter() - t0)


def load_s(store: Store, run: int, step: int) -> tuple[float, int]:
    """Seconds to load one step's cycling points back as numpy arrays."""
    t0 = time.perf_counter()
    data = store.cycling(run, step_id=step)
    return time.perf_counter() - t0, len(data)


def run_benchmark(quick: bool = False, echo: Callable[[str], Any] = print) -> dict[str, Any]:
    """Measure everything in one temporary folder; prints figures, returns the JSON-able result."""
    n_raw, n_small, n_big, n_spec = (
        (20_000, 20_000, 200_000, 1_000) if quick else (1_000_000, 20_000, 2_000_000, 10_000)
    )
    with tempfile.TemporaryDirectory(prefix="nanocell-bench-") as tmp:
        folder = Path(tmp)
        raw = raw_rows_per_s(folder, n_raw)
        echo(f"raw sqlite3 executemany ({n_raw:,} rows, WAL):    {raw:12,.0f} rows/s")
        store = Store.open(folder / "store.db")
        try:
            # 20k points take ~20 ms: the median of 5 keeps one scheduler hiccup from deciding the figure
            small = statistics.median(api_rows_per_s(store, n_small)[0] for _ in range(5))
            echo(f"store API, {n_small:,} points, 1 call each:      {small:12,.0f} rows/s (median of 5)")
            big, run, steps = api_rows_per_s(store, n_big, n_steps=2)
            echo(f"store API, {n_big:,} points, 1 call each:     {big:12,.0f} rows/s")
            spec = spectra_per_s(store, n_spec)
            echo(f"spectra ({n_spec:,} x 1024 float32):            {spec:12,.0f} spectra/s")
            load, n_loaded = load_s(store, run, steps[0])
            echo(f"load {n_loaded:,} cycling points to numpy:         {load:12.3f} s")
        finally:
            store.close()
    result = {
        "raw_rows_per_s": round(raw),
        "api_rows_per_s_20k": round(small),
        "api_rows_per_s_2m": round(big),
        "spectra_per_s": round(spec),
        "load_1m_s": round(load, 4),
        "api_20k_vs_raw": round(small / raw, 3),
        "api_2m_vs_raw": round(big / raw, 3),
        "api_2m_vs_20k": round(big / small, 3),
        "quick": quick,
    }
    echo(
        f"ratios: 20k API / raw = {small / raw:.2f}, 2M API / raw = {big / raw:.2f}, "
        f"2M / 20k = {big / small:.2f}"
    )
    echo(f"targets: {TARGETS}" + (" (quick run: smaller sizes, figures not comparable)" if quick else ""))
    echo(json.dumps(result))
    return result


def main(quick: bool = False) -> dict[str, Any]:
    """Entry point for ``nanocell bench storage``."""
    return run_benchmark(quick=quick)
