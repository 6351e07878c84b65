"""Every table goes in and comes back out the same."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from nanocell_daq.errors import UserError
from nanocell_daq.storage import Store, StoreWriteError


def test_device_run_and_steps_round_trip(store: Store) -> None:
    dev = store.add_device(
        "SIM-SI-01",
        "Si/a-Si core/shell",
        materials={"wire": "Si/a-Si", "counter": "LiCoO2"},
        dimensions={"core_diameter_nm": 30, "length_um": 10},
        contacts={"S": {"kind": "contact"}, "CE": {"kind": "counter"}},
    )
    run = store.create_run(
        "si-cycling", "steps:\n - charge\n", device_id=dev, station={"name": "bench"}, operator="ada"
    )
    s0 = store.start_step(run, 0, "iv", {"v_max_V": 0.5}, label="pristine")
    s1 = store.start_step(run, 1, "charge", {"current_A": 1e-11}, cycle=1, label="charge 1")
    store.start_step(run, 2, "rest", status="pending")
    store.end_step(s0)
    store.end_step(s1, "aborted")
    store.finish_run(run, "aborted", reason="user pressed abort")

    info = store.run(run)
    assert info == store.run(info.uuid)
    assert (info.protocol_name, info.protocol_text, info.station) == (
        "si-cycling",
        "steps:\n - charge\n",
        {"name": "bench"},
    )
    assert (info.status, info.reason, info.operator, info.device_id) == (
        "aborted",
        "user pressed abort",
        "ada",
        dev,
    )
    assert info.started.tzinfo is dt.UTC and info.ended is not None and info.ended >= info.started
    assert store.device(dev).dimensions == {"core_diameter_nm": 30, "length_um": 10}
    assert store.device(dev).contacts["CE"] == {"kind": "counter"}

    steps = store.steps(run)
    assert [(s.index, s.kind, s.status, s.cycle, s.label) for s in steps] == [
        (0, "iv", "completed", None, "pristine"),
        (1, "charge", "aborted", 1, "charge 1"),
        (2, "rest", "pending", None, None),
    ]
    assert steps[1].parameters == {"current_A": 1e-11}
    assert steps[2].started is None and steps[0].ended is not None

    (summary,) = store.runs()
    assert (summary.id, summary.status, summary.device, summary.protocol_name, summary.n_steps) == (
        run,
        "aborted",
        "SIM-SI-01",
        "si-cycling",
        3,
    )


def test_bad_statuses_and_duplicate_step_index_are_refused(store: Store, run_step: tuple[int, int]) -> None:
    run, _ = run_step
    with pytest.raises(ValueError, match="run status"):
        store.finish_run(run, "exploded")
    with pytest.raises(ValueError, match="steps"):
        store.start_step(run, 0, "charge")
    with pytest.raises(KeyError):
        store.run(999)


def test_cycling_points_round_trip_as_arrays_and_frames(store: Store) -> None:
    run = store.create_run("p", "")
    a = store.start_step(run, 0, "charge")
    b = store.start_step(run, 1, "discharge")
    t = np.arange(1000) * 0.5
    with store.writer() as w:
        for k in range(1000):
            # both steps in one flush: each keeps its own points, in order
            w.cycling_point(a if k < 600 else b, t[k], 3.0 + k * 1e-3, -1e-11, k * 1e-14)
    data = store.cycling(run)
    np.testing.assert_array_equal(data.t, t)
    np.testing.assert_allclose(data.E, 3.0 + np.arange(1000) * 1e-3)
    assert data.I.dtype == np.float64 and (data.I == -1e-11).all()
    assert list(np.unique(data.step_id, return_counts=True)[1]) == [600, 400]
    only_b = store.cycling(run, step_id=b)
    np.testing.assert_array_equal(only_b.t, t[600:])
    frame = store.cycling(run, step_id=a).frame()
    assert list(frame.columns) == ["step_id", "t", "E", "I", "Q"] and len(frame) == 600
    assert len(store.cycling(run + 1)) == 0


def test_numpy_scalars_are_accepted(store: Store, run_step: tuple[int, int]) -> None:
    run, step = run_step
    with store.writer() as w:
        w.cycling_point(step, np.float32(1.5), np.float64(3.7), np.float32(1e-12), 0)
        w.iv_point(step, np.float32(0.25), np.float64(1e-9), "up", "S-D", t=np.int64(3))
    assert store.cycling(run).t.tolist() == [1.5]
    assert store.iv(run).V.tolist() == [0.25] and store.iv(run).t.tolist() == [3.0]


def test_iv_points_round_trip(store: Store, run_step: tuple[int, int]) -> None:
    run, step = run_step
    v = np.linspace(-0.5, 0.5, 21)
    with store.writer() as w:
        for x in v:
            w.iv_point(step, x, x * 1e-6, "up", "S-D")
        for x in v[::-1]:
            w.iv_point(step, x, x * 2e-6, "down", "S-C1", t=12.5)
    iv = store.iv(run, step_id=step)
    np.testing.assert_allclose(iv.V, np.concatenate([v, v[::-1]]))
    assert list(iv.direction[:1]) + list(iv.direction[-1:]) == ["up", "down"]
    assert set(iv.pair) == {"S-D", "S-C1"}
    assert np.isnan(iv.t[0]) and iv.t[-1] == 12.5
    assert iv.frame().shape == (42, 7)


def test_spectra_axis_and_map_grid_round_trip(store: Store, run_step: tuple[int, int]) -> None:
    run, step = run_step
    axis = np.linspace(100.0, 1800.0, 1024)
    axis_id = store.add_axis(axis)
    assert store.add_axis(axis.copy()) == axis_id  # shared, not duplicated
    grid = store.add_map_grid(run, 100.0, 200.0, 0.5, 0.25, 3, 2, z_um=1.0, step_id=step, label="pristine")
    rng = np.random.default_rng(1)
    counts = rng.normal(1000, 30, (6, 1024)).astype(np.float32)
    with store.writer() as w:
        for p in range(6):
            ix, iy = p % 3, p // 3
            w.spectrum(
                step, 100 + 0.5 * ix, 200 + 0.25 * iy, 1.0, 2.0, counts[p], axis_id, grid_id=grid, pixel=p
            )
        w.spectrum(step, 5.0, 6.0, 7.0, 0.5, counts[0].astype(np.float64), axis_id, t=99.0)
    sp = store.spectra(run, grid_id=grid)
    assert sp.counts.dtype == np.float32 and sp.counts.shape == (6, 1024)
    np.testing.assert_array_equal(sp.counts, counts)
    np.testing.assert_array_equal(sp.axis, axis)
    assert sp.pixel.tolist() == list(range(6)) and sp.x_um[1] == 100.5 and sp.y_um[3] == 200.25
    everything = store.spectra(run)
    assert len(everything) == 7 and everything.grid_id[-1] == -1 and everything.t[-1] == 99.0
    (g,) = store.map_grids(run)
    assert (g.nx, g.ny, g.dx_um, g.dy_um, g.z_um, g.label) == (3, 2, 0.5, 0.25, 1.0, "pristine")
    newer = store.spectra(run, after_id=sp.last_id)
    assert len(newer) == 1 and newer.exposure_s.tolist() == [0.5]


def test_derived_results_are_keyed_by_params_and_recomputable(
    store: Store, run_step: tuple[int, int]
) -> None:
    run, _ = run_step
    store.put_derived(run, "capacity", {"cycle": 1}, {"charge_Ah": 2.9e-16})
    store.put_derived(run, "capacity", {"cycle": 2}, {"charge_Ah": 2.7e-16})
    store.put_derived(run, "capacity", {"cycle": 1}, {"charge_Ah": 3.0e-16})  # replaces
    store.put_derived(run, "conductance", None, [1e-6, 1e-8])
    assert store.get_derived(run, "capacity", {"cycle": 1}) == {"charge_Ah": 3.0e-16}
    assert store.get_derived(run, "conductance") == [1e-6, 1e-8]
    assert store.get_derived(run, "capacity", {"cycle": 3}) is None
    assert len(store.derived(run)) == 3
    assert store.clear_derived(run, "capacity") == 2
    assert store.get_derived(run, "capacity", {"cycle": 2}) is None and len(store.derived(run)) == 1


def test_events_synchronous_and_queued_follow_by_id(store: Store, run_step: tuple[int, int]) -> None:
    run, step = run_step
    first = store.log_event(run, "info", "run started")
    with store.writer() as w:
        w.event(run, "warning", "compliance near", step_id=step)
    store.log_event(None, "error", "station-wide problem")
    assert [e.message for e in store.events(run)] == ["run started", "compliance near"]
    newer = store.events(after_id=first)
    assert [(e.level, e.step_id) for e in newer] == [("warning", step), ("error", None)]
    with pytest.raises(ValueError, match="level"):
        store.log_event(run, "loud", "x")


def test_control_requests_are_pending_until_acknowledged(store: Store, run_step: tuple[int, int]) -> None:
    run, _ = run_step
    pause = store.request_control(run, "pause", requested_by="gui")
    store.request_control(run, "abort")
    assert [c.action for c in store.pending_controls(run)] == ["pause", "abort"]
    store.acknowledge_control(pause, note="paused after point")
    (left,) = store.pending_controls(run)
    assert left.action == "abort" and left.acknowledged is None
    assert (
        store.controls(run)[0].note == "paused after point" and store.controls(run)[0].requested_by == "gui"
    )
    with pytest.raises(UserError, match="use one of"):
        store.request_control(run, "explode")
    with pytest.raises(UserError, match="no run"):
        store.request_control(999, "pause")


def test_progress_is_replaced_not_accumulated(store: Store, run_step: tuple[int, int]) -> None:
    run, _ = run_step
    assert store.progress(run) is None
    store.set_progress(run, "charge 1", 0.25, 3600.0)
    store.set_progress(run, "rest 1", 0.5, None)
    p = store.progress(run)
    assert p is not None and (p.step_label, p.fraction, p.eta_s) == ("rest 1", 0.5, None)


def test_rows_newer_than_a_cursor(store: Store, run_step: tuple[int, int]) -> None:
    run, step = run_step
    w = store.writer(flush_interval=10)
    first = store.cycling_since(run, 0)
    assert len(first) == 0 and first.last_id == 0
    for k in range(10):
        w.cycling_point(step, k, 3.0, 0.0, 0.0)
    w.flush()
    a = store.cycling_since(run, 0)
    for k in range(10, 15):
        w.cycling_point(step, k, 3.0, 0.0, 0.0)
    w.flush()
    b = store.cycling_since(run, a.last_id)
    assert a.t.tolist() == list(range(10)) and b.t.tolist() == list(range(10, 15))
    assert store.cycling_since(run, b.last_id).last_id == b.last_id
    w.iv_point(step, 0.1, 1e-9, "up", "S-D")
    w.close()
    iv = store.iv_since(run, 0)
    assert len(iv) == 1 and len(store.iv_since(run, iv.last_id)) == 0


def test_writer_commits_on_its_own_within_the_flush_interval(store: Store, run_step: tuple[int, int]) -> None:
    import time

    run, step = run_step
    with store.writer(flush_interval=0.05) as w:
        w.cycling_point(step, 0.0, 3.0, 0.0, 0.0)
        deadline = time.monotonic() + 5
        while len(store.cycling(run)) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(store.cycling(run)) == 1  # no flush() called: the thread committed it


def test_writer_errors_are_raised_not_swallowed(store: Store, run_step: tuple[int, int]) -> None:
    _, step = run_step
    w = store.writer(flush_interval=0.05)
    w.cycling_point(step + 100, 0.0, 3.0, 0.0, 0.0)  # a step that does not exist
    with pytest.raises(StoreWriteError, match="do not exist"):
        w.flush()
    with pytest.raises(StoreWriteError):
        w.cycling_point(step, 0.0, 3.0, 0.0, 0.0)
    with pytest.raises(StoreWriteError):
        w.close()


def test_closed_writer_refuses_appends(store: Store, run_step: tuple[int, int]) -> None:
    _, step = run_step
    w = store.writer()
    w.close()
    w.close()
    with pytest.raises(StoreWriteError, match="closed"):
        w.cycling_point(step, 0.0, 3.0, 0.0, 0.0)


def test_finish_run_flushes_open_writers(store: Store, run_step: tuple[int, int]) -> None:
    run, step = run_step
    w = store.writer(flush_interval=60)
    w.cycling_point(step, 0.0, 3.0, 0.0, 0.0)
    store.finish_run(run)
    assert len(store.cycling(run)) == 1
    w.close()
