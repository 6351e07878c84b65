"""record_recovered: what the potentiostat measured after the engine died goes on the interrupted step's time
axis with the step's charge continued; when nothing came back, the gap is recorded and counted (resume,
analysis) as an upper bound."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from drivers.roles import Sample
from nanocell_daq.analysis.run_analysis import analyze_run
from nanocell_daq.engine.plan import expand
from nanocell_daq.engine.protocol import parse_protocol
from nanocell_daq.engine.recovery import record_recovered, unrecorded_charge_C
from nanocell_daq.engine.resume import resume_arguments
from nanocell_daq.engine.stationview import StationView
from nanocell_daq.storage import Store
from procedures.electrochem import TECHNIQUE_STARTED

I_A = 1e-12
STATION = Path(__file__).with_name("station_si.yaml")
NOMINAL_AH = 7.0e-14  # as in that station file
PROTOCOL = """\
protocol: recovery test
steps:
  - galvanostatic: {label: charge, current_A: 1.0e-12, capacity_fraction: 0.5, interval_s: 2}
  - iv: {label: after charge, pairs: [S-D], points: 5}
"""


@pytest.fixture
def run(tmp_path):
    """A run killed during its charge: 10 stored samples (t = 102..120 s), technique started at t = 100 s."""
    store = Store.open(tmp_path / "runs.db")
    station = {"config": {"device": {"nominal_capacity_Ah": NOMINAL_AH}, "simulation": {"speed": 100}}}
    run_id = store.create_run("recovery test", PROTOCOL, station=station)
    params = {"current_A": I_A, "capacity_fraction": 0.5, "capacity_Ah": 0.0, "max_time_s": 36000.0,
              "interval_s": 2.0, "plan_index": 0}
    step_id = store.start_step(run_id, 0, "galvanostatic", params, label="charge", cycle=1)
    store.log_event(run_id, "debug", f"{TECHNIQUE_STARTED}{100.0!r} s", step_id)
    with store.writer() as w:
        for k in range(1, 11):
            w.cycling_point(step_id, 100.0 + 2 * k, 3.5, I_A, I_A * 2 * k)
    yield store, run_id, step_id
    store.close()


def _pstat(samples, note="aborted a MethodSCRIPT technique left running on the device"):
    return {"pstat": SimpleNamespace(orphan_aborted=note, orphan_samples=list(samples))}


def test_recovered_samples_continue_the_steps_time_axis_and_charge(run):
    store, run_id, step_id = run
    # the device kept sampling: t = 2..40 s on its timer; the dead engine had stored up to t = 20 s, and
    # read (but never committed) up to 24 s; the link buffered 26..40 s
    instruments = _pstat(Sample(float(d), 3.6, I_A) for d in range(26, 41, 2))
    (message,) = record_recovered(store, run_id, instruments)
    data = store.cycling(run_id, step_id=step_id)
    assert list(data.t[10:]) == [100.0 + d for d in range(26, 41, 2)]  # on the device timer
    assert data.Q[-1] == pytest.approx(I_A * 40)  # the charge of the whole technique: 40 s at 1 pA
    assert data.Q[10] == pytest.approx(I_A * 26)  # the uncommitted 20..26 s are counted at the current
    assert "recovered 8 sample(s)" in message and f"{I_A * 20:.6g} C" in message
    assert instruments["pstat"].orphan_samples == []  # consumed
    assert any(e.message == message for e in store.events(run_id))
    # a second call (resume after the supervisor) adds nothing
    assert record_recovered(store, run_id, _pstat([])) == []
    assert len(store.cycling(run_id, step_id=step_id).t) == 18


def test_samples_already_stored_are_not_stored_twice(run):
    store, run_id, step_id = run
    record_recovered(store, run_id, _pstat(Sample(float(d), 3.6, I_A) for d in range(16, 25, 2)))
    data = store.cycling(run_id, step_id=step_id)
    assert list(data.t[8:]) == [118.0, 120.0, 122.0, 124.0]


def test_nothing_recovered_records_the_gap_and_resume_counts_it(run):
    store, run_id, step_id = run
    (message,) = record_recovered(store, run_id, _pstat([]))
    assert "no data from the potentiostat after t = 120 s" in message
    bound_C = unrecorded_charge_C(store, run_id, step_id)
    limit_C = 0.5 * NOMINAL_AH * 3600
    stored_C = I_A * 20
    # the engine fell silent just now: the bound is small, but never more than what the step had left
    assert 0 < bound_C <= limit_C - stored_C
    assert record_recovered(store, run_id, _pstat([])) == []  # recorded once
    assert unrecorded_charge_C(store, run_id, step_id) == bound_C

    store.end_step(step_id, "interrupted")
    view = StationView.from_file(STATION)
    assert view.nominal_capacity_Ah == NOMINAL_AH
    plan = expand(parse_protocol(PROTOCOL, "p.yaml"), view)
    over = resume_arguments(store, run_id, plan)["overrides"][0]
    assert over["capacity_Ah"] * 3600 == pytest.approx(limit_C - stored_C - bound_C, rel=1e-9)

    store.finish_run(run_id, "interrupted", "killed")
    analysis = analyze_run(store, run_id, save=False)
    assert any("without data" in w for w in analysis.warnings)


def test_a_run_that_ended_itself_gets_no_gap(run):
    store, run_id, step_id = run
    store.end_step(step_id, "aborted")
    store.finish_run(run_id, "failed", "store write failed: disk full")
    assert record_recovered(store, run_id, _pstat([])) == []
    assert unrecorded_charge_C(store, run_id, step_id) == 0.0
