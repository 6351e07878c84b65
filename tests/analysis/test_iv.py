"""I-V metrics: known conductance, Schottky nonlinearity, rectification, hysteresis, noise-level wires."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nanocell_daq.analysis.iv import iv_metrics, iv_table
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
    m = iv_metrics(v, schottky_current(v, 1e-10, 3e-10, 0.15))
    assert m.nonlinearity > 10
    assert m.exponent > 1.5
    assert m.rectification == pytest.approx(1 / 3, rel=0.05)
    # G0 ~ mean of the two polarities' slopes at 0 V, (1e-10 + 3e-10) / 2 / 0.15 V (+ curvature within ±50 mV)
    assert m.conductance_S == pytest.approx(2e-10 / 0.15, rel=0.15)


def test_coarse_sweep_widens_the_zero_bias_window():
    v = sweep(1.0, 0.1)
    m = iv_metrics(v, 2e-9 * v)
    assert m.g0_window_V > 0.05
    assert m.conductance_S == pytest.approx(2e-9, rel=1e-6)


def test_noise_level_wire_gives_no_nonlinearity_but_a_small_conductance():
    rng = np.random.default_rng(1)
    v = sweep(1.0, 0.02)
    i = 1e-12 * v + rng.normal(0, 5e-13, v.size)  # 1 pS under 500 fA noise
    m = iv_metrics(v, i)
    assert np.isnan(m.nonlinearity)
    assert abs(m.conductance_S) < 1e-10


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
