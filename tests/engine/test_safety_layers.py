"""The engine's own safety layers, each on its own: a step whose ``shutdown()`` leaves the SMU on.

Normally a step turns its outputs off itself, so the engine's outputs-off before routing and after a failed
step are never the layer that acts. Here the I-V step is made to end with its output on at 0.3 V and to skip
its shutdown: the engine alone must turn the output off (read back) before the matrix moves, and say so.
"""

from __future__ import annotations

import re

import pytest

from procedures.iv import IVSweep
from simulated_instruments.bench import SimulatedBench
from tests.engine import benchkit

ROUTE_AWAY = """
    steps:
      - iv: {pairs: [S-D], points: 3}
      - galvanostatic: {current_A: 2.0e-12, capacity_fraction: 0.02, interval_s: 2}
    """

FAIL_THEN_GO_ON = """
    on_fault: continue
    steps:
      - iv: {label: breaks, pairs: [S-D], points: 4}
      - iv: {label: next, pairs: [S-D], points: 3}
    """


def _leave_smu_on(smu) -> None:
    smu.set_voltage(0.3)
    smu.enable_output()


@pytest.fixture
def careless_iv(monkeypatch):
    """The I-V step ends with the SMU output on and its shutdown does nothing."""
    original = IVSweep.execute

    def execute(self):
        original(self)
        _leave_smu_on(self.ctx.role("source_meter"))

    monkeypatch.setattr(IVSweep, "execute", execute)
    monkeypatch.setattr(IVSweep, "shutdown", lambda self: None)


def _record_matrix_moves(bench) -> list[tuple[str, bool, bool]]:
    """(open/close, SMU on, cell on) as the simulated bench sees them at each matrix change."""
    wiring, moves = bench.wiring, []
    for name in ("open", "close"):
        real = getattr(wiring, name)

        def spy(*args, _real=real, _name=name):
            moves.append((_name, wiring.smu.on, wiring.pstat.on))
            return _real(*args)

        setattr(wiring, name, spy)
    return moves


def test_routing_turns_a_left_on_output_off_before_the_matrix_moves(tmp_path, careless_iv):
    with SimulatedBench(preset="si", speed=400, seed=1, smu_model="2450", ideal_pstat=True) as bench:
        moves = _record_matrix_moves(bench)
        store, result = benchkit.run(bench, tmp_path, ROUTE_AWAY)
        events = [e.message for e in store.events(result.run_id)]
        assert benchkit.outputs_on(bench) == {}
        store.close()
    assert result.status == "completed", result.reason
    assert [m for m in moves if m[1] or m[2]] == [], f"the matrix moved with a source on: {moves}"
    assert len(moves) >= 4  # open + close for each of the two wirings
    said = [m for m in events if m.startswith("router: source_meter")]
    assert len(said) == 1, events
    expected = r"router: source_meter.* output reads back on before switching to 'cycling': turned off"
    assert re.fullmatch(expected, said[0]), said


def test_a_failed_step_leaves_no_output_on_for_the_next_step(tmp_path, monkeypatch):
    original = IVSweep.execute

    def execute(self):
        if self.points == 4:  # the step labelled "breaks"
            smu = self.ctx.role("source_meter")
            self.ctx.use_wiring("conductance:S-D")
            _leave_smu_on(smu)
            raise RuntimeError("test: the step broke with the SMU on")
        original(self)

    monkeypatch.setattr(IVSweep, "execute", execute)
    monkeypatch.setattr(IVSweep, "shutdown", lambda self: None)
    with SimulatedBench(preset="si", speed=400, seed=1, smu_model="2450", ideal_pstat=True) as bench:
        smu_at_next_start = []

        def on_log(level, message):
            if message == "step 1 'next' (iv) started":
                smu_at_next_start.append(bench.output_on("smu"))

        store, result = benchkit.run(bench, tmp_path, FAIL_THEN_GO_ON, on_log=on_log)
        steps = [(s.label, s.status) for s in store.steps(result.run_id)]
        events = [(e.step_id, e.message) for e in store.events(result.run_id)]
        failed_id = store.steps(result.run_id)[0].id
        store.close()
    assert steps == [("breaks", "failed"), ("next", "completed")], events
    assert result.status == "completed" and "1 step(s) failed" in result.reason
    assert smu_at_next_start == [False], "the failed step's SMU output was still on when the next began"
    said = [m for i, m in events if i == failed_id and m.startswith("step 'breaks' failed with")]
    assert len(said) == 1, events
    assert re.fullmatch(r"step 'breaks' failed with source_meter.* output reads back on: turned off", said[0])


def test_a_finished_run_is_recorded_to_its_last_line_and_leaves_nothing_running(tmp_path, monkeypatch):
    """The end of a run as a user reads it: the final event stored by the time the call returns, progress at
    100 % with no time left (never going backwards), each step's own shutdown run once, no engine thread
    left behind."""
    import threading

    shutdowns = []
    original = IVSweep.shutdown

    def shutdown(self):
        shutdowns.append(self.points)
        original(self)

    monkeypatch.setattr(IVSweep, "shutdown", shutdown)
    fractions = []
    with SimulatedBench(preset="si", speed=400, seed=1, smu_model="2450", ideal_pstat=True) as bench:
        store, result = benchkit.run(bench, tmp_path, ROUTE_AWAY,
                                     on_progress=lambda label, frac, eta: fractions.append(frac))
        events = [e.message for e in store.events(result.run_id)]
        progress = store.progress(result.run_id)
        names = {t.name for t in threading.enumerate()}  # before the store closes what the engine left open
        store.close()
    assert result.status == "completed", result.reason
    assert events[-1] == "run completed; every output off, matrix open (read back)"
    assert (progress.fraction, progress.eta_s) == (1.0, 0.0)
    assert fractions and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert shutdowns == [3]
    assert f"run-{result.run_id}-control" not in names and "nanocell-store-writer" not in names
