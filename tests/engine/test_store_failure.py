"""The store refuses a write mid-run (file size limit = a full disk): the engine stops with every output off,
the run ends failed with the reason, the unsent rows go to a recovery file, and resume ingests it: no point
is lost."""

from __future__ import annotations

import json
import resource

import numpy as np
import pytest

from nanocell_daq.cli import main
from nanocell_daq.storage import Store
from nanocell_daq.storage.spill import recovery_files
from tests.engine import benchkit

pytestmark = pytest.mark.slow

INTERVAL_S = 2.0
PROTOCOL = f"""\
protocol: store failure test
steps:
  - galvanostatic: {{label: charge, current_A: 1.0e-12, capacity_fraction: 0.3, interval_s: {INTERVAL_S}}}
  - rest: {{label: rest, time_s: 10}}
"""


def _db_files(db):
    return [p for p in (db, db.with_name(db.name + "-wal")) if p.exists()]


def test_a_full_disk_fails_the_run_safely_and_resume_ingests_the_unsent_rows(tmp_path, capsys):
    with benchkit.cli_run_in_step(tmp_path, PROTOCOL, "charge", speed=40) as cli:
        bench, run_id, db, proc = cli.bench, cli.run_id, cli.db, cli.proc
        # the disk fills: no file of the engine may grow past what the database has now (+ one page)
        limit = max(p.stat().st_size for p in _db_files(db)) + 4096
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (limit, limit))
        out, err = proc.communicate(timeout=60)
        assert proc.returncode != 0, (out, err)
        assert benchkit.outputs_on(bench) == {}, "the engine left an output on after the store failed"
        assert b"store write failed" in out + err

        (spilled,) = recovery_files(Store.open(db, create=False).location)
        assert spilled.parent == db.parent
        lines = [json.loads(x) for x in spilled.read_text().splitlines()]
        assert lines[0]["format"] == "nanocell-recovery"
        assert "disk" in lines[0]["error"], lines[0]  # sqlite: "disk I/O error" or "database or disk is full"
        n_spilled = sum(1 for x in lines if "cycling" in x)
        assert n_spilled >= 1

        with Store.open(db, create=False) as store:
            info = store.run(run_id)
            ends = [x["end"] for x in lines if "end" in x]
            if info.status == "running":  # the store refused even the end of the run: the file has it
                assert ends and ends[0]["status"] == "failed" and "store write failed" in ends[0]["reason"]
            else:
                assert info.status == "failed" and "store write failed" in info.reason, info
            (step,) = [s for s in store.steps(run_id) if s.kind == "galvanostatic"]
            before = store.cycling(run_id, step_id=step.id)

        assert main(["resume", str(run_id), "--db", str(db), "--station", str(cli.station)]) == 0
        assert benchkit.outputs_on(bench) == {}
        assert recovery_files(Store.open(db, create=False).location) == []  # ingested and deleted
        # a second resume finds nothing to ingest (and the run is complete)
        assert main(["resume", str(run_id), "--db", str(db)]) == 2
        capsys.readouterr()

    with Store.open(db, create=False) as store:
        assert store.run(run_id).status == "completed"
        events = [e.message for e in store.events(run_id)]
        told = [m for m in events if "ingested recovery file" in m]
        assert len(told) == 1 and f"{n_spilled} cycling row(s)" in told[0], events
        first = store.cycling(run_id, step_id=step.id)
        assert len(first.t) == len(before.t) + n_spilled
        # no point lost: the interrupted step's samples are one every interval, with no hole, up to its end
        gaps = np.diff(first.t)
        assert gaps.max() < 1.5 * INTERVAL_S, gaps
        assert np.all(np.diff(first.Q) > 0)
