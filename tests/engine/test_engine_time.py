"""One engine clock for every stored time, and `check`'s estimate close to the run's engine time."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from nanocell_daq.engine.clock import EngineClock
from simulated_instruments.bench import SimulatedBench
from tests.engine.benchkit import plan_for, run


def test_simulated_clock_counts_declared_instrument_time_not_speed_times_round_trips():
    clock = EngineClock(speed=1e4)
    t0 = clock.now()
    time.sleep(0.02)  # 20 ms of host work: 20 ms of engine time, not 200 s
    assert clock.now() - t0 < 1.0
    clock.elapse(5.0)
    assert 5.0 <= clock.now() - t0 < 6.0
    clock.reach(t0 + 100.0)  # a device stamped a sample there
    assert 100.0 <= clock.now() - t0 < 101.0
    clock.reach(t0 + 50.0)  # never backwards
    assert 100.0 <= clock.now() - t0 < 101.0


def test_real_clock_is_the_wall_clock():
    clock = EngineClock(speed=1.0, start=10.0)
    clock.elapse(100.0)  # on a real bench the wall already counted the instrument's time
    clock.reach(1e6)
    assert 10.0 <= clock.now() < 11.0


def test_check_estimate_matches_the_runs_engine_time_and_times_are_one_axis(tmp_path: Path):
    overrides = {"cycles": "1", "iv_pairs": "[S-D]"}  # the shipped si_seed, one cycle, one contact pair
    with SimulatedBench(preset="si", speed=5000.0, seed=0) as bench:
        estimate = plan_for(bench, tmp_path, "si_seed", overrides).total_s
        store, result = run(bench, tmp_path, "si_seed", overrides)
    assert result.status == "completed"
    spans = []  # (first t, last t, kind) of every step, in the order the steps ran
    for step in store.steps(result.run_id):
        if step.kind == "iv":
            t = np.asarray(store.iv(result.run_id, step_id=step.id).t, float)
        elif step.kind in ("raman_map", "raman_reference"):
            t = np.asarray(store.spectra(result.run_id, step_id=step.id).t, float)
        else:
            t = np.asarray(store.cycling(result.run_id, step_id=step.id).t, float)
        assert len(t) and np.all(np.diff(t) >= 0), step.label
        spans.append((t[0], t[-1], step.kind))
    starts = np.array([s[0] for s in spans])
    ends = np.array([s[1] for s in spans])
    assert np.all(starts[1:] >= ends[:-1])  # each step's data after the previous step's: one time axis
    engine_s = ends[-1]
    assert abs(estimate - engine_s) <= 0.2 * engine_s, (estimate, engine_s)
    # a 21-point sweep up and down at 0.05 s settling + 1 PLC takes seconds, not the ~3,000 s it cost when
    # the host's round trips were counted at the bench speed
    for first, last, kind in spans:
        if kind == "iv":
            assert last - first < 10.0
