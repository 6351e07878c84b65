"""Station limits during a run on the simulated bench: a voltage collapse near the cut-off, a step that
starts beyond its cut-off, a garbled data package, and a station-window overshoot.

The Si cell collapses from ~2.8 V to below 2 V within one 2 s sampling interval at the end of a 20 pA
discharge: only breaks checked on the potentiostat at every device sample stop it near 2.5 V.
"""

from __future__ import annotations

import textwrap
import threading
import time

import numpy as np
import pytest
import yaml

from nanocell_daq.engine.plan import expand
from nanocell_daq.engine.protocol import parse_protocol
from nanocell_daq.engine.service import run_plan
from nanocell_daq.engine.stationview import StationView
from nanocell_daq.storage import Store
from simulated_instruments.bench import SimulatedBench
from tests.engine import benchkit

CYCLE = """
    steps:
      - galvanostatic: {label: charge, current_A: 2.0e-11, v_min_V: 2.5, v_max_V: 3.95, interval_s: 2.0,
                        max_time_s: 3600}
      - galvanostatic: {label: discharge, current_A: -2.0e-11, v_min_V: 2.5, v_max_V: 3.95, interval_s: 2.0,
                        max_time_s: 3600}
      - galvanostatic: {label: discharge again, current_A: -2.0e-11, v_min_V: 3.0, v_max_V: 3.95,
                        interval_s: 2.0, max_time_s: 3600}
    """


def _events(store, run_id) -> list[str]:
    return [e.message for e in store.events(run_id)]


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    with SimulatedBench(preset="si", speed=2000, seed=0, smu_model="2450", ideal_pstat=True) as bench:
        store, result = benchkit.run(bench, tmp_path_factory.mktemp("cycle"), CYCLE)
        steps = {s.label: s for s in store.steps(result.run_id)}
        data = {label: store.cycling(result.run_id, step_id=s.id) for label, s in steps.items()}
        techniques = [e.command for e in bench.log("pstat") if e.command.startswith("meas_loop_cp")]
        window = bench.station_dict()["limits"]["cycling"]["voltage_window_V"]
        on = benchkit.outputs_on(bench)
        yield result, steps, data, _events(store, result.run_id), techniques, window, on
        store.close()


def test_a_voltage_collapse_near_the_cut_off_ends_the_discharge_within_50_mV(cycle):
    result, _, data, events, _, window, on = cycle
    assert result.status == "completed", result.reason
    assert on == {}
    discharge = data["discharge"]
    assert any(m.startswith("galvanostatic: stopped: voltage cut-off 2.5 V") for m in events), events
    assert 2.5 - 0.05 <= discharge.E.min() < 2.5  # it reached the cut-off and stopped right there
    assert discharge.E.min() >= window[0]  # never below the station window
    near = discharge.E < 2.8  # the collapse is recorded densely, not as one 2 s jump
    assert near.sum() >= 5
    assert np.all(data["charge"].E[1:] <= 3.95 + 0.05)


def test_a_step_that_starts_beyond_its_cut_off_passes_no_current(cycle):
    _, steps, data, events, techniques, _, _ = cycle
    assert steps["discharge again"].status == "completed"
    assert len(techniques) == 2  # the charge and the first discharge: the third never applied current
    assert len(data["discharge again"].E) == 0
    assert any("not started, no current passed: the cell reads" in m and "discharge cut-off 3 V" in m
               for m in events), events


