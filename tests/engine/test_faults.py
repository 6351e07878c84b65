"""Injected instrument faults: retried where safe, otherwise the step ends; every output ends off."""

from __future__ import annotations

import threading

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
    with SimulatedBench(preset="si", speed=400, seed=1) as bench:

        def on_log(level, message):
            if message.startswith(f"step {at_step} ") and message.endswith("started"):
                threading.Timer(delay_s, bench.inject, (instrument, fault)).start()

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


def test_fault_while_the_cell_is_on_stops_the_cell(tmp_path):
    """A garbled poll reply mid-step is retried; an error on the stop path still leaves the cell off."""
    _, on, steps, _ = _run_with_fault(tmp_path, "pstat", "garble", 1, delay_s=0.1)
    assert on == {}
    assert ("galvanostatic", "completed") in steps or ("galvanostatic", "failed") in steps
