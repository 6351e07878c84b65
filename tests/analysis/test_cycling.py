"""Cycling metrics recover the capacity, efficiency, voltages and energy of synthetic half-cycles."""

from __future__ import annotations

import numpy as np
import pytest

from nanocell_daq.analysis.cycling import (
    HalfCycle,
    coulombic_flags,
    cumulative_charge,
    cycle_table,
    dqdv,
    dqdv_table,
    half_cycle,
    half_cycles_from_points,
    number_cycles,
    overshoots,
    soc_before_steps,
    split_by_sign,
)
from tests.analysis.synthetic import cycling_points


def test_known_capacity_in_c_ah_and_pah():
    t = np.linspace(1.0, 400.0, 400)  # sampled every 1 s, the first sample 1 s after the start
    h = half_cycle(t, np.full(t.size, 5e-12), np.linspace(3.0, 3.9, t.size))
    assert h.capacity_C == pytest.approx(2.0e-9, rel=1e-9)
    assert h.capacity_Ah == pytest.approx(2.0e-9 / 3600)
    assert h.capacity_pAh == pytest.approx(2.0e-9 / 3600 * 1e12)
    assert h.direction == "charge"
    assert h.mean_voltage_V == pytest.approx(3.45, abs=1e-9)
    assert h.energy_J == pytest.approx(2.0e-9 * 3.45, rel=1e-6)


def test_nan_points_are_ignored_and_negative_current_is_a_discharge():
    t = np.linspace(1.0, 100.0, 100)
    i = np.full(t.size, -1e-12)
    i[10] = np.nan
    h = half_cycle(t, i, np.full(t.size, 3.5))
    assert h.direction == "discharge"
    assert h.capacity_C == pytest.approx(1e-10, rel=1e-6)


def test_cycle_table_gives_efficiency_and_hysteresis():
    pts = cycling_points(capacity_C=2e-9)
    # make the discharge of cycle 1 deliver 90 %
    mask = pts["step_id"] == 2
    pts.loc[mask, "current_A"] *= 0.9
    hcs = half_cycles_from_points(pts)
    assert [h.direction for h in hcs] == ["charge", "discharge", "charge", "discharge"]
    table = cycle_table(hcs)
    assert list(table["cycle"]) == [1, 2]
    assert table.loc[0, "coulombic_efficiency"] == pytest.approx(0.9, rel=1e-6)
    assert table.loc[1, "coulombic_efficiency"] == pytest.approx(1.0, rel=1e-6)
    assert table.loc[0, "charge_capacity_pAh"] == pytest.approx(2e-9 / 3600 * 1e12, rel=1e-6)
    # charge climbs 3.0 -> 3.9, discharge falls 3.85 -> 2.95 (400 samples, the first one interval in): mean
    # 3.45 + 0.45/400 vs 3.40 - 0.45/400 V
    assert table.loc[1, "voltage_hysteresis_V"] == pytest.approx(0.05 + 0.9 / 400, abs=1e-6)


def test_without_step_ids_the_record_is_split_by_current_sign():
    pts = cycling_points().drop(columns=["step_id", "cycle", "label"])
    hcs = half_cycles_from_points(pts)
    assert [h.cycle for h in hcs] == [1, 1, 2, 2]
    assert all(h.capacity_C == pytest.approx(2e-9, rel=1e-6) for h in hcs)


def test_discharge_first_cells_number_cycles_from_the_discharge():
    assert number_cycles(["discharge", "charge", "discharge", "charge"]) == [1, 1, 2, 2]
    assert number_cycles(["charge", "charge", "discharge", "charge"]) == [1, 1, 1, 2]


def test_split_by_sign_ignores_rest():
    i = np.array([0, 1, 1, 1, 0, 0, -1, -1, -1, -1, 0], dtype=float) * 1e-12
    assert split_by_sign(i) == [slice(1, 4), slice(6, 10)]


def test_dqdv_finds_a_plateau():
    # a plateau at 3.6 V holding half the capacity appears as a dQ/dV peak there
    v = np.linspace(3.2, 4.0, 3000)
    q = 1e-9 * (0.5 * (v - 3.2) / 0.8 + 0.5 / (1 + np.exp(-(v - 3.6) / 0.02)))
    noisy_v = v + np.random.default_rng(0).normal(0, 1e-3, v.size)
    centres, g = dqdv(noisy_v, q, bin_V=0.005)
    assert centres.size > 100
    assert centres[np.argmax(g)] == pytest.approx(3.6, abs=0.01)
    # the plateau holds ~0.5 nC: the peak integrates to about that
    assert np.trapezoid(g, centres) == pytest.approx(1e-9, rel=0.1)


def test_cumulative_charge_is_trapezoidal():
    q = cumulative_charge(np.array([0.0, 1.0, 3.0]), np.array([1.0, 1.0, 3.0]))
    assert q == pytest.approx([0.0, 1.0, 5.0])


