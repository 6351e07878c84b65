"""``nanocell bench gui --map-pixels N``: a Raman map arriving while the cycling trace grows, fitted live.

A writer process (like the engine) writes cycling points at ``rate`` s^-1 and map spectra at ``pixel_rate``
s^-1 through the store's ``Writer`` (t = wall-clock write time); the GUI follows the run with its poller and
the real plots, the map showing "Xc fit" while a ``LiveFitMap`` fits the pixels on its worker. Measured:
- ``stall_p99_ms``: how late a 5 ms QTimer fires (the event loop blocked), 99th percentile;
- ``pixel_to_map_p95_ms``: from a spectrum's write to the end of the first repaint of the map that showed
  its fitted value, 95th percentile;
- ``gui_thread_fits``: spectra fitted on the GUI thread (counted where each fit ran; must be 0).
The baseline, measured in the same run first: the same writer and plots for ``baseline_pixels`` pixels with
no live fits (the raw map only), and the idle event loop's stall.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from nanocell_daq.gui.benchmark import close_session, idle_stall_p99_ms, stop_writer

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

AXIS = np.linspace(100.0, 1800.0, 1024)
TARGETS = {"stall_p99_ms": 33.0, "pixel_to_map_p95_ms": 500.0, "gui_thread_fits": 0}


def _xc_at(ix: int, iy: int, nx: int, ny: int) -> float:
    """A wire across the map: crystalline along its axis, amorphous towards the ends and off it."""
    u, v = (ix + 0.5) / nx, (iy + 0.5) / ny
    along = 0.2 + 0.7 * math.sin(math.pi * u)
    return float(np.clip(along * math.exp(-(((v - 0.5) / 0.3) ** 2)), 0.02, 0.95))


def spectrum_bank(levels: int = 24, copies: int = 3, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(Xc levels (L,), spectra (L, copies, 1024) counts on ``AXIS``): Poisson + read noise, c-Si + a-Si."""
    from nanocell_daq.analysis.raman import si_model

    rng = np.random.default_rng(seed)
    xcs = np.linspace(0.02, 0.95, levels)
    out = np.empty((levels, copies, AXIS.size), np.float32)
    for i, xc in enumerate(xcs):
        for k in range(copies):
            total = rng.uniform(15000.0, 30000.0)
            p = [total * xc, rng.uniform(517.0, 521.0), rng.uniform(3.5, 5.5), total * (1 - xc) / 0.8,
                 rng.uniform(472.0, 480.0), rng.uniform(60.0, 75.0), rng.uniform(150.0, 300.0), 0.0]
            clean = np.clip(si_model(AXIS, np.array(p)), 0, None)
            out[i, k] = rng.poisson(clean) + rng.normal(0.0, 5.0, AXIS.size)
    return xcs, out


def _writer(db: str, step: int, map_step: int, grid: int, axis_id: int, shape: tuple[int, int], n: int,
            rate: float, pixel_rate: float, base: float) -> None:
    """In its own process, like the engine: ``n`` map pixels at ``pixel_rate`` and cycling points at
    ``rate`` meanwhile, in 10 ms chunks; t = wall-clock seconds since ``base``."""
    from nanocell_daq.storage import Store

    nx, ny = shape
    xcs, bank = spectrum_bank()
    store = Store.open(db, create=False)
    chunk_s = 0.01
    written = pixels = 0
    t0 = time.perf_counter()
    with store.writer(flush_interval=0.05) as w:
        next_at = t0
        while pixels < n:
            now = time.time() - base
            k = max(1, int(rate * chunk_s)) if rate > 0 else 0
            for j in range(k):
                w.cycling_point(step, now + j * 1e-7, 3.2 + 0.5 * np.sin((written + j) / 5e4), 2e-11, 0.0)
            written += k
            due = min(n, int((time.perf_counter() - t0) * pixel_rate) + 1)
            while pixels < due:
                iy, ix = divmod(pixels, nx)
                level = int(np.abs(xcs - _xc_at(ix, iy, nx, ny)).argmin())
                w.spectrum(map_step, 100.0 + 0.5 * ix, 200.0 + 0.5 * iy, 0.0, 1.0, bank[level, pixels % 3],
                           axis_id, grid_id=grid, pixel=pixels, t=time.time() - base)
                pixels += 1
            next_at += chunk_s
            time.sleep(max(0.0, next_at - time.perf_counter()))
    store.close()


