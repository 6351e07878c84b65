"""Limits the engine enforces: strict, and the message names the limit and the station file line."""

from __future__ import annotations

import pytest

from nanocell_daq.errors import UserError
from nanocell_daq.station import LimitError, Limits, parse_station


@pytest.fixture
def limits(example_text) -> Limits:
    config = parse_station(example_text, "station.yaml")
    from nanocell_daq.station.loader import source_of

    return Limits(config.limits, list(config.wirings), source_of(config))


def test_iv_over_the_wiring_limit_is_talkative(limits, example_text):
    needle = '"conductance:S-D": {max_current'
    line = next(i for i, t in enumerate(example_text.splitlines(), 1) if needle in t)
    with pytest.raises(LimitError) as info:
        limits.check_iv("conductance:S-D", 0.5, 2e-6)
    assert str(info.value) == (f"requested 2e-06 A on 'conductance:S-D', device limit 1e-06 A "
                               f"(station.yaml line {line})")
    assert isinstance(info.value, UserError)


def test_iv_voltage_and_allowed(limits):
    limits.check_iv("conductance:S-D", 1.0, 1e-6)
    with pytest.raises(LimitError, match=r"requested 1\.5 V"):
        limits.check_iv("conductance:S-D", -1.5, 1e-7)
    with pytest.raises(LimitError, match="unknown wiring"):
        limits.check_iv("conductance:S-Q", 0.1, 1e-7)


def test_cycling(limits):
    limits.check_cycling(-1e-11, 2.5, 3.95)
    with pytest.raises(LimitError, match="requested 2e-09 A for cycling, device limit 1e-09 A"):
        limits.check_cycling(-2e-9, 2.5, 3.95)
    with pytest.raises(LimitError, match=r"cut-offs \[2.5, 4.2\] V, device window \[2.4, 4.05\] V"):
        limits.check_cycling(1e-11, 2.5, 4.2)
    with pytest.raises(LimitError, match="v_min < v_max"):
        limits.check_cycling(1e-11, 3.9, 3.0)


def test_a_sample_measured_during_a_run(limits):
    assert limits.cycling_window_V == (2.4, 4.05) and limits.cycling_max_current_A == 1e-9
    limits.check_sample(2.4, -1e-9)  # on the edges is inside
    with pytest.raises(LimitError, match=r"^E = 2\.31 V is below the station window \[2\.4, 4\.05\] V "
                                         r"\(station.yaml line \d+\)$"):
        limits.check_sample(2.31, -1e-11)
    with pytest.raises(LimitError, match=r"E = 4\.1 V is above"):
        limits.check_sample(4.1, 1e-11)
    with pytest.raises(LimitError, match=r"\|I\| = 1\.5e-09 A is above the cycling current limit 1e-09 A"):
        limits.check_sample(3.0, -1.5e-9)
    limits.check_sample(1.5, 1e-11, window_V=(1.41, 4.05))  # a pristine cell charging back into the window
    with pytest.raises(LimitError, match=r"E = 1\.3 V is below 1\.41 V: outside the station window .* "
                                         r"further out than where the cell started"):
        limits.check_sample(1.3, 1e-11, window_V=(1.41, 4.05))
    limits.check_sample(float("nan"), 0.0)  # an overloaded reading says nothing about the window


def test_laser_and_stage(limits):
    limits.check_laser(0.5)
    with pytest.raises(LimitError, match=r"requested 1 mW laser power, device limit 0\.5 mW"):
        limits.check_laser(1.0)
    limits.check_stage(500, 500, 0)
    with pytest.raises(LimitError, match=r"stage y = 1200 um, allowed \[0, 1000\] um \(station.yaml line"):
        limits.check_stage(500, 1200)
    with pytest.raises(LimitError, match="stage z"):
        limits.check_stage(500, 500, 60)


def test_no_limit_configured_means_no_check():
    config = parse_station("name: x\ninstruments: {a: {driver: sc10, resource: 'ASRL1::INSTR'}}\n")
    limits = Limits(config.limits)
    limits.check_laser(40)
    limits.check_stage(-1e6, 1e6)
    limits.check_cycling(1e-3, -5, 5)
    limits.check_sample(-9.0, 1.0)
    assert limits.cycling_window_V is None and limits.cycling_max_current_A is None


