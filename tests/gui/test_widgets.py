"""Widgets over models (pytest-qt, offscreen): the main window shows a run; screenshot; a simulated run."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from nanocell_daq.viewmodels.demo import write_demo_run

SCREENSHOT = Path(__file__).resolve().parents[2] / "build" / "gui-main-window.png"


@pytest.fixture
def window(qt_ok, qtbot, store, tmp_path, sim_station):
    from nanocell_daq.gui.app import make_app
    from nanocell_daq.gui.main_window import MainWindow

    make_app()
    win = MainWindow(store, str(tmp_path / "runs.db"), station=str(sim_station), interval_ms=50)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def _settle(qtbot, win) -> None:
    win.poller.flush()
    qtbot.wait(50)


def test_main_window_shows_every_plot_of_a_finished_run(qtbot, store, window, tmp_path) -> None:
    run = write_demo_run(store, cycles=2, points_per_half=100, map_nx=8, map_ny=3)
    window.browser.refresh()
    window.browser_view.open_run.emit(run)
    _settle(qtbot, window)
    drawn = window.plots.plot_data()
    assert all(n > 0 for n in drawn.values()), drawn
    assert drawn["map"] == 24 and drawn["E(t)"] == 400
    assert "completed" in window.run_panel.run_label.text()
    assert window.browser_view.table.model().rowCount() == 1
    # a click on a map pixel overlays that pixel's spectrum
    window.plots.map.select_pixel(3, 1)
    x, y = window.plots.spectrum.pixel.getData()
    assert len(x) == len(window.live.map.axis) and np.nanmax(y) > 100
    # the window renders to a PNG
    SCREENSHOT.parent.mkdir(exist_ok=True)
    png = window.save_screenshot(SCREENSHOT)
    assert png.stat().st_size > 50_000


def test_window_reattaches_to_a_running_run_and_buttons_write_control_requests(qtbot, store, qt_ok, tmp_path):
    from nanocell_daq.gui.main_window import MainWindow

    done = write_demo_run(store, cycles=1, points_per_half=20, map_nx=2, map_ny=1)
    live = store.create_run("still running")
    win = MainWindow(store, str(tmp_path / "runs.db"), interval_ms=50)
    qtbot.addWidget(win)
    assert win.live.run_id == live != done
    _settle(qtbot, win)
    assert win.run_panel.pause_button.isEnabled()
    win.run_panel.pause_button.click()
    win.run_panel.resume_button.click()
    assert [c.action for c in store.pending_controls(live)] == ["pause", "resume"]
    store.log_event(live, "error", "smu: compliance trip")
    _settle(qtbot, win)
    assert "compliance trip" in win.run_panel.log_view.toPlainText()
    win.close()


def test_map_quantity_chooser_recomputes_the_image(qtbot, store, window) -> None:
    run = write_demo_run(store, cycles=1, points_per_half=20, map_nx=5, map_ny=2)
    window.control.attach(run)
    _settle(qtbot, window)
    window.plots.map.quantity.setCurrentText("c-Si 520")
    band = window.live.map.image().copy()
    window.plots.map.quantity.setCurrentText("Xc")
    xc = window.live.map.image()
    assert np.nanmax(xc) <= 1.0 < np.nanmax(band)
    assert window.plots.map.filled.text().startswith("10/10")


@pytest.mark.slow
def test_a_simulated_run_started_from_the_gui_completes_and_fills_every_plot(qtbot, store, window, tmp_path):
    from nanocell_daq.engine.protocol import shipped_protocols
    from simulated_instruments.bench import SimulatedBench

    text = shipped_protocols()["si_seed"].read_text()
    for name, value in (("cycles", "1"), ("map_points", "4"), ("rest_s", "5"), ("exposure_s", "0.2"),
                        ("iv_points", "7"), ("iv_pairs", "[S-D]")):
        text = re.sub(rf"(\n  {name}:\s*)[^\s#]+", rf"\g<1>{value}", text)
    protocol = tmp_path / "short.yaml"
    protocol.write_text(text)
    with SimulatedBench(preset="si", speed=2000.0, seed=1) as bench:
        bench.start()
        station = bench.write_station(tmp_path / "sim-station.yaml") or tmp_path / "sim-station.yaml"
        window.station_panel.load(str(station))
        window.run_panel.protocol.setText(str(protocol))
        assert window.run_panel.station.text() == str(station)
        window.run_panel.start_button.click()
        qtbot.waitUntil(lambda: window.live.status in ("completed", "failed", "aborted"), timeout=240_000)
        tail = window.control.log_tail()
        assert window.live.status == "completed", tail
        qtbot.waitUntil(lambda: window.control.process is None, timeout=30_000)
    _settle(qtbot, window)
    drawn = window.plots.plot_data()
    assert all(n > 0 for n in drawn.values()), (drawn, tail)
    assert window.run_panel.progress.value() > 0


def test_stale_engine_is_shown_in_the_run_label(qtbot, store, qt_ok, tmp_path) -> None:
    import datetime as dt

    from nanocell_daq.gui.main_window import MainWindow

    run = store.create_run("engine died")
    win = MainWindow(store, str(tmp_path / "runs.db"), interval_ms=50)
    qtbot.addWidget(win)
    assert win.live.run_id == run
    _settle(qtbot, win)
    win.live.check_stale(now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    assert "engine not responding since" in win.run_panel.run_label.text()
    win.close()


def test_hovering_the_map_shows_a_crosshair_and_the_pixel_value(qtbot, store, window) -> None:
    from PySide6.QtCore import QPointF

    run = write_demo_run(store, cycles=1, points_per_half=20, map_nx=5, map_ny=2)
    window.control.attach(run)
    _settle(qtbot, window)
    view = window.plots.map
    vb = view.plot.getPlotItem().vb
    # demo grid: x0 100 um, y0 199 um, 0.5 um pitch: pixel (3, 1) is centred on (101.5, 199.5)
    view.plot.scene().sigMouseMoved.emit(vb.mapViewToScene(QPointF(101.6, 199.4)))
    assert view.vline.isVisible() and abs(view.vline.value() - 101.6) < 1e-6
    text = view.readout.text()
    assert "pixel (3, 1)" in text and "Xc 0." in text, text
    view.hover(50.0, 50.0)
    assert "pixel" not in view.readout.text()