def test_half_cycle_times_and_end_voltages():
    t = np.array([10.0, 20.0, 30.0, 50.0])
    h = half_cycle(t, np.full(4, 2e-12), np.array([3.0, 3.2, 3.5, 3.6]))
    got = (h.cycle, h.start_s, h.duration_s, h.v_start_V, h.v_end_V, h.n_points)
    assert got == (1, 10.0, 40.0, 3.0, 3.6, 4)
    assert h.mean_current_A == pytest.approx(2e-12)


def test_a_single_point_half_cycle_has_no_capacity_but_keeps_its_start():
    h = half_cycle(np.array([7.0]), np.array([-1e-12]), np.array([3.3]), cycle=2, step_id=4, label="x")
    assert (h.cycle, h.direction, h.start_s, h.duration_s, h.n_points, h.step_id, h.label) == (
        2, "discharge", 7.0, 0.0, 1, 4, "x"
    )
    assert np.isnan(h.capacity_C) and np.isnan(h.mean_voltage_V)


def test_steps_without_a_cycle_column_are_numbered_from_their_directions():
    pts = cycling_points().drop(columns=["cycle"])
    assert [h.cycle for h in half_cycles_from_points(pts)] == [1, 1, 2, 2]


def test_a_half_cycle_that_passed_no_charge_gives_no_mean_voltage_and_zero_efficiency():
    t = np.linspace(0, 100.0, 11)
    charge = half_cycle(t, np.full(11, 1e-12), np.linspace(3.0, 3.5, 11), cycle=1)
    empty = half_cycle(t + 200, np.zeros(11), np.full(11, 3.4), cycle=1)  # zero current: a "discharge"
    row = cycle_table([charge, empty]).iloc[0]
    assert row["discharge_capacity_C"] == 0.0 and np.isnan(row["mean_discharge_voltage_V"])
    assert row["coulombic_efficiency"] == 0.0


def test_dqdv_bins_are_5_mV_by_default_and_the_top_edge_is_kept():
    v = np.linspace(3.0, 3.02, 401)  # the highest voltage falls exactly on the last bin edge
    centres, g = dqdv(v, 2e-9 * (v - 3.0))
    np.testing.assert_allclose(np.diff(centres), 0.005, rtol=1e-6)
    np.testing.assert_allclose(g, 2e-9, rtol=0.05)  # Q rises 2 nC per volt
    short = np.linspace(3.0, 3.0125, 200)  # two and a half bins: still three occupied bins
    assert dqdv(short, short - 3.0)[0].size == 3


def test_dqdv_is_smoothed_across_bins():
    rng = np.random.default_rng(1)
    v = np.linspace(3.0, 3.5, 5000)
    q = 1e-9 * (v - 3.0) + rng.normal(0, 2e-13, v.size)
    centres, g = dqdv(v, q, bin_V=0.005)
    raw = np.abs(np.gradient(np.array([q[(v >= c - 0.0025) & (v < c + 0.0025)].mean() for c in centres]),
                             centres))
    assert np.std(g) < 0.6 * np.std(raw)  # the Savitzky-Golay filter took out most of the bin noise
    assert np.mean(g) == pytest.approx(1e-9, rel=0.05)


def test_dqdv_table_has_every_half_cycle_with_a_step_and_none_without_step_ids():
    pts = cycling_points(capacity_C=2e-9)
    hcs = half_cycles_from_points(pts)
    table = dqdv_table(pts, hcs)
    assert sorted(set(table["step_id"])) == sorted(h.step_id for h in hcs)
    assert list(table.columns) == ["cycle", "direction", "step_id", "voltage_V", "dqdv_C_per_V"]
    assert dqdv_table(pts.drop(columns=["step_id"]), hcs).empty


def _instrument_step(current_A: float, interval_s: float, n: int, rng: np.random.Generator):
    """A galvanostatic step as the procedure records it: samples at k·interval (k = 1..n) with noise on I,
    and the step's own charge count Q_k = Σ I_j·(t_j − t_j-1) from the technique's start (t = 0)."""
    t = interval_s * np.arange(1, n + 1)
    i = current_A * (1.0 + 0.02 * rng.standard_normal(n))
    q = np.cumsum(i * interval_s)
    return t, i, q, float(q[-1])


def test_capacity_of_synthetic_steps_within_half_a_percent_stored_charge_or_not():
    """Short steps (25-50 samples) are where a trapezoid between the first and last sample loses 2-4 %."""
    rng = np.random.default_rng(8)
    for n in (25, 30, 50, 400):
        t, i, q, truth = _instrument_step(2e-11, 2.0, n, rng)
        v = np.linspace(3.0, 3.9, n)
        stored = half_cycle(t, i, v, charge=q)
        assert stored.capacity_source == "stored"
        assert stored.capacity_C == pytest.approx(abs(truth), rel=1e-12)
        integrated = half_cycle(t, i, v)
        assert integrated.capacity_source == "integral"
        assert integrated.capacity_C == pytest.approx(abs(truth), rel=0.005)
        old_trapezoid = abs(cumulative_charge(t, i)[-1])
        assert abs(old_trapezoid / truth - 1) > 0.5 / n  # what the old integral lost