def test_a_station_window_overshoot_ends_the_step_with_an_event(tmp_path):
    # the window's low edge is the cut-off: the sample at which the device breaks is below both
    protocol = """
        steps:
          - galvanostatic: {label: charge, current_A: 2.0e-11, v_min_V: 2.5, v_max_V: 3.95}
          - galvanostatic: {label: discharge, current_A: -2.0e-11, v_min_V: 2.5, v_max_V: 3.95}
          - rest: {label: never reached, time_s: 10}
        """
    with SimulatedBench(preset="si", speed=2000, seed=0, smu_model="2450", ideal_pstat=True) as bench:
        station = bench.station_dict()
        station["limits"]["cycling"]["voltage_window_V"] = [2.5, 4.05]
        path = tmp_path / "station.yaml"
        path.write_text(yaml.safe_dump(station))
        plan = expand(parse_protocol(textwrap.dedent(protocol), "test.yaml"), StationView.from_file(path))
        store = Store.open(tmp_path / "runs.db")
        result = run_plan(plan, store)
        on = benchkit.outputs_on(bench)
    steps = {s.label: s for s in store.steps(result.run_id)}
    events = _events(store, result.run_id)
    assert steps["charge"].status == "completed"
    assert steps["discharge"].status == "failed" and "never reached" not in steps
    assert result.status == "failed"
    message = next(m for m in events if m.startswith("step 1 'discharge' failed"))
    assert "limit overshoot at t = " in message
    assert "is below the station window [2.5, 4.05] V (station.yaml line" in message
    discharge = store.cycling(result.run_id, step_id=steps["discharge"].id)
    assert discharge.E.min() > 2.5 - 0.05  # ended at the first sample beyond it
    assert on == {}


def _inject_once_running(bench, fault: str, after_s: float) -> threading.Thread:
    """Inject ``fault`` into the potentiostat ``after_s`` (wall) after its first galvanostatic loop
    started, i.e. while data packages stream."""

    def watch():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(e.command.startswith("meas_loop_cp") for e in bench.log("pstat")):
                time.sleep(after_s)
                bench.inject("pstat", fault)
                return
            time.sleep(0.005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("fault", ["garble", "timeout"])
def test_a_garbled_or_lost_data_package_is_a_gap_event_never_silent(tmp_path, fault):
    protocol = """
        steps:
          - galvanostatic: {label: charge, current_A: 2.0e-11, v_min_V: 2.5, v_max_V: 3.95, interval_s: 2.0}
        """
    # the charge lasts ~1 s of wall time
    with SimulatedBench(preset="si", speed=50, seed=0, smu_model="2450", ideal_pstat=True) as bench:
        watcher = _inject_once_running(bench, fault, after_s=0.2)
        store, result = benchkit.run(bench, tmp_path, protocol)
        watcher.join(5)
        assert not bench._fault_boxes["pstat"].pending(), "the fault was never consumed"
    assert result.status == "completed", result.reason
    gaps = [m for m in _events(store, result.run_id) if "gap in the data" in m]
    assert len(gaps) == 1, gaps
    assert "1 sample(s) lost between t = " in gaps[0]
    assert ("garbled" in gaps[0]) == (fault == "garble")


@pytest.mark.parametrize(("preset", "protocol", "overrides"), [
    ("si", "si_seed", {"cycles": "1", **benchkit.FAST}),
    ("h2v3o8", "h2v3o8_shallow_deep", {"iv_pairs": "[S-D]", "iv_points": "11", "rest_s": "10"}),
])
def test_the_shipped_protocols_stay_within_50_mV_of_the_window_and_the_cut_offs(tmp_path, preset, protocol,
                                                                                overrides):
    with SimulatedBench(preset=preset, speed=2000, seed=0, smu_model="2450", ideal_pstat=True) as bench:
        store, result = benchkit.run(bench, tmp_path, protocol, overrides)
        low, high = bench.station_dict()["limits"]["cycling"]["voltage_window_V"]
    assert result.status == "completed", result.reason
    for step in store.steps(result.run_id):
        if step.kind not in ("galvanostatic", "rest"):
            continue
        E = store.cycling(result.run_id, step_id=step.id).E
        if not len(E):  # a 10 s rest on a loaded machine may be stopped before its first 2 s sample
            continue
        p = step.parameters
        if step.kind == "rest":
            assert low - 0.05 <= E.min() and E.max() <= high + 0.05, step.label
        elif p["current_A"] < 0:  # a discharge never goes 50 mV below its cut-off or the window
            assert E.min() >= max(p["v_min_V"], low) - 0.05, step.label
        else:  # a charge may start below the window (a pristine cell); it never ends 50 mV above either
            assert E.max() <= min(p["v_max_V"], high) + 0.05, step.label
    store.close()
