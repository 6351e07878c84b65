"""OCV rest until dE/dt is small, potentiostatic hold until |I| is small, and CV, on the simulated bench.

The H2V3O8 preset: its cell sits inside the potentiostat's +-3 V range (the Si full cell does not).
"""

from __future__ import annotations

import numpy as np
import pytest

from simulated_instruments.bench import SimulatedBench
from tests.engine import benchkit

pytestmark = pytest.mark.slow

PROTOCOL = """
    steps:
      - rest: {label: rest, time_s: 3600, dEdt_V_s: 1.0e-5, min_time_s: 20, interval_s: 5}
      - potentiostatic_hold: {label: hold, potential_V: 2.6, i_min_A: 2.0e-13, min_time_s: 10,
                              max_time_s: 7200, interval_s: 5}
      - cv: {label: cv, e_begin_V: 2.6, vertex1_V: 2.9, vertex2_V: 2.3, scan_rate_V_s: 0.002, step_V: 0.005,
             poll_s: 5}
    """


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    with SimulatedBench(preset="h2v3o8", speed=2000, seed=0, ideal_pstat=True) as bench:
        store, result = benchkit.run(bench, tmp_path_factory.mktemp("ec"), PROTOCOL)
        steps = {s.label: s for s in store.steps(result.run_id)}
        data = {label: store.cycling(result.run_id, step_id=s.id) for label, s in steps.items()}
        stops = [e.message for e in store.events(result.run_id) if ": stopped: " in e.message]
        yield result, steps, data, stops, benchkit.outputs_on(bench), bench.damage
        store.close()


def test_every_step_completes_and_everything_ends_off(run):
    result, steps, _, _, on, damage = run
    assert result.status == "completed", result.reason
    assert [s.status for s in steps.values()] == ["completed"] * 3
    assert on == {} and damage == []


def test_rest_stops_once_the_potential_has_settled(run):
    _, _, data, stops, _, _ = run
    rest = data["rest"]
    assert any(m.startswith("rest: stopped: |dE/dt|") for m in stops), stops
    assert 20 <= rest.t[-1] - rest.t[0] < 3600  # after min_time_s, long before time_s
    # the stopping sample settled; a sample or two that came before the stop took effect are kept too
    dedt = np.abs(np.diff(rest.E[-10:])) / np.diff(rest.t[-10:])  # samples after the stop are kept
    assert dedt.min() < 1e-5
    assert np.all(rest.I == 0)


def test_hold_keeps_the_potential_until_the_current_has_decayed(run):
    _, _, data, stops, _, _ = run
    hold = data["hold"]
    assert any(m.startswith("potentiostatic_hold: stopped: |I|") for m in stops), stops
    assert np.allclose(hold.E, 2.6, atol=0.01)
    # the host polls every 40 s of engine time at this speed: up to 8 samples after the stopping one are kept
    assert abs(hold.I[0]) > 2e-13 > np.abs(hold.I[-10:]).min()
    assert hold.t[-1] - hold.t[0] < 7200


def test_cv_sweeps_between_the_vertices_at_the_scan_rate(run):
    _, _, data, _, _, _ = run
    cv = data["cv"]
    assert cv.E.min() == pytest.approx(2.3, abs=0.01) and cv.E.max() == pytest.approx(2.9, abs=0.01)
    assert cv.E[0] == pytest.approx(2.6, abs=0.01) and cv.E[-1] == pytest.approx(2.6, abs=0.01)
    span_V = 0.3 + 0.6 + 0.3
    assert cv.t[-1] - cv.t[0] == pytest.approx(span_V / 0.002, rel=0.05)
    assert cv.I.max() > 0 > cv.I.min()  # oxidation on the way up, reduction on the way down


def test_capacity_cut_off_is_exact_however_late_the_host_polls(tmp_path):
    # 0.02 nC at 10 pA is 2 s of cell time: at speed 20000 that is 0.1 ms of wall time, far below the
    # engine's poll period, so only a cut-off timed on the device can stop at the right charge.
    protocol = """
        steps:
          - galvanostatic: {label: shallow, current_A: -1.0e-11, v_min_V: 1.5, v_max_V: 3.8,
                            capacity_Ah: 5.6e-15, interval_s: 0.5}
        """
    with SimulatedBench(preset="h2v3o8", speed=20000, seed=0, smu_model="2450", ideal_pstat=True) as bench:
        store, result = benchkit.run(bench, tmp_path, protocol)
        assert result.status == "completed", result.reason
        (step,) = store.steps(result.run_id)
        q = store.cycling(result.run_id, step_id=step.id).Q
        stops = [e.message for e in store.events(result.run_id) if ": stopped: " in e.message]
        store.close()
    # Every sample up to the stop is stored, so Q is the charge the cell really got: within one sampling
    # interval (10 pA x 0.5 s) of the cut-off, not the ~400 s of cell time between two host polls here.
    assert abs(abs(q[-1]) - 5.6e-15 * 3600) <= 1.0e-11 * 0.5 * 1.01
    assert any("capacity cut-off" in m for m in stops), stops
