"""Source/drain transport as an SMU sees it: pristine uS, >= 100x loss after a cycle, nonlinear I-V."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from simulated_instruments.cell import CellModel

from .helpers import gcpl

PA = 1e-12


def _nl_index(m: CellModel, t: float, pads: tuple[str, str] = ("S", "D"), vmax: float = 1.0) -> float:
    """dI/dV at vmax over the zero-bias slope, from noisy wire_current readings like an I-V sweep would."""
    g0 = np.polyfit([-0.02, -0.01, 0.0, 0.01, 0.02], [m.wire_current(t, v, *pads) for v in
                                                      (-0.02, -0.01, 0.0, 0.01, 0.02)], 1)[0]
    dv = 0.02
    g_hi = (m.wire_current(t, vmax, *pads) - m.wire_current(t, vmax - dv, *pads)) / dv
    return g_hi / g0


def test_pristine_wire_is_uS_and_ohmic() -> None:
    m = CellModel("si", seed=0)
    g_sd = m.wire_conductance(0.0, "S", "D")
    assert 0.2e-6 < g_sd < 7e-6
    assert m.wire_conductance(0.0, "S", "C1") > 1.5 * g_sd  # half the length
    assert _nl_index(m, 0.0) == pytest.approx(1.0, abs=0.15)
    # measured small-bias current agrees with the noiseless conductance
    assert m.wire_current(0.0, 0.01) / 0.01 == pytest.approx(g_sd, rel=0.02)


def test_one_full_cycle_costs_two_decades_that_never_come_back() -> None:
    m = CellModel("si", seed=0)
    g = [m.wire_conductance(0.0)]
    t = 0.0
    nl_after = 0.0
    for cycle in range(3):
        ch = gcpl(m, t, 10 * PA, 3.95)
        g.append(m.wire_conductance(ch.t_end + 60))
        dis = gcpl(m, ch.t_end + 60, -10 * PA, 2.5)
        t = dis.t_end + 3600  # a long rest: nothing recovers
        g.append(m.wire_conductance(t))
        if cycle == 0:
            nl_after = _nl_index(m, t)
            i_pos, i_neg = m.wire_current(t, 1.0), -m.wire_current(t, -1.0)
    assert g[2] <= g[0] / 100
    assert all(b <= a for a, b in itertools.pairwise(g)), g  # monotonic over the whole test
    assert g[-1] < g[2]
    assert nl_after > 1.1  # back-to-back Schottky contacts (the amorphised wire is ohmic)
    assert abs(i_pos / i_neg - 1.0) > 0.01  # contacts degrade unequally: slightly rectifying


def test_segments_follow_local_lithiation() -> None:
    """Extra contact C1: the two halves of the wire lose conductance at different rates (patchy)."""
    m = CellModel("si", seed=0)
    r0 = m.wire_conductance(0.0, "S", "C1") / m.wire_conductance(0.0, "C1", "D")
    ch = gcpl(m, 0.0, 10 * PA, 3.86)  # to the start of the c-Si plateau
    t = ch.t_end + 9
    m.set_drive(ch.t_end, "current", 10 * PA)  # half-way through it (~90 pC)
    m.set_drive(t, "open")
    r1 = m.wire_conductance(t, "S", "C1") / m.wire_conductance(t, "C1", "D")
    assert abs(np.log10(r1 / r0)) > 0.1


def test_h2v3o8_shallow_is_reversible_deep_is_permanent() -> None:
    m = CellModel("h2v3o8", seed=0)
    per_li = m.nominal_capacity_Ah * 3600 / 4.0
    g0 = m.wire_conductance(0.0)
    current = 5 * PA

    def pass_li(t: float, dx: float) -> float:
        """dx > 0: discharge (Li into the wire, negative current by convention)."""
        dur = abs(dx) * per_li / current
        m.set_drive(t, "current", -current if dx > 0 else current)
        m.set_drive(t + dur, "open")
        return t + dur + 60

    v_start = m.cell_voltage(0.0)
    t = pass_li(0.0, 0.5)
    assert m.cell_voltage(t) < v_start - 0.3  # discharge lowers the cell voltage
    g_shallow = m.wire_conductance(t)
    t = gcpl(m, t, current, 3.8).t_end + 60  # shallow charge back up to the protocol's 3.8 V
    g_back = m.wire_conductance(t)
    t = pass_li(t, 3.4)
    assert m.cell_voltage(t) < 2.0
    g_deep = m.wire_conductance(t)
    t = gcpl(m, t, current, 3.8).t_end + 60
    g_after = m.wire_conductance(t)
    assert 1.5 < np.log10(g0 / g_shallow) < 2.6
    assert np.log10(g0 / g_back) < 0.3
    assert np.log10(g0 / g_deep) > 4.5
    assert np.log10(g0 / g_after) > 2.5  # only the reversible part recovered
