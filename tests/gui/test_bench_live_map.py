"""``nanocell bench gui --map-pixels``: a tiny live map through the real plots; the last line is JSON."""

from __future__ import annotations

import json

from nanocell_daq.cli import main

FIGURES = ("stall_p99_ms", "pixel_to_map_p95_ms", "pixel_to_map_p50_ms", "baseline_idle_stall_p99_ms")


def test_bench_gui_live_map_reports_stall_latency_and_no_gui_thread_fits(qt_ok, capsys) -> None:
    args = ["bench", "gui", "--map-pixels", "20", "--pixel-rate", "100", "--rate", "500"]
    assert main([*args, "--baseline-pixels", "0"]) == 0  # the no-fit baseline run costs seconds: not here
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["pixels"] == 20 and figures["fitted"] == 20 and figures["shown_pixels"] == 20
    assert figures["gui_thread_fits"] == 0 and figures["fit_worker"] == "process"
    for key in FIGURES:
        assert isinstance(figures[key], float) and figures[key] >= 0, key
    assert figures["baseline_no_fits_pixels"] is None and figures["targets"]["pixel_to_map_p95_ms"] == 500
    # the bench closed its window: the application's later event loops (the tests' waits) still run
    import time

    from PySide6.QtCore import QEventLoop, QTimer

    loop, t0 = QEventLoop(), time.monotonic()
    QTimer.singleShot(200, loop.quit)
    loop.exec()
    assert time.monotonic() - t0 >= 0.15


def test_bench_gui_refuses_a_bad_fit_worker_in_one_line(capsys) -> None:
    assert main(["bench", "gui", "--map-pixels", "10", "--fit-worker", "gpu"]) == 2
    err = capsys.readouterr().err
    assert "--fit-worker" in err and "Traceback" not in err
