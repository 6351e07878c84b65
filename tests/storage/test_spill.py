"""A store writer whose flush fails (database locked beyond the busy timeout) spills every row it holds to a
recovery file; ingest_spill puts them in the store, once."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import numpy as np
import pytest

from nanocell_daq.storage import Store, connect
from nanocell_daq.storage.spill import ingest_spill, recovery_files
from nanocell_daq.storage.writer import StoreWriteError


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr(connect, "BUSY_TIMEOUT_MS", 200)  # "beyond the retries" without a 30 s test
    s = Store.open(tmp_path / "runs.db")
    yield s
    s.close()


def _lock(path):
    """Another process's write transaction holding the database."""
    con = sqlite3.connect(path, timeout=0, isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    return con


def test_a_locked_database_spills_the_batch_and_resume_ingests_it(store, tmp_path):
    run_id = store.create_run("spill test")
    step_id = store.start_step(run_id, 0, "galvanostatic", {"plan_index": 0})
    iv_step = store.start_step(run_id, 1, "iv", {"plan_index": 1})
    axis = store.add_axis(np.linspace(100, 600, 8))
    failures = []
    writer = store.writer(flush_interval=0.05)
    writer.on_failure = failures.append
    writer.spill_name = "run1-test"
    lock = _lock(tmp_path / "runs.db")
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    for k in range(5):
        writer.cycling_point(step_id, float(k), 3.5, 1e-12, 1e-12 * k)
    writer.iv_point(iv_step, -0.1, -2e-8, "up", "S-D", t=5.0)
    writer.spectrum(iv_step, 1.0, 2.0, 0.0, 1.0, np.arange(8.0), axis, pixel=3, t=6.0)
    writer.event(run_id, "info", "before the lock was noticed", step_id, when=when)
    with pytest.raises(StoreWriteError, match="database is locked") as caught:
        writer.flush(timeout=10)
    assert "spilled to" in str(caught.value)
    assert len(failures) == 1 and "database is locked" in str(failures[0])
    # appended after the failure: refused, but kept
    with pytest.raises(StoreWriteError):
        writer.cycling_point(step_id, 5.0, 3.5, 1e-12, 5e-12)
    with pytest.raises(StoreWriteError):
        writer.close()
    lock.rollback()
    lock.close()

    (path,) = recovery_files(store.location)
    assert path == tmp_path / "runs.db.recovery-run1-test.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines[0]["format"] == "nanocell-recovery" and "database is locked" in lines[0]["error"]
    assert [x["cycling"][1] for x in lines if "cycling" in x] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert len(store.cycling(run_id).t) == 0

    (note,) = ingest_spill(store, run_id)
    assert "6 cycling row(s), 1 iv row(s), 1 spectrum row(s), 1 event row(s)" in note and "deleted" in note
    assert recovery_files(store.location) == []
    data = store.cycling(run_id, step_id=step_id)
    assert list(data.t) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert list(data.Q) == pytest.approx([1e-12 * k for k in range(6)])
    iv = store.iv(run_id, step_id=iv_step)
    assert list(iv.V) == [-0.1] and list(iv.I) == [-2e-8] and list(iv.pair) == ["S-D"]
    spectra = store.spectra(run_id, step_id=iv_step)
    assert np.array_equal(spectra.counts[0], np.arange(8.0, dtype=np.float32)) and spectra.pixel[0] == 3
    (event,) = [e for e in store.events(run_id) if e.message == "before the lock was noticed"]
    assert event.time.replace(tzinfo=dt.UTC) == when and event.step_id == step_id

    # the same file again (a crash between the commit and the delete): nothing is stored twice
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    (again,) = ingest_spill(store, run_id)
    assert "nothing new" in again
    assert len(store.cycling(run_id, step_id=step_id).t) == 6
    assert len(store.iv(run_id, step_id=iv_step)) == 1


def test_rows_of_another_run_stay_in_the_file(store, tmp_path):
    a = store.create_run("a")
    b = store.create_run("b")
    sa = store.start_step(a, 0, "galvanostatic")
    sb = store.start_step(b, 0, "galvanostatic")
    writer = store.writer(flush_interval=0.05)
    writer.spill_name = "shared"
    lock = _lock(tmp_path / "runs.db")
    writer.cycling_point(sa, 1.0, 3.5, 1e-12, 1e-12)
    writer.cycling_point(sb, 1.0, 3.5, 1e-12, 1e-12)
    with pytest.raises(StoreWriteError):
        writer.close()
    lock.rollback()
    lock.close()
    (note,) = ingest_spill(store, a)
    assert "kept for the 1 row(s) of other runs" in note
    assert len(store.cycling(a).t) == 1 and len(store.cycling(b).t) == 0
    (note,) = ingest_spill(store, b)
    assert "deleted" in note and recovery_files(store.location) == []
    assert len(store.cycling(b).t) == 1
