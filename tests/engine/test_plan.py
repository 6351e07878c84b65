"""Plan validation against the station's roles and limits, parallel conflicts, duration estimates."""

from __future__ import annotations

import textwrap

import pytest

from nanocell_daq.engine.plan import expand, plan_table
from nanocell_daq.engine.protocol import load_protocol, parse_protocol, shipped_protocols
from nanocell_daq.engine.stationview import StationView
from nanocell_daq.errors import UserError


def _plan(text, station):
    return expand(parse_protocol(textwrap.dedent(text), "p.yaml"), station)


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            "iv: {compliance_A: 2.0e-6}",
            "iv.compliance_A: requested 2e-06 A on 'conductance:S-D', device limit 1e-06 A "
            "(station_si.yaml line 33)",
        ),
        ("iv: {v_max_V: 2.0}", "iv.v_max_V: requested 2 V on 'conductance:S-D', device limit 1 V"),
        ("iv: {pairs: [S-X]}", "iv.pairs: no wiring 'conductance:S-X'"),
        (
            "galvanostatic: {current_A: 5.0e-9}",
            "galvanostatic.current_A: requested 5e-09 A for cycling, device limit 1e-09 A "
            "(station_si.yaml line 32)",
        ),
        (
            "galvanostatic: {current_A: 1.0e-11, v_max_V: 4.3}",
            "galvanostatic.v_max_V: requested 4.3 V, device window [2.4, 4.05] V",
        ),
        ("cv: {vertex1_V: 4.5}", "cv.vertex1_V: requested 4.5 V, device window [2.4, 4.05] V"),
        ("potentiostatic_hold: {potential_V: 1.0}", "potentiostatic_hold.potential_V: requested 1 V"),
        (
            "raman_map: {laser_power_mW: 2}",
            "raman_map.laser_power_mW: requested 2 mW laser power, device limit 0.5 mW "
            "(station_si.yaml line 34)",
        ),
        (
            "raman_map: {along_wire: false, mode: area, x0_um: 990, nx: 40, dx_um: 1}",
            "map position: requested stage x = 1001 um, allowed [0, 1000] um (station_si.yaml line 35)",
        ),
    ],
)
def test_limits_are_checked_with_talkative_messages(station, step, message):
    with pytest.raises(UserError) as info:
        _plan(f"steps:\n  - {step}\n", station)
    assert message in str(info.value)
    assert "p.yaml:2:" in str(info.value)
    assert "station_si.yaml" in str(info.value)


def test_parallel_map_during_cycling_is_accepted(station):
    plan = _plan(
        """
        steps:
          - parallel:
              - galvanostatic: {current_A: 1.0e-11, max_time_s: 100}
              - raman_map: {nx: 5, exposure_s: 1}
          - iv: {}
        """,
        station,
    )
    groups = plan.groups()
    assert [len(g) for g in groups] == [2, 1]
    assert plan.group_estimate_s(groups[0]) == max(i.estimate_s for i in groups[0])


@pytest.mark.parametrize(
    ("a", "b", "why"),
    [
        ("iv: {}", "iv: {}", "both use instrument shutter, smu"),
        ("galvanostatic: {current_A: 1.0e-11}", "rest: {}", "both use instrument pstat"),
        ("galvanostatic: {current_A: 1.0e-11}", "iv: {}", "both touch pad S"),
        ("iv: {}", "raman_map: {}", "both use instrument shutter"),
    ],
)
def test_parallel_conflicts_are_refused(station, a, b, why):
    with pytest.raises(UserError, match=why):
        _plan(f"steps:\n  - parallel:\n      - {a}\n      - {b}\n", station)


def test_missing_role_is_refused(station_path):
    text = station_path.read_text().replace("  spectrometer: spectrometer\n", "")
    with pytest.raises(UserError, match="no 'spectrometer' role"):
        _plan("steps:\n  - raman_map: {}\n", StationView.from_text(text, "no_spectrometer.yaml"))


def test_line_map_along_the_wire_uses_station_position(station):
    plan = _plan("steps:\n  - raman_map: {mode: line, nx: 11}\n", station)
    positions = plan.items[0].step.positions(station)
    assert positions[0][:2] == (100.0, 200.0)
    assert positions[-1][:2] == pytest.approx((110.0, 200.0))
    assert len(positions) == 11


def test_area_map_is_serpentine_and_pixels_index_the_grid(station):
    step = _plan("steps:\n  - raman_map: {mode: area, nx: 3, ny: 2, width_um: 1}\n", station).items[0].step
    pos = step.positions(station)
    assert [round(x) for x, _, _ in pos] == [100, 105, 110, 110, 105, 100]
    assert sorted(step.pixel_of(x, y, station) for x, y, _ in pos) == list(range(6))


def test_plan_table_lists_every_step_and_total(station):
    from rich.console import Console

    plan = expand(load_protocol(shipped_protocols()["si_seed"]), station)
    console = Console(record=True, width=200)
    console.print(plan_table(plan))
    out = console.export_text()
    assert "after discharge 2" in out and "total" in out
