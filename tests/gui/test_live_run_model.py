"""LiveRunModel follows a run from a store written through the store API (no Qt)."""

from __future__ import annotations

import numpy as np

from nanocell_daq.viewmodels import LiveRunModel
from nanocell_daq.viewmodels.demo import AXIS, raman_counts, write_demo_run


def test_new_rows_reach_the_model_and_only_new_rows_are_read(store) -> None:
    run = store.create_run("live test")
    step = store.start_step(run, 0, "galvanostatic", cycle=1, label="charge 1")
    model = LiveRunModel(store, run)
    seen: list[int] = []
    model.cycling_changed.connect(seen.append)
    model.poll()
    assert model.n_points == 0 and model.status == "running"
    with store.writer(flush_interval=0.01) as w:
        for k in range(50):
            w.cycling_point(step, float(k), 3.0 + k * 1e-3, 2e-11, 2e-11 * k)
    model.poll()
    assert seen == [50]
    with store.writer(flush_interval=0.01) as w:
        for k in range(50, 60):
            w.cycling_point(step, float(k), 3.0, 2e-11, 2e-11 * k)
    batch = model.poll()
    assert seen == [50, 10] and len(batch.cycling) == 10  # the second read fetched the 10 new rows only
    assert np.array_equal(model.E.x, np.arange(60.0))
    ((label, q, _e),) = model.halfcycle_curves()
    assert label == "charge 1" and q[0] == 0.0 and np.isclose(q[-1], 59 * 2e-11)


def test_status_progress_events_follow_the_run(store) -> None:
    run = store.create_run("status test")
    model = LiveRunModel(store, run)
    statuses, logs = [], []
    model.status_changed.connect(statuses.append)
    model.events_added.connect(logs.extend)
    model.poll()
    store.log_event(run, "warning", "compliance reached")
    store.set_progress(run, "charge 1", 0.25, 3600.0)
    model.poll()
    assert model.progress.step_label == "charge 1" and model.progress.eta_s == 3600.0
    store.finish_run(run, "aborted", reason="user abort")
    model.poll()
    assert statuses == ["running", "aborted"] and model.reason == "user abort"
    assert [e.message for e in logs] == ["compliance reached"]


def test_iv_checkpoints_and_map_fill_from_a_demo_run(store) -> None:
    run = write_demo_run(store, cycles=1, points_per_half=50, map_nx=6, map_ny=2)
    model = LiveRunModel(store, run)
    model.poll()
    _x, g, labels = model.iv.conductance_series("S-D")
    assert labels[0].startswith("pristine") and len(g) == 3
    assert np.isclose(g[0], 1e-6, rtol=0.05) and np.all(np.diff(g) < 0)  # falls after each half-cycle
    assert model.map.filled_count() == (12, 12)
    assert model.map.spectrum_at(5, 1) is not None and model.map.spectrum_at(6, 0) is None
    model.map.set_quantity("Xc")
    xc = model.map.image()
    assert xc.shape == (2, 6) and np.nanmax(xc) <= 1.0 and np.nanmin(xc) >= 0.0


def test_map_pixels_fill_one_by_one(store) -> None:
    run = store.create_run("map test")
    step = store.start_step(run, 0, "raman_map")
    grid = store.add_map_grid(run, 0.0, 0.0, 0.5, 0.5, 3, 2, step_id=step)
    axis = store.add_axis(AXIS)
    model = LiveRunModel(store, run)
    changed: list[int] = []
    model.map.changed.connect(changed.append)
    rng = np.random.default_rng(1)
    for k, (ix, iy) in enumerate([(0, 0), (1, 0), (2, 1)]):
        with store.writer(flush_interval=0.01) as w:
            w.spectrum(
                step,
                0.5 * ix,
                0.5 * iy,
                0.0,
                1.0,
                raman_counts(0.9, rng),
                axis,
                grid_id=grid,
                pixel=iy * 3 + ix,
            )
        model.poll()
        assert model.map.filled_count() == (k + 1, 6)
    img = model.map.image()
    assert np.isfinite(img[1, 2]) and np.isnan(img[1, 0])
    assert changed == [grid, grid, grid]
    assert model.latest_spectrum is not None and model.latest_spectrum[2][:2] == (1.0, 0.5)


def test_switching_runs_starts_from_scratch(store) -> None:
    a = write_demo_run(store, cycles=1, points_per_half=20, map_nx=2, map_ny=1)
    b = store.create_run("empty")
    model = LiveRunModel(store, a)
    model.poll()
    assert model.n_points == 40
    model.set_run(b)
    model.poll()
    assert model.n_points == 0 and not model.iv.curves and model.map.filled_count() == (0, 0)


def test_a_running_run_whose_engine_fell_silent_is_flagged_stale(store) -> None:
    import datetime as dt

    run = store.create_run("engine will die")
    store.set_progress(run, "charge 1", 0.1, 100.0)
    model = LiveRunModel(store, run)
    flags: list[object] = []
    model.stale_changed.connect(flags.append)
    model.poll()
    assert model.stale_since is None and flags == []
    later = model.last_alive + dt.timedelta(seconds=31)
    model.check_stale(now=later)
    assert model.stale_since == store.progress(run).updated and flags == [model.stale_since]
    store.set_progress(run, "charge 1", 0.2, 90.0)  # it speaks again
    model.poll()
    assert model.stale_since is None and flags[-1] is None
    store.finish_run(run, "completed")
    model.poll()
    model.check_stale(now=later + dt.timedelta(days=1))
    assert model.stale_since is None  # a finished run is never "not responding"


def test_reattach_says_when_the_running_run_has_no_live_engine(store) -> None:
    import time

    from nanocell_daq.viewmodels import RunControlModel

    run = store.create_run("orphan")
    control = RunControlModel(store, None)
    messages: list[str] = []
    control.message.connect(messages.append)
    assert control.reattach() == run and messages[-1] == f"re-attached to running run {run}"
    time.sleep(0.05)
    assert control.reattach(stale_after_s=0.01) == run
    assert "engine is not responding since" in messages[-1]
