"""I-V metrics: known conductance, Schottky nonlinearity, rectification, hysteresis, noise-level wires."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nanocell_daq.analysis.iv import (
    hysteresis,
    iv_metrics,
    iv_table,
    power_law_exponent,
    sweep_branches,
    zero_bias_conductance,
)
from nanocell_daq.analysis.iv_fit import b2b_current, b2b_g0
from tests.analysis.synthetic import schottky_current, sweep


def test_ohmic_wire_recovers_conductance_and_is_linear():
    rng = np.random.default_rng(0)
    v = sweep(0.5, 0.01)
    i = 1.0e-6 * v + rng.normal(0, 5e-13, v.size)
    m = iv_metrics(v, i)
    assert m.conductance_S == pytest.approx(1.0e-6, rel=1e-3)
    assert m.chord_conductance_S == pytest.approx(1.0e-6, rel=1e-3)
    assert m.nonlinearity == pytest.approx(1.0, abs=0.01)
    assert m.exponent == pytest.approx(1.0, abs=0.01)
    assert m.rectification == pytest.approx(1.0, abs=0.01)
    assert m.hysteresis_rel < 0.01


def test_back_to_back_schottky_is_nonlinear_and_rectifying():
    v = sweep(1.0, 0.01)
    # unequal barriers: the high pad's contact (reverse-biased for V > 0) passes 3x less
    i = b2b_current(v, 1e-11, 3e-11, 0.04, 3.0, 1e6)
    m = iv_metrics(v, i + np.random.default_rng(2).normal(0, 5e-14, v.size))
    assert m.g0_method == "schottky" and m.g0_significant
    assert m.nonlinearity > 2
    assert m.exponent > 1.05
    assert 0.2 < m.rectification < 0.6
    assert m.conductance_S == pytest.approx(b2b_g0(1e-11, 3e-11, 0.04, 1e6), rel=0.02)


def test_kinked_barrier_curve_still_gives_a_nonlinear_significant_g0():
    """A curve with a kink at 0 V (different slopes either side) is outside the smooth model: G0 is still
    positive and significant, the curve nonlinear and rectifying."""
    v = sweep(1.0, 0.01)
    m = iv_metrics(v, schottky_current(v, 1e-10, 3e-10, 0.15))
    assert m.nonlinearity > 10 and m.exponent > 1.5
    assert m.rectification == pytest.approx(1 / 3, rel=0.05)
    assert m.conductance_S > 0 and m.g0_significant


def test_coarse_sweep_widens_the_zero_bias_window():
    v = sweep(1.0, 0.1)
    m = iv_metrics(v, 2e-9 * v)
    assert m.g0_window_V > 0.05
    assert m.conductance_S == pytest.approx(2e-9, rel=1e-6)


def test_noise_level_wire_gives_an_upper_limit_and_no_nonlinearity():
    rng = np.random.default_rng(1)
    v = sweep(0.5, 0.05)
    i = 5e-14 * v + rng.normal(0, 5e-13, v.size)  # 50 fS under 500 fA noise
    m = iv_metrics(v, i)
    assert m.g0_method == "linear" and not m.g0_significant
    assert np.isnan(m.nonlinearity)
    assert m.g0_upper_limit_S == pytest.approx(max(m.conductance_S, 0) + 1.645 * m.conductance_err_S)
    assert 5e-14 < m.g0_upper_limit_S < 2e-12


def test_nan_points_and_hysteresis():
    v = sweep(0.5, 0.01)
    up = np.r_[np.diff(v) > 0, True]
    i = 1e-8 * v + np.where(up, 1e-10, -1e-10)
    i[5] = np.nan
    m = iv_metrics(v, i)
    assert np.isfinite(m.conductance_S)
    assert m.hysteresis_rel > 0.02
    assert m.hysteresis_area_W == pytest.approx(2e-10 * 1.0, rel=0.05)


def test_table_per_step_and_pair():
    v = sweep(0.5, 0.01)
    frames = [
        pd.DataFrame({"step_id": 1, "pair": p, "voltage_V": v, "current_A": g * v})
        for p, g in (("S-D", 1e-6), ("S-C1", 3e-6))
    ]
    table = iv_table(pd.concat(frames))
    assert list(table["pair"]) == ["S-D", "S-C1"]
    assert table["conductance_S"].to_numpy() == pytest.approx([1e-6, 3e-6])


def test_conductance_error_is_the_standard_error_of_the_slope():
    v = np.linspace(-0.05, 0.05, 11)
    noise = np.array([1, -1, 2, -2, 0, 1, -1, 2, -2, 0, 1]) * 1e-12
    g0, err, offset, window, n = zero_bias_conductance(v, 1e-8 * v + 3e-12 + noise)
    slope, intercept = np.polyfit(v, 1e-8 * v + 3e-12 + noise, 1)
    resid = 1e-8 * v + 3e-12 + noise - (slope * v + intercept)
    expected_err = np.sqrt(np.sum(resid**2) / (v.size - 2) / np.sum((v - v.mean()) ** 2))
    assert (g0, offset, window, n) == (pytest.approx(slope), pytest.approx(intercept), 0.05, 11)
    assert err == pytest.approx(expected_err, rel=1e-9)


def test_two_points_give_a_conductance_without_an_error_and_one_point_gives_nothing():
    g0, err, offset, _, n = zero_bias_conductance(np.array([-0.01, 0.01]), np.array([-1e-9, 1e-9]))
    assert (g0, offset, n) == (pytest.approx(1e-7), pytest.approx(0.0, abs=1e-20), 2)
    assert np.isnan(err)
    m = iv_metrics(np.array([0.1]), np.array([1e-9]))
    assert m.n_points == 1 and m.v_max_V != m.v_max_V and np.isnan(m.conductance_S)


def test_nonlinearity_needs_g0_three_standard_errors_above_zero():
    v = np.linspace(-0.5, 0.5, 101)
    wiggle = np.where(np.arange(v.size) % 2, 1.0, -1.0) * (np.abs(v) < 0.3)  # clean high-bias ends
    for scale, reported in ((7e-11, True), (2e-10, False)):
        i = 1e-10 * v + scale * wiggle
        m = iv_metrics(v, i)
        ratio = m.conductance_S / m.conductance_err_S
        assert (3 < ratio < 6) if reported else (ratio < 3), ratio
        assert np.isfinite(m.nonlinearity) == reported


def test_power_law_from_three_points_and_zero_currents_left_out():
    v = np.array([0.5, 0.75, 1.0])
    assert power_law_exponent(v, v**2) == pytest.approx(2.0)
    v4 = np.array([0.0, 0.5, 0.6, 0.75, 1.0])
    i4 = np.array([0.0, 0.0, 0.6**3, 0.75**3, 1.0])  # a point reading exactly 0 A is not on the log scale
    assert power_law_exponent(v4, i4) == pytest.approx(3.0)


def test_a_flat_step_belongs_to_the_branch_before_it():
    assert sweep_branches(np.array([0, 0.1, 0.2, 0.2, 0.1, 0.0])).tolist() == [1, 1, 1, 1, -1, -1]


def test_recorded_directions_decide_the_hysteresis_branches():
    v = np.r_[np.linspace(-0.5, 0.5, 11), np.linspace(-0.5, 0.5, 11)]  # both sweeps upward in bias
    i = np.r_[1e-8 * v[:11], 1e-8 * v[11:] + 2e-10]
    rel, area = hysteresis(v, i, np.array(["up"] * 11 + ["down"] * 11))
    assert area == pytest.approx(2e-10 * 1.0, rel=1e-6)
    assert rel > 0
    dirs = np.array(["up"] * 3 + ["down"] * 3)
    no_overlap = hysteresis(np.r_[0.1, 0.2, 0.3, -0.1, -0.2, -0.3], np.ones(6), dirs)
    assert np.isnan(no_overlap[0]) and np.isnan(no_overlap[1])


def test_table_rows_follow_acquisition_order():
    v = sweep(0.5, 0.05)
    frames = [pd.DataFrame({"step_id": s, "pair": "S-D", "voltage_V": v, "current_A": g * v})
              for s, g in ((7, 1e-6), (3, 2e-6))]
    table = iv_table(pd.concat(frames))
    assert list(table["step_id"]) == [7, 3]
    assert table["conductance_S"].to_numpy() == pytest.approx([1e-6, 2e-6])


def test_points_without_a_pair_still_make_a_row():
    v = sweep(0.5, 0.05)
    table = iv_table(pd.DataFrame({"step_id": 4, "pair": None, "voltage_V": v, "current_A": 1e-6 * v}))
    assert len(table) == 1 and table["conductance_S"].iloc[0] == pytest.approx(1e-6)


def test_nonlinearity_needs_a_significant_high_bias_slope():
    """1 pS over ±0.5 V under 500 fA: G0 is significant from the whole sweep, but the slope over the top 20 %
    of each polarity is noise: no nonlinearity index rather than a number made of noise."""
    rng = np.random.default_rng(1)
    v = sweep(0.5, 0.005)
    m = iv_metrics(v, 1e-12 * v + rng.normal(0, 5e-13, v.size))
    assert m.g0_significant
    assert np.isnan(m.nonlinearity)
    m = iv_metrics(v, 1e-9 * v + rng.normal(0, 5e-13, v.size))
    assert m.nonlinearity == pytest.approx(1.0, abs=0.05)


def test_short_sweeps_fit_without_warnings():
    """A 5-point-per-direction sweep (a quick check after a resume) gives G0 from the line, no warning."""
    for v in (np.linspace(-0.5, 0.5, 10), np.r_[np.linspace(-0.5, 0.5, 5), np.linspace(0.5, -0.5, 5)],
              np.array([0.0, 0.1, 0.2])):
        m = iv_metrics(v, 1e-7 * v + 1e-12 * np.cos(7 * v))
        assert m.conductance_S == pytest.approx(1e-7, rel=1e-3)