def test_a_stored_charge_of_zero_while_current_flows_is_not_trusted():
    t = np.arange(1.0, 11.0)
    h = half_cycle(t, np.full(10, -1e-12), np.full(10, 3.0), charge=np.zeros(10))
    assert h.capacity_source == "integral" and h.capacity_C == pytest.approx(1e-11)


def test_overshoot_beyond_the_cutoff_is_reported():
    t = np.arange(1.0, 51.0)
    v = np.linspace(3.2, 2.3, 50)  # discharge to 2.5 V that overshoots to 2.3 V
    h = half_cycle(t, np.full(50, -1e-11), v, cutoffs=(2.5, 3.95), label="discharge 1")
    assert h.cutoff_V == 2.5 and h.overshoot_V == pytest.approx(0.2)
    (line,) = overshoots([h])
    assert "2.300 V" in line and "200 mV below its cut-off 2.5 V" in line
    fine = half_cycle(t, np.full(50, -1e-11), np.linspace(3.2, 2.499, 50), cutoffs=(2.5, 3.95))
    assert overshoots([fine]) == []


def _hc(cycle, direction, q, v_end, cutoff, start):
    return HalfCycle(cycle, direction, q, q / 3600, q / 3600 * 1e12, 3.5, 0.0, 0.0, start, 10.0, 3.5, v_end,
                     1e-11, 10, step_id=start, cutoff_V=cutoff)


def test_soc_resets_at_full_discharges_and_counts_against_the_measured_capacity():
    # Si (charge first): charge 1 (2 nC, irreversible loss), discharge 1 (1.6 nC, to cut-off), charge 2 (1.7)
    hcs = [_hc(1, "charge", 2e-9, 3.95, 3.95, 1), _hc(1, "discharge", 1.6e-9, 2.5, 2.5, 3),
           _hc(2, "charge", 1.7e-9, 3.95, 3.95, 5)]
    order = [0, 1, 2, 3, 4, 5, 6]  # probe, charge, probe, discharge, probe, charge, probe
    net = {1: 2e-9, 3: -1.6e-9, 5: 1.7e-9}
    soc, text = soc_before_steps(order, net, hcs)
    assert [round(soc[k], 6) for k in (0, 2, 4, 6)] == [0.0, 1.0, 0.0, 0.85]
    assert "measured capacity" in text and "0.5556 pAh" in text
    # H2V3O8 (discharge first, pristine full): a shallow discharge to a capacity limit, then a charge back
    hcs = [_hc(1, "discharge", 0.5e-9, 2.8, 1.5, 1), _hc(1, "charge", 0.5e-9, 3.8, 3.8, 3),
           _hc(2, "discharge", 2e-9, 1.5, 1.5, 5)]
    soc, _ = soc_before_steps(order, {1: -0.5e-9, 3: 0.5e-9, 5: -2e-9}, hcs)
    assert [round(soc[k], 6) for k in (0, 2, 4, 6)] == [1.0, 0.75, 1.0, 0.0]
    assert min(soc.values()) >= 0


def test_coulombic_efficiency_above_one_is_flagged_with_a_cause():
    hcs = [_hc(1, "charge", 1e-9, 3.6, 3.95, 1), _hc(1, "discharge", 1.4e-9, 2.5, 2.5, 3),
           _hc(2, "charge", 2e-9, 3.95, 3.95, 5), _hc(2, "discharge", 1.5e-9, 2.5, 2.5, 7),
           _hc(3, "charge", 1.5e-9, 3.95, 3.95, 9), _hc(3, "discharge", 1.7e-9, 2.5, 2.5, 11),
           _hc(4, "charge", 1.5e-9, 3.95, 3.95, 13), _hc(4, "discharge", 1.6e-9, 2.5, 2.5, 15)]
    flags = coulombic_flags(cycle_table(hcs), hcs)
    assert len(flags) == 3
    assert flags[0].startswith("cycle 1: coulombic efficiency 1.40 > 1")
    assert "stopped before its voltage" in flags[0]
    assert "charge left in the wire by cycle 2" in flags[1]
    assert flags[2].startswith("cycle 4") and "parasitic current" in flags[2]


def test_soc_uses_the_nominal_capacity_when_no_half_cycle_ran_to_its_cutoff():
    hcs = [_hc(1, "charge", 0.6e-9, 3.6, 3.95, 1)]  # stopped by a capacity limit at 3.6 V
    soc, text = soc_before_steps([0, 1, 2], {1: 0.6e-9}, hcs, nominal_C=1e-9)
    assert soc[2] == pytest.approx(0.6) and "/ nominal capacity" in text
    soc, text = soc_before_steps([0, 1, 2], {1: 0.6e-9}, hcs)
    assert soc[2] == pytest.approx(1.0) and "lower bound" in text
