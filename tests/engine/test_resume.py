"""kill -9 of ``nanocell run`` during a galvanostatic step, then ``nanocell resume`` completes the run."""

from __future__ import annotations

import os
import signal

import pytest

from nanocell_daq.cli import main
from nanocell_daq.storage import Store
from tests.engine import benchkit

pytestmark = pytest.mark.slow

# 1 pA: the charge's capacity cut-off is timed on the device (~4.6 s wall at speed 100), so the killed
# engine's technique is still running when resume opens the station ~2 s later.
PROTOCOL = """\
protocol: resume test
parameters: {current_A: 1.0e-12}
steps:
  - iv: {label: pristine, pairs: [S-D], points: 5}
  - galvanostatic: {label: charge, current_A: $current_A, capacity_fraction: 0.4, interval_s: 2}
  - rest: {label: rest, time_s: 20}
  - iv: {label: after charge, pairs: [S-D], points: 5}
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_9_then_resume_completes_the_protocol(tmp_path, capsys, backend):
    url = None
    if backend == "postgresql":  # a lab database: the engine, its supervisor and resume reach it by URL
        from tests.storage.postgres import server

        url = server().fresh_url()
    with benchkit.cli_run_in_step(tmp_path, PROTOCOL, "charge", db=url) as cli:
        bench, run_id, db, station = cli.bench, cli.run_id, cli.db, cli.station
        assert bench.output_on("pstat")
        os.kill(cli.proc.pid, signal.SIGKILL)
        cli.proc.communicate(timeout=10)  # the supervisor shares the engine's stderr: it has acted by now
        # the supervisor aborted the technique the killed engine left charging and marked the run
        assert benchkit.outputs_on(bench) == {}
        store = Store.open(db, create=False)
        assert store.run(run_id).status == "interrupted"
        store.close()
        # the bench's ports are the same here, but give the station again as a user would
        code = main(["resume", str(run_id), "--db", str(db), "--station", str(station)])
        assert code == 0, capsys.readouterr()
        assert benchkit.outputs_on(bench) == {}
        assert bench.damage == []

    store = Store.open(db, create=False)
    info = store.run(run_id)
    assert info.status == "completed"
    steps = store.steps(run_id)
    by_label = {}
    for s in steps:
        by_label.setdefault(s.label, []).append(s)
    assert [s.status for s in by_label["charge"]] == ["interrupted"]
    assert [s.status for s in by_label["charge (resumed)"]] == ["completed"]
    assert by_label["resume: OCV re-check"][0].status == "completed"
    recheck_id = by_label["resume: OCV re-check"][0].id
    recheck = store.cycling(run_id, step_id=recheck_id)
    assert len(recheck.t) >= 10 and (recheck.I == 0).all()  # the cell re-checked at open circuit
    told = [e.message for e in store.events(run_id) if e.step_id == recheck_id]
    assert any(m.startswith("rest: stopped: ") and "; E = " in m for m in told), told
    assert [s.status for s in by_label["after charge"]] == ["completed"]
    assert len(by_label["pristine"]) == 1  # not measured again
    # the supervisor found the killed engine's charge still running on the device, aborted it and said so
    said = [e.message for e in store.events(run_id)]
    aborted = "found on: pstat: aborted a MethodSCRIPT technique left running"
    assert any(m.startswith("supervisor: engine pid") and aborted in m for m in said), said

    first = store.cycling(run_id, step_id=by_label["charge"][0].id)
    assert len(first.t) >= 15  # the interrupted step's data are kept
    resumed = by_label["charge (resumed)"][0]
    nominal = info.station["config"]["device"]["nominal_capacity_Ah"]
    left = resumed.parameters["capacity_Ah"]
    assert left == pytest.approx(0.4 * nominal - abs(first.Q[-1]) / 3600, rel=1e-6)
    second = store.cycling(run_id, step_id=resumed.id)
    total_Ah = (abs(first.Q[-1]) + abs(second.Q[-1])) / 3600
    assert total_Ah == pytest.approx(0.4 * nominal, rel=0.1)
    assert second.t[0] > first.t[-1]  # the time axis continues
    store.close()


def test_sigterm_aborts_safely_and_the_aborted_run_resumes(tmp_path):
    with benchkit.cli_run_in_step(tmp_path, PROTOCOL, "charge") as cli:
        bench, run_id, db, proc = cli.bench, cli.run_id, cli.db, cli.proc
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 3, out
        assert b"aborted: SIGTERM received" in out
        assert benchkit.outputs_on(bench) == {}
        store = Store.open(db, create=False)
        assert store.run(run_id).status == "aborted"
        assert [s.status for s in store.steps(run_id)] == ["completed", "aborted"]
        store.close()

        assert main(["resume", str(run_id), "--db", str(db)]) == 0  # station from the stored snapshot
        assert benchkit.outputs_on(bench) == {}
    store = Store.open(db, create=False)
    assert store.run(run_id).status == "completed"
    assert [s.label for s in store.steps(run_id)][-3:] == ["charge (resumed)", "rest", "after charge"]
    store.close()
