"""The ETA: the plan's wall estimate first (what `nanocell check` prints), then refined per kind of step by
the wall time measured while the run goes."""

from __future__ import annotations

import pytest

from nanocell_daq.engine.eta import STEP_SETUP_S, EtaModel, plan_wall_s, planned_wall_s
from simulated_instruments.bench import SimulatedBench
from tests.engine import benchkit

KNOWN = """
protocol: known estimate
steps:
  - iv: {pairs: [S-D], v_max_V: 0.1, points: 5, both_directions: false, nplc: 1.0, settle_s: 0.1}
  - rest: {time_s: 200}
"""
# iv: 5 points x (0.1 s settling + 0.02 s integration + 0.03 s exchange) = 0.75 engine s, 0.15 s of them
# host round trips at the wall's pace; rest: 200 s of instrument time. At speed 1000, with set-up per step:
EXPECTED_WALL_S = (0.15 + 0.6 / 1000 + STEP_SETUP_S) + (200 / 1000 + STEP_SETUP_S)


def test_a_step_plans_its_host_round_trips_at_the_walls_pace_and_the_rest_at_speed():
    assert planned_wall_s(0.75, 0.15, 1000.0) == pytest.approx(0.15 + 0.0006 + STEP_SETUP_S)
    assert planned_wall_s(3600.0, 0.0, 1.0) == 3600.0  # a real bench: the estimate is wall time


def test_the_plans_wall_estimate_is_what_check_prints(station, tmp_path, capsys):
    from nanocell_daq.cli import main
    from nanocell_daq.engine.plan import expand, fmt_duration
    from nanocell_daq.engine.protocol import parse_protocol

    plan = expand(parse_protocol(KNOWN, "known.yaml"), station)
    assert plan.station.speed == 1000.0
    assert plan_wall_s(plan) == pytest.approx(EXPECTED_WALL_S)
    (tmp_path / "known.yaml").write_text(KNOWN, encoding="utf-8")
    assert main(["check", str(tmp_path / "known.yaml"), "--station", str(plan.station.path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"about {fmt_duration(EXPECTED_WALL_S)} of wall time at speed 1000" in out, out


def test_the_first_eta_of_a_run_is_the_plans_estimate(tmp_path):
    seen = []
    with SimulatedBench(preset="si", speed=1000.0, seed=0) as bench:
        plan = benchkit.plan_for(bench, tmp_path, KNOWN)
        store, result = benchkit.run(bench, tmp_path, KNOWN, supervise=False,
                                     on_progress=lambda label, fraction, eta: seen.append((label, eta)))
        store.close()
    assert result.status == "completed", result.reason
    assert plan_wall_s(plan) == pytest.approx(EXPECTED_WALL_S)
    assert seen[0][1] == pytest.approx(EXPECTED_WALL_S)  # not 0 s, not the clock's estimate / speed
    assert seen[-1][1] == 0.0


def test_unmeasured_kinds_follow_the_plan_then_their_measured_pace():
    eta = EtaModel()
    assert eta.pending_s([[("iv", 10.0)]]) == pytest.approx(10.0)  # planned wall s, as planned
    eta.observe("iv", 10.0, 30.0)  # an I-V planned at 10 wall s took 30 (slow readings)
    eta.observe("iv", 10.0, 10.0)
    assert eta.rate("iv") == pytest.approx(2.0)
    assert eta.pending_s([[("iv", 5.0)], [("rest", 1.0)]]) == pytest.approx(10.0 + 1.0)


def test_a_parallel_group_lasts_as_long_as_its_slowest_step():
    eta = EtaModel()
    eta.observe("raman_map", 10.0, 40.0)
    assert eta.pending_s([[("galvanostatic", 100.0), ("raman_map", 30.0)]]) == pytest.approx(120.0)


def test_a_running_step_extrapolates_its_own_pace():
    eta = EtaModel()
    assert eta.running_left_s("galvanostatic", 100.0, 0.5, wall_s=20.0) == pytest.approx(20.0)
    # too early to tell: the plan at the kind's pace, minus what has passed
    assert eta.running_left_s("galvanostatic", 100.0, 0.01, wall_s=20.0) == pytest.approx(80.0)
