"""The ETA model: calibrated per kind of step by the wall time measured while the run goes."""

from __future__ import annotations

import pytest

from nanocell_daq.engine.eta import EtaModel


def test_unmeasured_kinds_follow_the_clock_then_their_measured_pace():
    eta = EtaModel(speed=100.0)
    assert eta.pending_s([[("iv", 10.0)]]) == pytest.approx(0.1)  # 10 engine s at 100x
    eta.observe("iv", 10.0, 3.0)  # an I-V of 10 estimated s took 3 wall s (slow readings)
    eta.observe("iv", 10.0, 1.0)
    assert eta.rate("iv") == pytest.approx(0.2)
    assert eta.pending_s([[("iv", 5.0)], [("rest", 100.0)]]) == pytest.approx(1.0 + 1.0)


def test_a_parallel_group_lasts_as_long_as_its_slowest_step():
    eta = EtaModel(speed=1.0)
    eta.observe("raman_map", 10.0, 40.0)
    assert eta.pending_s([[("galvanostatic", 100.0), ("raman_map", 30.0)]]) == pytest.approx(120.0)


def test_a_running_step_extrapolates_its_own_pace():
    eta = EtaModel(speed=1.0)
    assert eta.running_left_s("galvanostatic", 100.0, 0.5, wall_s=20.0) == pytest.approx(20.0)
    # too early to tell: the estimate at the kind's pace, minus what has passed
    assert eta.running_left_s("galvanostatic", 100.0, 0.01, wall_s=20.0) == pytest.approx(80.0)
