"""A map really runs during a galvanostatic step; pause/resume/abort through the store's control table."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from nanocell_daq.cli import main
from nanocell_daq.engine.service import run_plan
from nanocell_daq.storage import Store
from simulated_instruments.bench import SimulatedBench
from tests.engine import benchkit

pytestmark = pytest.mark.slow

PARALLEL = """
    steps:
      - parallel:
          - galvanostatic: {label: charge, current_A: 2.0e-12, capacity_fraction: 0.3, interval_s: 2}
          - raman_map: {label: during charge, nx: 8, exposure_s: 5}
      - iv: {pairs: [S-D], points: 5}
    """


def test_map_overlaps_the_galvanostatic_step_in_time(tmp_path):
    with SimulatedBench(preset="si", speed=200, seed=0, smu_model="2450", ideal_pstat=True) as bench:
        store, result = benchkit.run(bench, tmp_path, PARALLEL)
        assert result.status == "completed", result.reason
        steps = {s.label: s for s in store.steps(result.run_id)}
        cyc = store.cycling(result.run_id, step_id=steps["charge"].id)
        spectra = store.spectra(result.run_id, step_id=steps["during charge"].id)
        assert len(spectra.t) == 8
        inside = (spectra.t > cyc.t[0]) & (spectra.t < cyc.t[-1])
        assert inside.sum() >= 6, (cyc.t[[0, -1]], spectra.t)
        assert steps["charge"].started < steps["during charge"].ended
        assert steps["during charge"].started < steps["charge"].ended
        assert benchkit.outputs_on(bench) == {}
        assert bench.damage == []


def _run_with_a_broken_lane(tmp_path, monkeypatch, step_class):
    def broken(self):
        self.ctx.sleep(2.0)
        raise RuntimeError(f"test: the {self.kind} broke")

    monkeypatch.setattr(step_class, "execute", broken)
    with SimulatedBench(preset="si", speed=200, seed=0, smu_model="2450", ideal_pstat=True) as bench:
        store, result = benchkit.run(bench, tmp_path, PARALLEL)
        steps = {s.label: s.status for s in store.steps(result.run_id)}
        n_spectra = len(store.spectra(result.run_id).t)
        q = store.cycling(result.run_id).Q
        target_C = 0.3 * bench.station_dict()["device"]["nominal_capacity_Ah"] * 3600
        assert benchkit.outputs_on(bench) == {}
        store.close()
    return result, steps, n_spectra, q, target_C


def test_a_failed_charge_stops_the_map_running_beside_it(tmp_path, monkeypatch):
    from procedures.galvanostatic import GalvanostaticStep

    result, steps, n_spectra, _, _ = _run_with_a_broken_lane(tmp_path, monkeypatch, GalvanostaticStep)
    assert result.status == "failed" and "the galvanostatic broke" in result.reason
    assert steps == {"charge": "failed", "during charge": "aborted"}  # the I-V after the block never ran
    assert n_spectra < 8  # the map did not go on to its end


def test_a_failed_map_stops_the_charge_beside_it_and_says_so(tmp_path, monkeypatch):
    from procedures.raman import RamanMap

    result, steps, _, q, target_C = _run_with_a_broken_lane(tmp_path, monkeypatch, RamanMap)
    assert result.status == "failed" and "the raman_map broke" in result.reason
    charged = abs(q[-1]) if len(q) else 0.0  # (the map breaks early: the charge may have stored no point yet)
    assert charged < 0.5 * target_C  # the charge stopped with the failed map, far from its target
    assert steps == {"charge": "aborted", "during charge": "failed"}


LONG = """
    steps:
      - galvanostatic: {label: slow charge, current_A: 1.0e-12, capacity_fraction: 0.5, interval_s: 1}
      - iv: {pairs: [S-D], points: 5}
    """


def _start(bench, tmp_path, protocol):
    store = Store.open(tmp_path / "runs.db")
    plan = benchkit.plan_for(bench, tmp_path, protocol)
    out: dict = {}
    thread = threading.Thread(target=lambda: out.setdefault("result", run_plan(plan, store)))
    thread.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = store.runs()
        if (
            runs
            and any(s.kind == "galvanostatic" for s in store.steps(runs[-1].id))
            and bench.output_on("pstat")
        ):
            return store, runs[-1].id, thread, out
        time.sleep(0.05)
    raise AssertionError("the galvanostatic step did not start")


def test_pause_turns_the_cell_off_and_resume_goes_on_to_the_end(tmp_path):
    with SimulatedBench(preset="si", speed=100, seed=0, smu_model="2450", ideal_pstat=True) as bench:
        store, run_id, thread, out = _start(bench, tmp_path, LONG)
        store.request_control(run_id, "pause", requested_by="test")
        assert benchkit.wait_until(lambda: not bench.output_on("pstat")), "pause did not turn the cell off"
        assert benchkit.wait_until(lambda: "paused" in (store.progress(run_id).step_label or ""))
        n_paused = len(store.cycling(run_id).t)
        time.sleep(0.6)
        assert not bench.output_on("pstat")
        store.request_control(run_id, "resume", requested_by="test")
        assert benchkit.wait_until(lambda: bench.output_on("pstat")), "resume did not re-arm the technique"
        thread.join(60)
        result = out["result"]
        assert result.status == "completed", result.reason
        steps = {s.label: s for s in store.steps(run_id)}
        cyc = store.cycling(run_id, step_id=steps["slow charge"].id)
        assert len(cyc.t) > n_paused
        assert np.all(np.diff(cyc.t) > 0)  # one time axis across the pause
        assert steps["slow charge"].status == "completed"
        # the charge stops at its capacity target (0.5 x nominal) across the pause, not short of it and not
        # re-charged by what was passed before the pause
        target_C = 0.5 * bench.station_dict()["device"]["nominal_capacity_Ah"] * 3600
        assert abs(cyc.Q[-1]) == pytest.approx(target_C, rel=0.02)
        # no charge counted while the cell was off: Q grows by I x sampling interval across the pause
        dq = np.diff(cyc.Q)
        assert np.all(dq >= 0)
        assert dq.max() < 1.5 * 1.0e-12 * 1.0, dq.max()
        assert benchkit.outputs_on(bench) == {}
        assert [c.action for c in store.pending_controls(run_id)] == []


def test_abort_from_the_control_table_ends_safely(tmp_path):
    with SimulatedBench(preset="si", speed=100, seed=0, smu_model="2450", ideal_pstat=True) as bench:
        store, run_id, thread, out = _start(bench, tmp_path, LONG)
        assert main(["control", str(run_id), "abort", "--db", str(tmp_path / "runs.db")]) == 0
        thread.join(30)
        result = out["result"]
        assert result.status == "aborted"
        assert "abort requested by nanocell control" in result.reason
        info = store.run(run_id)
        assert info.status == "aborted" and "abort" in info.reason
        assert [s.status for s in store.steps(run_id)] == ["aborted"]
        assert benchkit.outputs_on(bench) == {}
