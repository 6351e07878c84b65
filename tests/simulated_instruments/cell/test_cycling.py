"""Si || LiCoO2 cycling as a potentiostat sees it: capacity, curve shape, hysteresis, plateaus, cutoffs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulated_instruments.cell import CellError, CellModel

from .helpers import gcpl

PA = 1e-12


@pytest.fixture(scope="module")
def two_cycles() -> tuple[CellModel, list]:
    m = CellModel("si", seed=0)
    steps = []
    t = 0.0
    for _ in range(2):
        ch = gcpl(m, t, 10 * PA, 3.95)
        dis = gcpl(m, ch.t_end + 300, -10 * PA, 2.5)
        steps.append((ch, dis))
        t = dis.t_end + 300
    return m, steps


def test_cutoffs_reached_and_capacity_of_order_nominal(two_cycles) -> None:
    m, steps = two_cycles
    q_nom = m.nominal_capacity_Ah * 3600
    ch, dis = steps[0]
    assert ch.v[-1] >= 3.95 and dis.v[-1] <= 2.5
    assert ch.t[-1] - ch.t[0] < 3600 and dis.t[-1] - dis.t[0] < 3600  # minutes at 10 pA (~30 C)
    assert 0.7 < ch.q[-1] / q_nom < 1.3
    assert 0.6 < -dis.q[-1] / q_nom < 1.1
    # first-cycle irreversibility (SEI, trapped Li) is modest, later cycles are more efficient
    ce1 = -dis.q[-1] / ch.q[-1]
    ce2 = -steps[1][1].q[-1] / steps[1][0].q[-1]
    assert 0.7 < ce1 < 0.97 and ce1 < ce2 < 1.0


def _fast_overpotential(m: CellModel, current: float) -> float:
    """Butler-Volmer (j0 of the card on the wire's surface) + IR drop (V) at current (A)."""
    c = m.card
    i0 = c.kinetics.j0_A_m2 * np.pi * (c.wire.core_diameter_nm + 2 * c.wire.shell_thickness_nm) * 1e-9 * (
        c.wire.exposed_length_um * 1e-6)
    kt = 8.617e-5 * (c.temperature_C + 273.15)
    r_el = c.electrolyte.path_um * 1e-4 / (c.electrolyte.sigma_S_cm * c.electrolyte.cross_section_um2 * 1e-8)
    return 2 * kt * np.arcsinh(current / (2 * i0)) + current * r_el


def test_charge_raises_voltage_and_discharge_lowers_it(two_cycles) -> None:
    _, steps = two_cycles
    ch, dis = steps[1]
    assert ch.v[5] < ch.v[-1] - 0.1 and ch.v[-1] >= 3.95
    assert np.corrcoef(ch.q, ch.v)[0, 1] > 0.8
    assert dis.v[0] > 3.3 and dis.v[-1] <= 2.5


def test_hysteresis_between_branches_at_mid_soc(two_cycles) -> None:
    m, steps = two_cycles
    ch, dis = steps[1]
    q_nom = m.nominal_capacity_Ah * 3600
    # same Li content: charge curve at q, discharge curve at (q_charged - q)
    mid = 0.5 * ch.q[-1]
    v_ch = np.interp(mid, ch.q, ch.v)
    v_dis = np.interp(ch.q[-1] - mid, -dis.q, dis.v)
    thermodynamic = v_ch - v_dis - 2 * _fast_overpotential(m, 10 * PA)  # less the kinetic part both ways
    assert 0.15 < thermodynamic < 0.6, (v_ch, v_dis, q_nom)


def test_li15si4_forms_below_50_mV_and_dissolves_on_discharge() -> None:
    """Slow charge (Si below 50 mV vs Li at the surface) crystallises Li15Si4; fast charge (stays above):
    none. Either way the discharge gets the Li back out and reaches its cut-off."""
    fraction = {}
    for current in (5 * PA, 20 * PA):
        m = CellModel("si", seed=0)
        ch = gcpl(m, 0.0, current, 3.95, dt=0.5)
        fraction[current] = m.snapshot()["li15si4_capacity_fraction"]
        dis = gcpl(m, ch.t_end + 60, -10 * PA, 2.5)
        assert dis.v[-1] <= 2.5
        assert m.snapshot()["li15si4_capacity_fraction"] < 0.05
    assert fraction[5 * PA] > 0.1
    assert fraction[20 * PA] == 0.0


def test_ir_drop_and_relaxation_at_pA_currents() -> None:
    m = CellModel("si", seed=0)
    m.set_drive(0.0, "current", 10 * PA)
    on = m.cell_voltage(60.0)
    m.set_drive(60.0, "open")
    just_off = m.cell_voltage(60.01)
    later = m.cell_voltage(360.0)
    # charge transfer (Butler-Volmer, j0 of the card on the wire's surface) + IR, instantaneous
    assert on - just_off == pytest.approx(_fast_overpotential(m, 10 * PA), rel=0.05)
    assert 0.003 < just_off - later < 0.05  # slow (diffusion) part relaxes at rest
    rest = np.array([m.cell_voltage(400.0 + k) for k in range(50)])
    assert rest.std() < 1e-3  # instrument-scale noise


def test_potential_hold_current_decays() -> None:
    m = CellModel("si", seed=0)
    ch = gcpl(m, 0.0, 10 * PA, 3.85)
    m.set_drive(ch.t_end, "potential", 3.9)
    early = m.cell_current(ch.t_end + 5)
    late = m.cell_current(ch.t_end + 1800)
    assert early > 1 * PA and 0 < late < early / 5
    assert m.cell_voltage(ch.t_end + 1800) == pytest.approx(3.9, abs=2e-3)


def test_long_gap_at_high_current_is_cheap_and_bounded() -> None:
    m = CellModel("si", seed=0)
    m.set_drive(0.0, "current", 50 * PA)
    v = m.cell_voltage(3600.0)  # one call for a whole hour: far past full (plating), must not hang
    assert math.isfinite(v) and v > 3.95
    m.set_drive(3600.0, "current", -50 * PA)
    v = m.cell_voltage(7200.0 + 3600.0)
    assert math.isfinite(v) and v < 2.5


def test_open_cell_has_no_current_and_bad_drives_are_refused() -> None:
    m = CellModel("si", seed=0)
    assert abs(m.cell_current(1.0)) < 1 * PA
    with pytest.raises(CellError, match="mode"):
        m.set_drive(1.0, "galvano", 1e-12)
    with pytest.raises(CellError, match="unknown pad"):
        m.set_drive(1.0, "current", 1e-12, we_pads=("X",))
    with pytest.raises(CellError, match="counter"):
        m.wire_current(1.0, 0.1, "S", "CE")