@pytest.mark.parametrize(
    ("check", "args"),
    [
        ("check_cycling", (float("nan"), 2.5, 3.9)),
        ("check_cycling", (1e-11, 2.5, float("nan"))),
        ("check_iv", ("conductance:S-D", float("inf"), 1e-7)),
        ("check_iv", ("conductance:S-D", 0.5, float("nan"))),
        ("check_potential", (float("nan"),)),
        ("check_laser", (float("nan"),)),
        ("check_stage", (float("nan"), 10.0, 0.0)),
        ("check_stage", (10.0, 10.0, float("-inf"))),
    ],
)
def test_nan_and_inf_never_pass_a_limit(limits, check, args):
    # every comparison with NaN is false, so without this guard NaN would pass each check
    with pytest.raises(LimitError, match="must be a finite number"):
        getattr(limits, check)(*args)


def test_every_limit_allows_its_own_value_and_refuses_just_past_it(limits):
    limits.check_cycling(1e-9, 2.4, 4.05)  # the device's current limit and both window edges
    limits.check_cycling(-1e-9, 2.4, 4.05)
    with pytest.raises(LimitError, match=r"requested 1\.01e-09 A for cycling"):
        limits.check_cycling(1.01e-9, 2.5, 3.9)
    with pytest.raises(LimitError, match=r"cut-offs \[2.39, 3.9\] V, device window \[2.4, 4.05\] V"):
        limits.check_cycling(1e-11, 2.39, 3.9)
    with pytest.raises(LimitError, match="v_min < v_max"):
        limits.check_cycling(1e-11, 3.0, 3.0)
    limits.check_iv("conductance:S-D", -1.0, 1e-6)
    with pytest.raises(LimitError, match=r"requested 1\.01e-06 A"):
        limits.check_iv("conductance:S-D", 0.1, 1.01e-6)
    with pytest.raises(LimitError, match=r"requested 1\.01 V"):
        limits.check_iv("conductance:S-D", 1.01, 1e-7)
    limits.check_laser(0.0)
    with pytest.raises(LimitError, match="laser power must be >= 0 mW"):
        limits.check_laser(-0.01)
    with pytest.raises(LimitError, match=r"requested 0\.51 mW"):
        limits.check_laser(0.51)
    limits.check_stage(0, 1000, -50)
    limits.check_stage(1000, 0, 50)
    limits.check_stage(500, 500)  # no z given: z is not checked
    with pytest.raises(LimitError, match=r"stage x = -1 um, allowed \[0, 1000\] um"):
        limits.check_stage(-1, 500)


def test_a_hold_or_cv_potential_stays_inside_the_cycling_window(limits, example_text):
    line = next(i for i, t in enumerate(example_text.splitlines(), 1) if "voltage_window_V" in t)
    for inside in (2.4, 3.3, 4.05):
        limits.check_potential(inside)
    for outside in (2.39, 4.06, -1.0):
        with pytest.raises(LimitError) as info:
            limits.check_potential(outside)
        assert str(info.value) == (
            f"requested {outside:g} V, device window [2.4, 4.05] V (station.yaml line {line})"
        )


def test_iv_needs_a_positive_compliance_and_a_wiring_without_limits_is_not_checked(example_text):
    config = parse_station(example_text, "station.yaml")
    with pytest.raises(LimitError, match=r"compliance must be > 0 A \(got 0 A\) on 'conductance:S-D'"):
        Limits(config.limits, list(config.wirings)).check_iv("conductance:S-D", 0.1, 0.0)
    unlimited = [w for w in config.wirings if w not in config.limits.wirings]
    assert unlimited, "the example station has a wiring without its own limits"
    Limits(config.limits, list(config.wirings)).check_iv(unlimited[0], 50.0, 1.0)
    Limits(config.limits).check_iv("any wiring at all", 0.1, 1e-9)  # no wiring list: not checked


def test_without_a_source_map_the_message_says_station_limits(example_text):
    config = parse_station(example_text, "station.yaml")
    with pytest.raises(LimitError) as info:
        Limits(config.limits).check_laser(1.0)
    assert str(info.value) == "requested 1 mW laser power, device limit 0.5 mW (station limits)"
