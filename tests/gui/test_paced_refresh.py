"""After a poll the plots redraw one per event-loop pass (timers and input run in between), all of them."""

from __future__ import annotations


class _View:
    def __init__(self, name: str, log: list[str], marker: bool = False) -> None:
        self.name, self.log, self.marker, self.dirty = name, log, marker, True

    def refresh(self) -> None:
        from PySide6.QtCore import QTimer

        self.dirty = False
        self.log.append(self.name)
        if self.marker:  # a timer due at once: it runs before the next view only if the loop ran in between
            QTimer.singleShot(0, lambda: self.log.append("loop"))


def test_dirty_views_redraw_one_per_event_loop_pass_and_clean_ones_cost_nothing(qt_ok, qtbot) -> None:
    from nanocell_daq.gui.app import make_app
    from nanocell_daq.gui.paced_refresh import PacedRefresh

    make_app()
    log: list[str] = []
    a, b, c = _View("a", log, marker=True), _View("b", log, marker=True), _View("c", log)
    b.dirty = False  # nothing new for b: skipped
    pacer = PacedRefresh([a, b, c])
    pacer.request()
    assert log == [] and pacer.busy  # a request only schedules
    qtbot.waitUntil(lambda: pacer.rounds == 1, timeout=5_000)
    qtbot.wait(20)
    assert log == ["a", "loop", "c"] and pacer.slices == 2
    # dirty again after its turn: redrawn by the next request; flush() redraws at once
    a.dirty = b.dirty = True
    pacer.request()
    pacer.request()  # a second request while the first is pending queues nothing twice
    qtbot.waitUntil(lambda: pacer.rounds == 2, timeout=5_000)
    assert log[3:5] == ["a", "loop"] and log.count("b") == 1
    c.dirty = True
    pacer.flush()
    assert log[-1] == "c" and not pacer.busy


def test_a_scheduled_refresh_draws_every_plot_of_a_run(qt_ok, qtbot, store) -> None:
    from nanocell_daq.gui.app import make_app
    from nanocell_daq.gui.live_plots import LivePlotsWidget
    from nanocell_daq.viewmodels import LiveRunModel
    from nanocell_daq.viewmodels.demo import write_demo_run

    make_app()
    run = write_demo_run(store, cycles=1, points_per_half=50, map_nx=3, map_ny=2)
    model = LiveRunModel(store, run)
    plots = LivePlotsWidget(model)
    qtbot.addWidget(plots)
    plots.show()
    model.poll()
    plots.schedule_refresh()
    qtbot.waitUntil(lambda: plots.pacer.rounds >= 1 and not plots.pacer.busy, timeout=10_000)
    drawn = plots.plot_data()
    assert all(n > 0 for n in drawn.values()), drawn
    assert drawn["E(t)"] == len(model.E) and plots.pacer.slices >= 5