def _session(
    n: int, rate: float, pixel_rate: float, interval_ms: int, fit_worker: str | None
) -> dict[str, Any]:
    """One run of the case: a fresh database, writer, GUI; ``fit_worker`` None: no live fits (baseline)."""
    from PySide6.QtCore import QTimer

    from nanocell_daq.gui.app import make_app
    from nanocell_daq.gui.live_plots import LivePlotsWidget
    from nanocell_daq.gui.poller import RunPoller
    from nanocell_daq.storage import Store
    from nanocell_daq.viewmodels import LiveRunModel
    from nanocell_daq.viewmodels.live_fit_map import LiveFitMap

    app = make_app()
    quit_on_close = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)  # closing the bench's window must not quit the event loops that
    # come after in this process (a test's waits, in-process)
    folder = Path(tempfile.mkdtemp(prefix="nanocell-bench-livemap-"))
    store = Store.open(folder / "bench.db")
    run = store.create_run("bench gui live map")
    step = store.start_step(run, 0, "galvanostatic", label="charge 1")
    map_step = store.start_step(run, 1, "raman_map", label="map during charge 1")
    nx = math.ceil(math.sqrt(n))
    ny = math.ceil(n / nx)
    grid = store.add_map_grid(run, 100.0, 200.0, 0.5, 0.5, nx, ny, step_id=map_step, label="live map")
    axis_id = store.add_axis(AXIS)
    model = LiveRunModel(store, run)
    fits = LiveFitMap(worker=fit_worker) if fit_worker else None
    if fits is not None:
        model.map.attach_fits(fits)
        model.poll()  # knows the grid: the worker starts
        fits.ready.wait(120)  # as in the GUI, where a run's map grid is known before its first pixel
    plots = LivePlotsWidget(model)
    plots.resize(1400, 800)
    plots.show()
    if fits is not None:
        plots.map.quantity.setCurrentText("Xc fit")
    stalls: list[float] = []
    paints: list[tuple[float, int]] = []
    base = time.time()
    plots.map.plot.painted.connect(lambda: paints.append((time.time() - base, plots.map.drawn_generation)))
    poller = RunPoller(model, plots.schedule_refresh, interval_ms)
    tick_ms = 5
    last = [time.perf_counter()]

    def done() -> bool:
        if model.map.filled_count(grid)[0] < n:
            return False
        if fits is None:
            return True
        c = fits.counts(grid)
        return c.pending == 0 and c.fitted + c.failed >= n and plots.map.drawn_generation >= fits.generation

    def heartbeat() -> None:
        now = time.perf_counter()
        stalls.append(max(0.0, (now - last[0]) * 1000 - tick_ms))
        last[0] = now
        if done():
            beat.timeout.disconnect(heartbeat)
            give_up.start(300)  # a last repaint, then quit

    beat = QTimer()
    beat.setInterval(tick_ms)
    beat.timeout.connect(heartbeat)
    writer = multiprocessing.get_context("spawn").Process(
        target=_writer,
        args=(str(folder / "bench.db"), step, map_step, grid, axis_id, (nx, ny), n, rate, pixel_rate, base),
        daemon=True,
    )
    t0 = time.perf_counter()
    writer.start()
    poller.start()
    beat.start()
    give_up = QTimer()  # never hang: give up after a while (stopped below: it must not end the next session)
    give_up.setSingleShot(True)
    give_up.timeout.connect(app.quit)
    give_up.start(int(1000 * (n / pixel_rate * 2 + 60)))
    app.exec()
    give_up.stop()
    elapsed = time.perf_counter() - t0
    stop_writer(writer, beat, poller)
    result: dict[str, Any] = {
        "pixels": int(model.map.filled_count(grid)[0]),
        "points": len(model.E),
        "seconds": round(elapsed, 1),
        "stall_p99_ms": round(float(np.percentile(stalls, 99)), 1) if stalls else None,
    }
    if fits is not None:
        spectra = store.spectra(run, step_id=map_step)
        written_at = np.full(nx * ny, np.nan)
        written_at[spectra.pixel] = spectra.t
        result.update(_latencies(fits.grids[grid].shown_at, written_at, paints))
        c = fits.counts(grid)
        result.update(
            fitted=c.fitted,
            failed=c.failed,
            fit_chunks=fits.chunks,
            gui_thread_fits=fits.fits_on(os.getpid(), threading.main_thread().ident or 0),
            fit_worker=fit_worker,
        )
        fits.close()
    close_session(app, plots, quit_on_close)
    store.close()
    return result


