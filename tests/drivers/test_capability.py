"""The capability tables and the verdict on a sourced current (drivers.capability)."""

from __future__ import annotations

import pytest

from drivers import capability as cap
from drivers.registry import declared_capability


def test_20_pA_is_refused_on_an_emstat4_hr_and_a_2450_and_warned_on_a_2636b():
    hr = cap.EMSTAT4_HR.judge_source("current", 20e-12)
    assert (hr.level, hr.range.full_scale, hr.delivers()) == ("refuse", 100e-9, "20 pA +- 200 pA")
    k2450 = cap.K2450.judge_source("current", -20e-12)
    assert (k2450.level, k2450.range.full_scale, k2450.delivers()) == ("refuse", 10e-9, "-20 pA +- 100 pA")
    k2636 = cap.K2636B.judge_source("current", 20e-12)
    assert (k2636.level, k2636.range.full_scale) == ("warn", 1e-9)
    assert k2636.error == pytest.approx(0.0015 * 20e-12 + 2e-12)
    lr = cap.EMSTAT4_LR.judge_source("current", 20e-12)  # its 1 nA range: +- (0.2 % + 2 pA), 10 %
    assert (lr.level, lr.range.full_scale) == ("warn", 1e-9)


def test_the_thresholds_are_5_percent_and_100_percent():
    rng = cap.K2450.source["current"][0]  # 10 nA: +- (0.1 % + 100 pA)
    assert cap.K2450.judge_source("current", 2.1e-9).level == "ok"  # 102 pA / 2.1 nA = 4.9 %
    assert cap.K2450.judge_source("current", 1.9e-9).level == "warn"  # 5.4 %
    assert cap.K2450.judge_source("current", 101e-12).level == "warn"  # 99.1 %
    assert cap.K2450.judge_source("current", 99e-12).level == "refuse"
    assert rng.error(1e-9) == pytest.approx(101e-12)


def test_below_the_resolution_or_beyond_the_largest_range_is_refused():
    below = cap.K2636B.judge_source("current", 10e-15)  # 1 nA range programs in 20 fA steps
    assert below.level == "refuse" and "programming resolution" in below.reason
    beyond = cap.EMSTAT4_LR.judge_source("current", 20e-3)
    assert beyond.level == "refuse" and beyond.range is None and "largest source range 10 mA" in beyond.reason


def test_the_smallest_ranges_are_the_checked_ones():
    smallest = {key: c.smallest_source_range("current").full_scale for key, c in cap.CAPABILITIES.items()}
    assert smallest == {"2450": 10e-9, "2636B": 1e-9, "2635B": 1e-9, "2602B": 100e-9,
                        "es4_lr": 1e-9, "es4_hr": 100e-9}
    assert cap.K2636B.measure["current"][0].full_scale == 100e-12  # measure-only
    assert cap.EMSTAT4_LR.potential_range_V == (-3.0, 3.0) and cap.EMSTAT4_HR.potential_range_V == (-6.0, 6.0)
    for c in cap.CAPABILITIES.values():
        assert c.datasheet
        for table in (*c.source.values(), *c.measure.values()):
            scales = [r.full_scale for r in table]
            assert scales == sorted(scales)


def test_drivers_declare_their_model_for_planning():
    assert declared_capability("keithley2450", {}) is cap.K2450
    assert declared_capability("emstat4", {"model": "es4_hr"}) is cap.EMSTAT4_HR
    assert declared_capability("emstat4", {}) is None
    assert declared_capability("keithley2600", {"model": "2636b"}) is cap.K2636B
    assert declared_capability("keithley2600", {}) is None
    assert declared_capability("proscan3", {}) is None
    with pytest.raises(ValueError, match="model must be one of 2636B, 2635B, 2602B"):
        declared_capability("keithley2600", {"model": "2400"})


def test_the_identity_names_the_model():
    assert cap.model_in_identity(cap.K2636B, "Keithley Instruments Inc., Model 2636B, 1234, 4.0")
    assert not cap.model_in_identity(cap.K2636B, "KEITHLEY INSTRUMENTS,MODEL 2450,04431893,1.7.12b")
    assert cap.model_in_identity(cap.EMSTAT4_HR, "es4_hr1.3.0.18#2025-01-15 R1.8")
    assert cap.model_in_identity(cap.EMSTAT4_LR, "mes4lr1.3 R1.8")
    assert not cap.model_in_identity(cap.EMSTAT4_LR, "es4_hr1.3")
