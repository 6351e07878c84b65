"""The same run killed (SIGKILL) two and three times during one galvanostatic step, resumed each time.

The potentiostat runs on between a kill and the next resume (as a real one would): what it measured then is
recovered from the device and stored; every attempt's charge counts towards the step's capacity. Checked
against the simulated cell's own state, not only against the store.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from nanocell_daq.analysis.run_analysis import analyze_run
from nanocell_daq.cli import main
from nanocell_daq.storage import Store
from tests.engine import benchkit

pytestmark = pytest.mark.slow

CURRENT_A = 1.0e-12
FRACTION = 0.6
INTERVAL_S = 2.0
SPEED = 40
# 0.6 of the Si cell's 0.32 pAh at 1 pA: ~690 s of engine time, ~17 s of wall time at speed 40; each kill
# leaves the device charging until its supervisor aborts the technique (~1-2 s) and records what the
# device measured meanwhile.
PROTOCOL = f"""\
protocol: repeated resume test
steps:
  - galvanostatic: {{label: charge, current_A: {CURRENT_A}, capacity_fraction: {FRACTION},
                    interval_s: {INTERVAL_S}}}
  - iv: {{label: after charge, pairs: [S-D], points: 5}}
"""


def _resume_process(run_id: int, db, station) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "nanocell_daq", "resume", str(run_id), "--db", str(db), "--station",
           str(station)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _new_attempt_with_points(db, run_id: int, seen: set[int], proc: subprocess.Popen, n: int = 3) -> int:
    """Wait until a galvanostatic attempt not in ``seen`` has ``n`` stored points; its step id."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        with Store.open(db, create=False) as store:
            for s in store.steps(run_id):
                if s.kind == "galvanostatic" and s.id not in seen and len(store.cycling(run_id, s.id).t) >= n:
                    return s.id
        time.sleep(0.05)
    raise AssertionError("the resumed attempt never got going")


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)


def _cell_charge_C(bench) -> float:
    """Charge the simulated cell itself took up (C): its counter electrode's state of charge."""
    model = bench.model
    return abs(model.snapshot()["counter_sto"] - model.card.counter.initial_sto) * model._ctr_capacity_C


@pytest.mark.parametrize("kills", [3])  # 2 kills is the same path once less; 3 covers it
def test_a_step_killed_several_times_passes_its_capacity_once(tmp_path, kills, capsys):
    with benchkit.cli_run_in_step(tmp_path, PROTOCOL, "charge", speed=SPEED) as cli:
        bench, run_id, db, station = cli.bench, cli.run_id, cli.db, cli.station
        _kill(cli.proc)
        seen: set[int] = set()
        with Store.open(db, create=False) as store:
            seen |= {s.id for s in store.steps(run_id) if s.kind == "galvanostatic"}
        for _ in range(kills - 1):
            proc = _resume_process(run_id, db, station)
            try:
                seen.add(_new_attempt_with_points(db, run_id, seen, proc))
            finally:
                _kill(proc)
        # the supervisor of the last killed engine stopped the technique it left charging (its stderr is the
        # engine's: _kill returned after it finished)
        assert benchkit.outputs_on(bench) == {}
        assert main(["resume", str(run_id), "--db", str(db), "--station", str(station)]) == 0
        assert benchkit.outputs_on(bench) == {}
        cell_C = _cell_charge_C(bench)
        leak_ohm = bench.model.card.electrolyte.leak_resistance_ohm

    with Store.open(db, create=False) as store:
        assert store.run(run_id).status == "completed"
        attempts = [s for s in store.steps(run_id) if s.kind == "galvanostatic"]
        assert len(attempts) == kills + 1
        assert [s.status for s in attempts] == ["interrupted"] * kills + ["completed"]
        data = [store.cycling(run_id, step_id=s.id) for s in attempts]
        events = [e.message for e in store.events(run_id)]
        nominal_C = store.run(run_id).station["config"]["device"]["nominal_capacity_Ah"] * 3600

        # every kill's technique ran on and was recovered from the device
        recovered = [m for m in events if m.startswith("recovery: ") and " recovered " in m]
        assert len(recovered) == kills, events

        # the half-cycle's charge: the sum over all attempts equals the target, within one sample per attempt
        total_C = sum(abs(float(d.Q[-1])) for d in data)
        tolerance_C = (kills + 1) * CURRENT_A * INTERVAL_S
        assert total_C == pytest.approx(FRACTION * nominal_C, abs=tolerance_C)

        # and it is what the cell itself took up: the stored charge minus what the leads' leakage carried
        leak_C = 0.0
        for d in data:
            dt_s = np.diff(np.concatenate([[d.t[0] - INTERVAL_S], d.t]))
            leak_C += float(np.sum(d.E / leak_ohm * dt_s))
        assert cell_C == pytest.approx(total_C - leak_C, rel=0.03)

        # each attempt asked for what the earlier ones left, in charge and in time
        for k in range(1, kills + 1):
            passed_C = sum(abs(float(d.Q[-1])) for d in data[:k])
            spent_s = sum(float(d.t[-1] - d.t[0]) for d in data[:k])
            params = attempts[k].parameters
            assert params["capacity_Ah"] * 3600 == pytest.approx(FRACTION * nominal_C - passed_C, rel=1e-9)
            assert params["max_time_s"] == pytest.approx(36000.0 - spent_s, rel=1e-9)
            assert data[k].t[0] > data[k - 1].t[-1]  # the time axis continues
            assert np.all(np.diff(data[k].t) > 0)

        analysis = analyze_run(store, run_id, save=False)
    charges = [h for h in analysis.half_cycles if h["direction"] == "charge"]
    assert len(charges) == 1, analysis.summary()  # one half-cycle, not one per attempt
    assert charges[0]["capacity_C"] == pytest.approx(total_C, rel=0.02)
    (checkpoint,) = [c for c in analysis.checkpoints if c["label"] == "after charge"]
    assert checkpoint["soc"] == pytest.approx(FRACTION, abs=tolerance_C / nominal_C + 0.02)
