"""Fencing inside the engine: a lease taken over while a parallel block (a map during a charge) runs stops
both lanes; the engine writes nothing after the take-over, leaves the run's status to the new holder and
does not touch the bench (its outputs stay as they were, for the new holder to handle)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import update

from nanocell_daq.engine.service import run_plan
from nanocell_daq.storage import Store
from nanocell_daq.storage.leases import Liveness, liveness
from nanocell_daq.storage.schema import Lease
from simulated_instruments.bench import SimulatedBench
from tests.engine import benchkit

PARALLEL = """
    steps:
      - parallel:
          - galvanostatic: {label: charge, current_A: 1.0e-12, capacity_fraction: 0.9, interval_s: 1}
          - raman_map: {label: during charge, nx: 12, exposure_s: 5}
      - iv: {label: after, pairs: [S-D], points: 5}
    """


def _counts(store: Store, run_id: int) -> tuple[int, int, list[tuple[str | None, str]]]:
    steps = [(s.label, s.status) for s in store.steps(run_id)]
    return len(store.cycling(run_id).t), len(store.spectra(run_id).t), steps


@pytest.mark.parametrize("taken", ["station and run", "station only"])
def test_a_lease_taken_over_mid_parallel_block_stops_both_lanes_without_a_write_or_safe_state(
    tmp_path, taken
):
    with SimulatedBench(preset="si", speed=100, seed=0, smu_model="2450", ideal_pstat=True) as bench:
        store = Store.open(tmp_path / "runs.db")
        plan = benchkit.plan_for(bench, tmp_path, PARALLEL)
        out: dict = {}
        thread = threading.Thread(target=lambda: out.setdefault("result", run_plan(plan, store)))
        thread.start()
        assert benchkit.wait_until(
            lambda: bool(store.runs()) and len(store.spectra(store.runs()[0].id).t) >= 2, timeout=60
        )
        run_id = store.runs()[0].id
        # another engine takes both leases (as `nanocell resume` does once this one looks stale), or only
        # the station's (as a new `nanocell run` on the station does)
        stolen = update(Lease).values(
            holder="another-engine", pid=1, token=Lease.token + 1, heartbeat=dt.datetime.now(dt.UTC)
        )
        if taken == "station only":
            stolen = stolen.where(Lease.key.like("station:%"))
        with store._engine.begin() as conn:
            conn.execute(stolen)
        at_take_over = _counts(store, run_id)
        n_events = len(store.events(run_id))
        on_at_take_over = benchkit.outputs_on(bench)
        thread.join(timeout=60)
        assert not thread.is_alive()
        result = out["result"]
        assert result.status == "interrupted"
        assert "was taken over by run" in result.reason and "without touching an instrument" in result.reason
        assert _counts(store, run_id) == at_take_over  # no point, spectrum, step or step status since
        info = store.run(run_id)
        if taken == "station only":  # it still held its run: ended interrupted with the reason, lease freed
            assert (info.status, info.reason) == ("interrupted", result.reason)
            assert liveness(store)[run_id] == Liveness("interrupted")
        else:
            assert info.status == "running"  # the new holder's to end
            (said,) = [e.message for e in store.events(run_id)[n_events:]]  # one line for the new holder
            assert "exited without touching an instrument" in said
        assert on_at_take_over.get("pstat")  # the charge was on: this engine did not switch it off
        # (the shutter is left out: the SC10's timed exposure closes it by itself, without the engine)
        now_on = {k: v for k, v in benchkit.outputs_on(bench).items() if k != "shutter"}
        assert now_on == {k: v for k, v in on_at_take_over.items() if k != "shutter"}
        store.close()
