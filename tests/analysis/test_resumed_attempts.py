"""A charge interrupted and resumed is one half-cycle in the analysis, and the state of charge stays
between 0 and what was passed."""

from __future__ import annotations

import numpy as np
import pytest

from nanocell_daq.analysis.run_analysis import analyze_run
from nanocell_daq.storage import Store

I_A = 1e-12
NOMINAL_AH = 200e-12 / 3600  # the 200 pC the cycle passes


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "runs.db")
    yield s
    s.close()


def _galvanostatic(w, step_id, t0, t1, current):
    for tk in np.arange(t0, t1 + 1e-9, 2.0):
        volts = 3.0 + tk / 500 if current > 0 else 4.0 - (tk - 300) / 500  # 3.0..3.48 V up, 4.0..3.6 V down
        w.cycling_point(step_id, float(tk), volts, current, current * (tk - t0 + 2.0))


def _iv(w, step_id):
    for v in np.linspace(-0.1, 0.1, 5):
        w.iv_point(step_id, float(v), float(v) * 1e-7, "up", "S-D")


def test_an_interrupted_charge_and_its_resumption_are_one_half_cycle(store):
    station = {"device": {"nominal_capacity_Ah": NOMINAL_AH}}
    run = store.create_run("attempts", station=station)
    steps = [
        # (index, kind, plan_index, label, cycle, status)
        (0, "galvanostatic", 0, "charge 1", 1, "interrupted"),
        (1, "rest", -1, "resume: OCV re-check", None, "completed"),
        (2, "galvanostatic", 0, "charge 1 (resumed)", 1, "completed"),
        (3, "iv", 1, "after charge 1", 1, "completed"),
        (4, "galvanostatic", 2, "discharge 1", 1, "completed"),
        (5, "iv", 3, "after discharge 1", 1, "completed"),
    ]
    ids = {}
    for index, kind, plan_index, label, cycle, status in steps:
        ids[index] = store.start_step(run, index, kind, {"plan_index": plan_index}, label=label, cycle=cycle)
        store.end_step(ids[index], status)
    with store.writer() as w:
        _galvanostatic(w, ids[0], 2.0, 100.0, I_A)  # 50 samples: 100 pC
        for t in np.arange(110.0, 140.0, 2.0):  # the re-check: no current
            w.cycling_point(ids[1], float(t), 3.4, 0.0, 0.0)
        _galvanostatic(w, ids[2], 142.0, 240.0, I_A)  # 100 pC more
        _iv(w, ids[3])
        _galvanostatic(w, ids[4], 302.0, 498.0, -I_A)  # as much out
        _iv(w, ids[5])
    store.finish_run(run, "completed")

    analysis = analyze_run(store, run, save=False)
    charges = [h for h in analysis.half_cycles if h["direction"] == "charge"]
    discharges = [h for h in analysis.half_cycles if h["direction"] == "discharge"]
    assert len(charges) == 1 and len(discharges) == 1, analysis.summary()
    (charge,) = charges
    assert charge["label"] == "charge 1" and charge["step_id"] == ids[0]
    # each attempt counted on its own (its stored charge, first sampling interval included): the 40 s between
    # them (engine down, re-check) passed no charge
    assert charge["capacity_C"] == pytest.approx(100e-12 + 100e-12, rel=1e-6)
    assert charge["n_points"] == 100
    assert charge["duration_s"] == pytest.approx(196.0)
    assert analysis.summary().count("cycle 1 charge") == 1
    cycle = analysis.cycle_table.iloc[0]
    assert cycle["coulombic_efficiency"] == pytest.approx(198e-12 / 200e-12, rel=1e-6)  # 99 samples out
    soc = {c["label"]: c["soc"] for c in analysis.checkpoints}
    # against the measured capacity (the charge's 200 pC): full after the charge, 1 % left after discharging
    assert soc["after charge 1"] == pytest.approx(1.0, rel=1e-6)
    assert soc["after discharge 1"] == pytest.approx(0.01, abs=1e-9)  # never negative
    # dQ/dV of the charge spans both attempts (3.0-3.2 V, then 3.28-3.48 V)
    dqdv = analysis.dqdv[analysis.dqdv["direction"] == "charge"]
    assert dqdv["voltage_V"].min() < 3.05 and dqdv["voltage_V"].max() > 3.4