def _latencies(shown_at: np.ndarray, written_at: np.ndarray, paints: list[tuple[float, int]]) -> dict:
    """Pixel-to-map latency (ms): write time to the first repaint whose drawn generation holds the pixel."""
    if not paints:
        return {"pixel_to_map_p95_ms": None, "pixel_to_map_p50_ms": None, "shown_pixels": 0}
    t = np.array([p[0] for p in paints])
    gen = np.maximum.accumulate(np.array([p[1] for p in paints]))
    ok = (shown_at >= 0) & np.isfinite(written_at)
    k = np.searchsorted(gen, shown_at[ok], side="left")  # first paint showing that generation
    seen = k < len(t)
    lat = (t[k[seen]] - written_at[ok][seen]) * 1000
    if not lat.size:
        return {"pixel_to_map_p95_ms": None, "pixel_to_map_p50_ms": None, "shown_pixels": 0}
    return {
        "pixel_to_map_p95_ms": round(float(np.percentile(lat, 95)), 1),
        "pixel_to_map_p50_ms": round(float(np.percentile(lat, 50)), 1),
        "shown_pixels": int(lat.size),
    }


def main(
    map_pixels: int = 10_000,
    pixel_rate: float = 50.0,
    rate: float = 25_000.0,
    fit_worker: str = "process",
    baseline_pixels: int = 500,
    interval_ms: int = 100,
) -> dict[str, Any]:
    """Run the baseline then the live-map case; prints figures and, last, one JSON line."""
    idle = idle_stall_p99_ms()
    base = {}
    if baseline_pixels:
        base = _session(min(baseline_pixels, map_pixels), rate, pixel_rate, interval_ms, None)
    live = _session(map_pixels, rate, pixel_rate, interval_ms, fit_worker)
    result = {
        **live,
        "pixel_rate": pixel_rate,
        "trace_rate": rate,
        "baseline_idle_stall_p99_ms": idle,
        "baseline_no_fits_stall_p99_ms": base.get("stall_p99_ms"),
        "baseline_no_fits_pixels": base.get("pixels"),
        "targets": TARGETS,
    }
    if base:
        print(f"baseline (raw map, no fits, {base['pixels']} pixels): stall p99 {base['stall_p99_ms']} ms")
    print(f"idle event loop: stall p99 {idle} ms")
    print(
        f"live map ({fit_worker} worker): {live['pixels']:,} pixels at {pixel_rate:g}/s with the trace"
        f" growing to {live['points']:,} points in {live['seconds']} s; fitted {live.get('fitted')},"
        f" failed {live.get('failed')} in {live.get('fit_chunks')} chunks"
    )
    print(f"event-loop stall p99: {live['stall_p99_ms']} ms (target {TARGETS['stall_p99_ms']:g} ms)")
    print(
        f"pixel-to-map latency p95: {live.get('pixel_to_map_p95_ms')} ms"
        f" (p50 {live.get('pixel_to_map_p50_ms')} ms; target {TARGETS['pixel_to_map_p95_ms']:g} ms)"
    )
    print(f"fits on the GUI thread: {live.get('gui_thread_fits')} (target 0)")
    print(json.dumps(result))
    return result
