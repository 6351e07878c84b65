"""``nanocell bench gui``: a live trace growing to 1M points through the store, drawn by the real plots.

A writer process (like the engine) appends cycling points through the store's batching ``Writer`` (t = the
wall-clock write time) while the GUI polls the store on its worker thread and redraws. Measured:
- ``stall_p99_ms``: how late a 5 ms QTimer fires (the event loop blocked), 99th percentile;
- ``latency_p95_ms``: from a point's write to the end of the event-loop repaint that first drew it (no
  forced repaint), 95th percentile.
Baseline, measured first in the same run: ``baseline_idle_stall_p99_ms``, the stall of the idle event loop
(what the machine's load alone costs). ``--map-pixels`` runs the live-map case instead
(:mod:`nanocell_daq.gui.benchmark_live_map`).
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _writer(db: str, step: int, points: int, rate: float, base: float) -> None:
    """In its own process, like the engine: append ``points`` at ``rate`` s^-1 in 10 ms chunks.

    t = wall-clock seconds since ``base`` (``time.time()``), so the GUI process can tell each point's age.
    """
    from nanocell_daq.storage import Store

    store = Store.open(db, create=False)
    written = 0
    chunk_s = 0.01
    with store.writer(flush_interval=0.05) as w:
        next_at = time.perf_counter()
        while written < points:
            n = min(max(1, int(rate * chunk_s)), points - written)
            now = time.time() - base
            for k in range(n):
                w.cycling_point(step, now + k * 1e-7, 3.2 + 0.5 * np.sin((written + k) / 5e4), 2e-11, 0.0)
            written += n
            next_at += chunk_s
            time.sleep(max(0.0, next_at - time.perf_counter()))
    store.close()


def idle_stall_p99_ms(seconds: float = 1.0) -> float:
    """Stall p99 (ms) of the 5 ms heartbeat on an idle event loop: what this machine's load alone costs."""
    from PySide6.QtCore import QTimer

    from nanocell_daq.gui.app import make_app

    app = make_app()
    stalls: list[float] = []
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        stalls.append(max(0.0, (now - last[0]) * 1000 - 5))
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(beat)
    timer.start()
    QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec()
    timer.stop()
    return round(float(np.percentile(stalls, 99)), 1) if stalls else float("nan")


def stop_writer(writer: Any, *timers: Any) -> None:
    """End a bench session's data-writer process (terminated if it has not finished within 30 s) and stop
    its timers and pollers."""
    writer.join(30)
    if writer.is_alive():
        writer.terminate()
    for timer in timers:
        timer.stop()


def close_session(app: Any, window: Any, quit_on_close: bool) -> None:
    """Tear a bench session's window down while Qt still runs (not during interpreter finalization) and
    leave the application as the session found it (``quit_on_close``: its quitOnLastWindowClosed before the
    session turned it off, so that closing the window did not quit the event loops that come after)."""
    window.close()
    window.deleteLater()
    app.processEvents()
    app.setQuitOnLastWindowClosed(quit_on_close)
    # the session's widgets and models, collected now while the event loop is idle: collected later by a
    # random gc pass inside another event loop (a test's wait, in-process) they crashed it (segfault)
    gc.collect()


def main(points: int = 1_000_000, rate: float = 25_000.0, interval_ms: int = 100) -> dict[str, float]:
    """Run the benchmark; prints figures and, last, one JSON line."""
    from PySide6.QtCore import QTimer

    from nanocell_daq.gui.app import make_app
    from nanocell_daq.gui.live_plots import LivePlotsWidget
    from nanocell_daq.gui.poller import RunPoller
    from nanocell_daq.storage import Store
    from nanocell_daq.viewmodels import LiveRunModel

    app = make_app()
    quit_on_close = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)  # closing the bench's window must not quit the event loops that
    # come after in this process (a test's waits, in-process)
    idle = idle_stall_p99_ms()
    folder = Path(tempfile.mkdtemp(prefix="nanocell-bench-gui-"))
    store = Store.open(folder / "bench.db")
    run = store.create_run("bench gui")
    step = store.start_step(run, 0, "galvanostatic", label="charge 1")
    model = LiveRunModel(store, run)
    plots = LivePlotsWidget(model)
    plots.resize(1400, 800)
    plots.show()
    latencies: list[float] = []
    stalls: list[float] = []
    base = time.time()

    newest = [-np.inf]

    def painted(x_end: float) -> None:
        """After a repaint of E(t)/I(t): the age of the newest point it drew, if that point is new."""
        if x_end > newest[0]:
            newest[0] = x_end
            latencies.append(time.time() - base - x_end)

    plots.traces.painted.connect(painted)
    poller = RunPoller(model, plots.schedule_refresh, interval_ms)
    tick_ms = 5
    last = [time.perf_counter()]

    def heartbeat() -> None:
        now = time.perf_counter()
        stalls.append(max(0.0, (now - last[0]) * 1000 - tick_ms))
        last[0] = now
        if len(model.E) >= points:
            app.quit()

    beat = QTimer()
    beat.setInterval(tick_ms)
    beat.timeout.connect(heartbeat)
    writer = multiprocessing.get_context("spawn").Process(
        target=_writer, args=(str(folder / "bench.db"), step, points, rate, base), daemon=True
    )
    t0 = time.perf_counter()
    writer.start()
    poller.start()
    beat.start()
    give_up = QTimer()  # never hang: give up after a while (stopped below: a stray quit would end the next
    give_up.setSingleShot(True)  # event loop of this process, e.g. a test's wait)
    give_up.timeout.connect(app.quit)
    give_up.start(int(1000 * (points / rate * 3 + 60)))
    app.exec()
    give_up.stop()
    elapsed = time.perf_counter() - t0
    stop_writer(writer, beat, poller)
    n = len(model.E)
    drawn = plots.traces.e_curve.getData()[0]  # what the last redraw handed to the E(t) curve
    close_session(app, plots, quit_on_close)
    store.close()
    result = {
        "points": int(n),
        "stall_p99_ms": round(float(np.percentile(stalls, 99)), 1) if stalls else None,
        "latency_p95_ms": round(float(np.percentile(latencies, 95)) * 1000, 1) if latencies else None,
        "latency_p50_ms": round(float(np.percentile(latencies, 50)) * 1000, 1) if latencies else None,
        "draws": len(latencies),
        "seconds": round(elapsed, 1),
        "drawn_points_max": 0 if drawn is None else len(drawn),
        "baseline_idle_stall_p99_ms": idle,
    }
    print(
        f"live trace: {n:,} points in {elapsed:.1f} s ({result['draws']} redraws, "
        f"{result['drawn_points_max']:,} points drawn per trace at the end)"
    )
    print(f"event-loop stall p99: {result['stall_p99_ms']} ms (target 50 ms; idle event loop {idle} ms)")
    print(f"write-to-draw latency p95: {result['latency_p95_ms']} ms (target 250 ms)")
    print(json.dumps(result))
    return result
