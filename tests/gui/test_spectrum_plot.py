"""The spectrum plot keeps the latest spectrum (and a clicked pixel's) in view, its range steady meanwhile."""

from __future__ import annotations

import numpy as np


def test_the_latest_spectrum_stays_in_view_and_the_range_moves_only_when_it_must(qt_ok, qtbot) -> None:
    from nanocell_daq.gui.app import make_app
    from nanocell_daq.gui.live_plots import SpectrumPlot
    from nanocell_daq.viewmodels import LiveRunModel

    make_app()
    model = LiveRunModel()
    plot = SpectrumPlot(model)
    qtbot.addWidget(plot)
    axis = np.linspace(100.0, 1800.0, 512)
    peak = np.exp(-(((axis - 520.0) / 4.0) ** 2))

    def show(height: float) -> tuple[tuple[float, float], tuple[float, float]]:
        model.latest_spectrum = (axis, 200.0 + height * peak, (1.0, 2.0, 0.0))
        plot.dirty = True
        plot.refresh()
        (x0, x1), (y0, y1) = plot.getPlotItem().vb.viewRange()
        return (x0, x1), (y0, y1)

    (x0, x1), (y0, y1) = show(20_000.0)
    assert x0 <= 100.0 and x1 >= 1800.0 and y0 <= 200.0 and y1 >= 20_200.0
    assert show(19_000.0) == ((x0, x1), (y0, y1))  # a similar spectrum: the axes stay as they are
    _, (_, y1_big) = show(60_000.0)
    assert y1_big >= 60_200.0  # a taller one: the range grows to hold it
    plot.show_pixel(axis, 90_000.0 * peak)
    assert plot.getPlotItem().vb.viewRange()[1][1] >= 90_000.0  # a clicked pixel's spectrum too
