"""Decimated traces: bounded size whatever the length, spikes kept, zoomed windows exact."""

from __future__ import annotations

import numpy as np

from nanocell_daq.viewmodels.trace import DecimatedTrace, GrowingArray, envelope


def test_growing_array_keeps_every_value_in_order() -> None:
    a = GrowingArray(capacity=16)
    for k in range(100):
        a.extend(np.arange(k * 7, (k + 1) * 7))
    assert np.array_equal(a.view, np.arange(700))


def test_envelope_stays_bounded_as_the_trace_grows_to_a_million_points() -> None:
    t = DecimatedTrace(target=1000)
    rng = np.random.default_rng(0)
    for k in range(100):
        x = np.arange(k * 10_000, (k + 1) * 10_000, dtype=float)
        t.extend(x, rng.normal(size=x.size))
    ex, _ey = t.envelope()
    assert len(t) == 1_000_000
    assert len(ex) <= 4 * 1000 + t.block  # <= 2*target blocks x 2 points, plus a partial tail
    assert np.all(np.diff(ex) >= 0)  # drawn in time order


def test_a_single_spike_survives_decimation_and_zoom() -> None:
    t = DecimatedTrace(target=500)
    x = np.arange(500_000, dtype=float)
    y = np.zeros_like(x)
    y[123_457] = 7.0
    y[400_001] = -3.0
    for lo in range(0, len(x), 33_333):
        t.extend(x[lo : lo + 33_333], y[lo : lo + 33_333])
    _, ey = t.envelope()
    assert ey.max() == 7.0 and ey.min() == -3.0
    wx, wy = t.window(120_000, 130_000, 300)
    assert wy.max() == 7.0 and wx.min() >= 119_000 and wx.max() <= 131_000


def test_short_traces_are_drawn_raw_and_nans_never_win() -> None:
    t = DecimatedTrace(target=100)
    t.extend([0, 1, 2], [1.0, np.nan, 3.0])
    ex, _ey = t.envelope()
    assert np.array_equal(ex, [0, 1, 2])
    _x, y = envelope(np.arange(1000.0), np.where(np.arange(1000) % 2, np.nan, 1.0), 10)
    assert np.all(np.isfinite(y))


def test_grow_range_keeps_the_view_until_data_leave_it_then_grows_in_rounded_steps() -> None:
    from nanocell_daq.viewmodels.ranges import grow_range

    first = grow_range(None, 0.0, 1.0e-13)
    assert first is not None and first[0] < 0.0 and first[1] > 1.0e-13
    assert grow_range(first, 0.0, 1.05e-13) is None  # still inside: the axes do not re-render
    grown = grow_range(first, 0.0, 2.0e-13)
    assert grown is not None and grown[1] >= 2.0e-13
    assert grow_range((0.0, 100.0), 1.0, 2.0) == (0.8, 2.2)  # a new, much smaller data set: shrink to it


def _trace_plots(qtbot):
    """A shown TracePlots of an empty live model: (model, plots)."""
    from nanocell_daq.gui.app import make_app
    from nanocell_daq.gui.live_plots import TracePlots
    from nanocell_daq.viewmodels import LiveRunModel

    make_app()
    model = LiveRunModel()
    plots = TracePlots(model)
    qtbot.addWidget(plots)
    plots.resize(500, 400)
    plots.show()
    return model, plots


def test_the_trace_plot_draws_a_long_run_at_one_min_max_per_pixel_column_spikes_kept(qt_ok, qtbot) -> None:
    model, plots = _trace_plots(qtbot)
    t = np.arange(300_000) / 1000.0
    e = 3.2 + 0.1 * np.sin(t)
    e[123_457] = 9.0  # one spike in 300 000 points
    model.E.extend(t, e)
    model.I.extend(t, np.zeros_like(t))
    plots.refresh()
    x, y = plots.e_curve.getData()
    columns = int(plots.e_plot.vb.width())
    assert len(x) <= 2 * max(columns, 200) + model.E.block < len(model.E.envelope()[0])  # not 300 000
    assert y.max() == 9.0 and x[-1] == t[-1]  # the spike and the newest point drawn


def test_a_constant_current_is_shown_on_an_axis_of_its_own_size_until_it_varies(qt_ok, qtbot) -> None:
    """A galvanostatic step's 20 pA is constant: the plot's auto-range (zero span) showed it on a ±0.5 A
    axis; it gets a range around its value, and the auto-range is back when the current changes."""
    model, plots = _trace_plots(qtbot)
    t = np.arange(100) / 10.0
    model.E.extend(t, 3.2 + 0.01 * t)
    model.I.extend(t, np.full(t.size, 2e-11))
    plots.refresh()
    lo, hi = plots.i_plot.vb.viewRange()[1]
    assert lo < 2e-11 < hi and hi - lo < 1e-10
    model.I.extend(t + 10.0, np.full(t.size, -2e-11))  # the discharge: auto-range again
    plots.dirty = True
    plots.refresh()
    plots.i_plot.vb.updateAutoRange()
    lo, hi = plots.i_plot.vb.viewRange()[1]
    assert lo < -2e-11 and 2e-11 < hi < 1e-9
