"""The map view fills in fitted Xc pixels as a run's spectra arrive (fits in the window's worker process)."""

from __future__ import annotations

import numpy as np

from nanocell_daq.viewmodels.demo import AXIS, raman_counts

NX, NY = 4, 3


def _write(store, step, grid, axis_id, pixels, rng, broken=()) -> None:
    with store.writer(flush_interval=0.02) as w:
        for p in pixels:
            iy, ix = divmod(p, NX)
            counts = np.full(AXIS.size, np.nan) if p in broken else raman_counts(0.3 + 0.15 * ix, rng)
            x, y = 100.0 + 0.5 * ix, 199.0 + 0.5 * iy
            w.spectrum(step, x, y, 0.0, 1.0, counts, axis_id, grid_id=grid, pixel=p)


def _drawn(view) -> np.ndarray:
    img = view.image.image
    return np.full((NY, NX), np.nan) if img is None else np.asarray(img)


def test_fitted_xc_pixels_appear_as_the_spectra_arrive(qt_ok, qtbot, store, tmp_path) -> None:
    from nanocell_daq.gui.app import make_app
    from nanocell_daq.gui.main_window import MainWindow

    make_app()
    rng = np.random.default_rng(5)
    run = store.create_run("live map")
    step = store.start_step(run, 0, "raman_map", {}, label="pristine")
    grid = store.add_map_grid(run, 100.0, 199.0, 0.5, 0.5, NX, NY, step_id=step, label="pristine")
    axis_id = store.add_axis(AXIS)
    win = MainWindow(store, str(tmp_path / "runs.db"), interval_ms=50)
    qtbot.addWidget(win)
    win.show()
    view, fits = win.plots.map, win.live.map.fits
    assert fits is not None and fits.worker_kind == "process"
    view.quantity.setCurrentText("Xc fit")
    assert view.colorbar.axis.labelText == "Xc"

    _write(store, step, grid, axis_id, range(6), rng)  # the first two rows' worth of pixels
    win.poller.flush()
    qtbot.waitUntil(lambda: np.isfinite(_drawn(view)).sum() == 6, timeout=60_000)
    drawn = _drawn(view)
    assert np.isfinite(drawn.ravel()[:6]).all() and np.isnan(drawn.ravel()[6:]).all()  # not arrived: empty
    assert np.array_equal(drawn, fits.image(grid, "Xc fit"), equal_nan=True)  # the fit's Xc, not band areas
    assert drawn[0, 3] > drawn[0, 0]  # Xc rises along x, as written
    assert "fitted 6" in view.filled.text()

    _write(store, step, grid, axis_id, range(6, NX * NY), rng, broken={9})  # the rest, one spectrum broken
    win.poller.flush()
    qtbot.waitUntil(lambda: "fitted 11, 1 failed" in view.filled.text(), timeout=60_000)
    qtbot.waitUntil(lambda: np.isfinite(_drawn(view)).sum() == 11, timeout=5_000)
    assert view.failed.isVisible() and view.failed.image[2, 1, 0] == 230  # pixel 9 = (ix 1, iy 2) in red
    assert "fit failed" in win.live.map.readout(100.5, 200.0)
    assert fits.fits_on(*_gui_thread()) == 0

    worker = fits._worker.proc
    win.close()  # the worker process stops with the window
    worker.join(5)
    assert not worker.is_alive() and fits.closed


def _gui_thread() -> tuple[int, int]:
    import os
    import threading

    return os.getpid(), threading.main_thread().ident or 0



def test_the_pixel_count_shows_in_full_without_re_laying_the_window_out_at_each_pixel(qt_ok, qtbot) -> None:
    """The count changes with every pixel (and its "pending" part comes and goes): the plots around the map
    must not be re-laid out (and repainted) at each change, and the count must stay readable."""
    from nanocell_daq.gui.app import make_app
    from nanocell_daq.gui.live_plots import LivePlotsWidget
    from nanocell_daq.viewmodels import LiveRunModel

    make_app()
    plots = LivePlotsWidget(LiveRunModel())
    qtbot.addWidget(plots)
    plots.resize(1400, 800)
    plots.show()
    qtbot.wait(20)
    layouts, label = set(), plots.map.filled
    for k in range(1, 300, 7):
        pending = f", {k % 13} pending" if k % 13 else ""
        plots.map.show_count(f"{k}/10000 pixels · fitted {k - k % 13}{pending}")
        qtbot.wait(1)
        layouts.add(tuple(w.geometry().getRect() for w in (plots.traces, plots.halfcycles, plots.map)))
        assert label.width() >= label.fontMetrics().horizontalAdvance(label.text()), label.text()
    assert len(layouts) <= 4  # a few steps as the text grows, not one per update
    plots.map.readout.setText("x 100.00 µm, y 200.00 µm · pixel (10, 20) · no significant c-Si band " * 3)
    qtbot.wait(20)
    assert tuple(w.geometry().getRect() for w in (plots.traces, plots.halfcycles, plots.map)) in layouts
