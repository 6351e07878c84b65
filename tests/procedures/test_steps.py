"""Steps against fake roles: cut-offs, re-arming after a pause, per-pair sweeps, shutter discipline."""

from __future__ import annotations

import pytest

from procedures import GalvanostaticStep, IVSweep, OCVRest, RamanMap
from procedures.context import ComplianceTrip, StepAborted
from tests.procedures import fakes


def _run(step, ctx):
    step.bind(ctx)
    step.startup()
    try:
        step.execute()
    finally:
        step.shutdown()
    return step


def _galvanostatic(**params):
    ctx = fakes.Context({})
    ctx.roles["galvanostat"] = fakes.Galvanostat(ctx.clock)
    step = GalvanostaticStep.from_params({"current_A": 1e-12, "interval_s": 1.0, **params})
    return step, ctx


def test_capacity_cut_off_as_fraction_of_nominal():
    step, ctx = _galvanostatic(capacity_fraction=0.5, v_max_V=9.0)
    _run(step, ctx)
    q_end = ctx.recorder.cycling_rows[-1][3]
    assert q_end == pytest.approx(0.5 * 1e-13 * 3600, rel=0.02)
    assert "capacity cut-off" in step.reason
    assert ctx.wirings == ["cycling"]
    assert not ctx.roles["galvanostat"].running


def test_voltage_cut_off_in_the_direction_of_travel_only():
    step, ctx = _galvanostatic(v_min_V=3.5, v_max_V=3.01)
    _run(step, ctx)
    assert "voltage cut-off 3.01 V" in step.reason
    _, _, v_min, v_max = ctx.roles["galvanostat"].starts[0]
    assert v_max == 3.01 and v_min < 0  # a charge is not stopped by the discharge cut-off


def test_pause_re_arms_for_the_remaining_time_and_keeps_the_charge():
    step, ctx = _galvanostatic(max_time_s=100.0, v_max_V=9.0)
    ctx.pause_at = 20
    _run(step, ctx)
    starts = ctx.roles["galvanostat"].starts
    assert len(starts) == 2
    assert starts[1][1] < starts[0][1]  # the second run only gets what is left of the time limit
    q = [row[3] for row in ctx.recorder.cycling_rows]
    t = [row[0] for row in ctx.recorder.cycling_rows]
    assert q == sorted(q) and t == sorted(t)


def test_abort_between_points_propagates():
    step, ctx = _galvanostatic(max_time_s=100.0)
    ctx.abort_at = 5
    with pytest.raises(StepAborted):
        _run(step, ctx)
    assert not ctx.roles["galvanostat"].running


def test_ocv_rest_stops_when_settled():
    ctx = fakes.Context({})
    ctx.roles["galvanostat"] = fakes.Galvanostat(ctx.clock)
    step = OCVRest.from_params({"time_s": 500, "dEdt_V_s": 1e-6, "min_time_s": 5, "interval_s": 1})
    _run(step, ctx)
    assert "dE/dt" in step.reason
    assert ctx.clock.t < 50


def test_iv_sweeps_each_pair_both_directions_with_shutter_closed():
    smu, shutter = fakes.SourceMeter(g=2e-6), fakes.Shutter()
    ctx = fakes.Context({"source_meter": smu, "shutter": shutter})
    step = _run(IVSweep.from_params({"pairs": ["S-D"], "points": 5, "v_max_V": 0.4}), ctx)
    rows = ctx.recorder.iv_rows
    assert [r[2] for r in rows] == ["up"] * 5 + ["down"] * 5
    assert rows[0][0] == -0.4 and rows[4][0] == 0.4 and rows[5][0] == 0.4
    assert rows[4][1] == pytest.approx(0.8e-6)
    assert ctx.wirings == ["conductance:S-D"]
    assert not smu.on and shutter.history == ["close"]
    assert step.estimate_s(ctx.station) > 0


def test_iv_on_a_multi_contact_wire_sweeps_every_pair_on_its_own_wiring():
    smu = fakes.SourceMeter(g=1e-6)
    ctx = fakes.Context({"source_meter": smu, "shutter": fakes.Shutter()})
    _run(IVSweep.from_params({"points": 3, "both_directions": False}), ctx)  # no pairs: all of them
    assert ctx.wirings == ["conductance:S-D", "conductance:S-C1"]
    assert [r[3] for r in ctx.recorder.iv_rows] == ["S-D"] * 3 + ["S-C1"] * 3
    assert not smu.on


def test_iv_compliance_trip_ends_the_step_with_output_off():
    smu = fakes.SourceMeter(compliance_at=0.2)
    ctx = fakes.Context({"source_meter": smu, "shutter": fakes.Shutter()})
    with pytest.raises(ComplianceTrip, match="S-D: compliance"):
        _run(IVSweep.from_params({"pairs": ["S-D"], "points": 5, "v_max_V": 0.4}), ctx)
    assert not smu.on


def test_raman_line_along_the_wire_opens_the_shutter_only_to_acquire():
    shutter = fakes.Shutter()
    spec = fakes.Spectrometer(shutter)
    ctx = fakes.Context({"stage": fakes.Stage(), "spectrometer": spec, "laser": spec, "shutter": shutter})
    _run(RamanMap.from_params({"mode": "line", "nx": 5, "exposure_s": 2, "laser_power_mW": 0.1}), ctx)
    assert spec.shutter_seen == [True] * 5
    assert not shutter.is_open
    assert [(x, z) for x, _, z, _, _ in ctx.recorder.spectra] == [
        (0, 1.0),
        (1, 1.0),
        (2, 1.0),
        (3, 1.0),
        (4, 1.0),
    ]
    assert [p for *_, p in ctx.recorder.spectra] == [0, 1, 2, 3, 4]
    assert spec.exposure_s == 2 and spec.power_mW == 0.0  # laser off after the map


def test_samples_left_by_the_previous_technique_are_not_recorded_as_this_steps():
    from drivers.roles import Sample

    step, ctx = _galvanostatic(max_time_s=5.0, v_max_V=9.0)
    ctx.roles["galvanostat"].pending = [Sample(900.0, 3.7, 0.0)]  # the last OCV sample of a rest
    _run(step, ctx)
    rows = ctx.recorder.cycling_rows
    assert rows and all(E != 3.7 for _, E, _, _ in rows)
    assert rows[0][0] < 5.0
    assert any("of the previous technique" in e for e in ctx.recorder.events)
