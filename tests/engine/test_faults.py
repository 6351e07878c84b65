"""Injected instrument faults: retried where safe, otherwise the step ends; every output ends off."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from simulated_instruments.bench import SimulatedBench
from tests.engine import benchkit

pytestmark = pytest.mark.slow

PROTOCOL = """
    on_fault: {policy}
    steps:
      - iv: {{pairs: [S-D], points: 11}}
      - galvanostatic: {{current_A: 2.0e-12, capacity_fraction: 0.2, interval_s: 2}}
      - raman_map: {{nx: 4}}
    """


def _run_with_fault(tmp_path, instrument, fault, at_step, delay_s=0.0, policy="stop"):
    with SimulatedBench(preset="si", speed=400, seed=1, smu_model="2450", ideal_pstat=True) as bench:

        def on_log(level, message):
            if message.startswith(f"step {at_step} ") and message.endswith("started"):
                # the galvanostatic step reads the open-circuit voltage first: aim at its technique
                aim = {"match": "MEAS_LOOP_CP"} if (instrument, fault) == ("pstat", "error_next") else {}
                threading.Timer(delay_s, bench.inject, (instrument, fault), aim).start()

        store, result = benchkit.run(bench, tmp_path, PROTOCOL.format(policy=policy), on_log=on_log)
        on = benchkit.outputs_on(bench)
        steps = [(s.kind, s.status) for s in store.steps(result.run_id)]
        events = [e.message for e in store.events(result.run_id)]
        store.close()
    return result, on, steps, events


@pytest.mark.parametrize(
    ("instrument", "fault", "at_step", "delay_s", "status", "failed_kind"),
    [
        ("smu", "garble", 0, 0.05, "completed", None),  # a garbled reply is retried
        ("pstat", "error_next", 1, 0.0, "failed", "galvanostatic"),  # technique rejected: step ends
        ("stage", "stage_limit", 2, 0.0, "failed", "raman_map"),  # move stopped short: map ends
        ("matrix", "drop", 1, 0.0, "failed", "galvanostatic"),  # dropped link: reconnected to open all
        ("smu", "compliance_trip", 0, 0.0, "failed", "iv"),  # compliance trip ends the sweep
    ],
)
def test_fault_ends_with_every_output_off(tmp_path, instrument, fault, at_step, delay_s, status, failed_kind):
    result, on, steps, events = _run_with_fault(tmp_path, instrument, fault, at_step, delay_s)
    assert on == {}, f"outputs left on after {fault} on {instrument}: {on}"
    assert result.status == status, result.reason
    if failed_kind:
        assert (failed_kind, "failed") in steps
        assert result.reason and failed_kind in str(steps) and "failed" in result.reason
        assert any("every output off" in m for m in events)
    else:
        assert any("retrying" in m for m in events)


def test_continue_policy_runs_the_rest_after_a_failed_step(tmp_path):
    result, on, steps, _ = _run_with_fault(tmp_path, "smu", "compliance_trip", 0, policy="continue")
    assert on == {}
    assert result.status == "completed"
    assert "1 step(s) failed" in result.reason
    assert steps == [("iv", "failed"), ("galvanostatic", "completed"), ("raman_map", "completed")]


def _run_with_garbled_poll(tmp_path):
    """Garble one potentiostat reply once the cell is on (a data package of the running technique)."""
    with SimulatedBench(preset="si", speed=400, seed=1, smu_model="2450", ideal_pstat=True) as bench:

        def arm():
            benchkit.wait_until(lambda: bench.output_on("pstat"), timeout=30)
            time.sleep(0.05)
            bench.inject("pstat", "garble")

        def on_log(level, message):
            if message == "step 1 'galvanostatic' (galvanostatic) started":
                threading.Thread(target=arm, daemon=True).start()

        store, result = benchkit.run(bench, tmp_path, PROTOCOL.format(policy="stop"), on_log=on_log)
        on = benchkit.outputs_on(bench)
        steps = store.steps(result.run_id)
        cyc = store.cycling(result.run_id, step_id=steps[1].id)
        events = [e.message for e in store.events(result.run_id)]
        nominal_ah = bench.station_dict()["device"]["nominal_capacity_Ah"]
        store.close()
    return result, on, steps, cyc, events, nominal_ah


def test_a_garbled_poll_reply_mid_charge_does_not_end_the_charge(tmp_path):
    result, on, steps, cyc, _, nominal_ah = _run_with_garbled_poll(tmp_path)
    assert on == {}
    assert result.status == "completed", result.reason
    assert [(s.kind, s.status) for s in steps] == [
        ("iv", "completed"), ("galvanostatic", "completed"), ("raman_map", "completed")
    ]
    # the charge reached its capacity target (0.2 x nominal), counted once
    assert cyc.Q[-1] == pytest.approx(0.2 * nominal_ah * 3600, rel=0.03)
    assert np.all(np.diff(cyc.Q) >= 0)


def test_a_garbled_poll_reply_loses_no_point_silently(tmp_path):
    _, _, steps, cyc, events, _ = _run_with_garbled_poll(tmp_path)
    interval = steps[1].parameters["interval_s"]
    gaps = [m for m in events if "gap" in m]
    assert len(gaps) == 1, events  # the garbled package is named as a gap in the data
    assert np.diff(cyc.t).max() <= 2.5 * interval  # and only that one package is missing
