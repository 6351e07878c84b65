"""No failure path leaves a run ``running``: a crash while finishing (a NaN progress fraction), a crash in
the station's shutdown, a locked database when the final status is written (briefly and for good), and a
full disk (RLIMIT_FSIZE on a real ``nanocell run``). The leases are freed on every exit path."""

from __future__ import annotations

import resource
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from nanocell_daq.engine import runner
from nanocell_daq.engine.runner import Engine
from nanocell_daq.engine.station_io import OpenStation
from nanocell_daq.storage import Store, connect
from nanocell_daq.storage.leases import liveness
from nanocell_daq.storage.schema import Lease
from simulated_instruments.bench import SimulatedBench
from tests.engine import benchkit

SHORT = """\
protocol: short
steps:
  - iv: {label: pristine, pairs: [S-D], points: 5}
  - rest: {label: rest, time_s: 20, interval_s: 2}
"""


@pytest.fixture
def bench():  # type: ignore[no-untyped-def]
    with SimulatedBench(preset="si", speed=1000, seed=0, smu_model="2450", ideal_pstat=True) as b:
        yield b


def _held(store: Store) -> list[str]:
    with store._engine.connect() as conn:
        return [r.key for r in conn.execute(select(Lease).where(Lease.holder.is_not(None)))]


def test_a_nan_progress_fraction_while_finishing_still_ends_the_run(bench, tmp_path, monkeypatch):
    # a NaN reaching the run's summary (e.g. from a NaN parameter's estimate): its row cannot be stored
    monkeypatch.setattr(Engine, "_fraction", lambda self: float("nan"))
    store, result = benchkit.run(bench, tmp_path, SHORT)
    assert result.status == "completed"
    assert store.run(result.run_id).status == "completed"
    assert _held(store) == []
    assert benchkit.outputs_on(bench) == {}
    store.close()


def test_a_crash_in_the_station_shutdown_fails_the_run_with_the_reason(bench, tmp_path, monkeypatch):
    def crash(self: OpenStation, **_kw: object) -> list[str]:
        raise RuntimeError("driver crashed in shutdown")

    monkeypatch.setattr(OpenStation, "shutdown_all", crash)
    store, result = benchkit.run(bench, tmp_path, SHORT)
    info = store.run(result.run_id)
    assert (info.status, result.status) == ("failed", "failed")
    assert "station shutdown: RuntimeError: driver crashed in shutdown" in info.reason
    assert _held(store) == []
    assert benchkit.outputs_on(bench) == {}  # the engine's own safe state ran before the crash
    store.close()


def _lock_at_final_write(monkeypatch, db: Path, hold_s: float | None):  # type: ignore[no-untyped-def]
    """Another process's write lock on ``db`` from the moment the engine stores its final status, for
    ``hold_s`` s (None: until the test ends); the busy timeout is cut to 0.2 s so the test stays fast.
    Returns the errors the engine's final writes met and the locking connection."""
    monkeypatch.setattr(connect, "BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr(runner, "FINAL_WRITE_RETRY_S", 0.2)
    original = Engine._store_final
    errors: list[str] = []
    locker = sqlite3.connect(db, check_same_thread=False, isolation_level=None)

    def store_final(self: Engine, status: str, reason: str | None):  # type: ignore[no-untyped-def]
        locker.execute("BEGIN IMMEDIATE")
        if hold_s is not None:
            threading.Timer(hold_s, lambda: locker.execute("COMMIT")).start()
        finish = self.store.finish_run

        def finish_run(*a, **k):  # type: ignore[no-untyped-def]
            try:
                return finish(*a, **k)
            except Exception as exc:
                errors.append(str(exc))
                raise

        monkeypatch.setattr(self.store, "finish_run", finish_run)
        return original(self, status, reason)

    monkeypatch.setattr(Engine, "_store_final", store_final)
    return errors, locker


def test_a_briefly_locked_database_at_the_end_is_retried(bench, tmp_path, monkeypatch):
    db = tmp_path / "runs.db"
    Store.open(db).close()
    errors, _ = _lock_at_final_write(monkeypatch, db, hold_s=0.5)
    store, result = benchkit.run(bench, tmp_path, SHORT)
    assert errors and all("locked" in e for e in errors)  # the first attempt met the lock
    assert result.status == "completed"
    assert store.run(result.run_id).status == "completed"
    assert _held(store) == []
    store.close()


def test_a_database_locked_for_good_at_the_end_reports_failed_and_readers_see_dead(
    bench, tmp_path, monkeypatch
):
    db = tmp_path / "runs.db"
    Store.open(db).close()
    errors, locker = _lock_at_final_write(monkeypatch, db, hold_s=None)
    store, result = benchkit.run(bench, tmp_path, SHORT)
    locker.execute("ROLLBACK")
    locker.close()
    assert len(errors) == runner.FINAL_WRITE_ATTEMPTS
    assert result.status == "failed"
    assert "the final status (completed) could not be stored: OperationalError" in result.reason
    assert benchkit.outputs_on(bench) == {}
    # the store still says running; the engine (here: this test process) is gone once it exits
    assert store.run(result.run_id).status == "running"
    monkeypatch.setattr("nanocell_daq.storage.leases.pid_alive", lambda pid: False)
    assert liveness(store)[result.run_id].state == "dead"
    store.close()


def _limit_file_size(limit: int):  # type: ignore[no-untyped-def]
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


LONG = """\
protocol: long
steps:
  - iv: {label: pristine, pairs: [S-D], points: 21}
  - rest: {label: rest, time_s: 4000, interval_s: 0.5}
  - iv: {label: after, pairs: [S-D], points: 21}
"""


def test_a_full_disk_ends_the_run_not_running_and_the_bench_safe(bench, tmp_path, capsys):
    db = tmp_path / "runs.db"
    Store.open(db).close()
    proto = tmp_path / "long.yaml"
    proto.write_text(LONG)
    station = benchkit.station_file(bench, tmp_path)
    limit = db.stat().st_size + 96 * 1024  # the WAL grows past this within the run
    cmd = [sys.executable, "-m", "nanocell_daq", "run", str(proto), "--station", str(station)]
    cmd += ["--db", str(db)]
    limited = _limit_file_size(limit)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, preexec_fn=limited, check=False)
    assert proc.returncode != 0, proc.stdout
    assert benchkit.outputs_on(bench) == {}
    assert "Traceback" not in proc.stdout
    with Store.open(db, create=False) as store:
        (run,) = store.runs()
        shown = liveness(store)[run.id].state
    # either the end was stored (failed, naming the write error) or the store was too full even for
    # that; then its engine is gone and readers show it dead - never running
    assert shown in ("failed", "dead"), (shown, proc.stdout, proc.stderr[-2000:])
    (said,) = proc.stdout.strip().splitlines()  # one line: the outcome and why
    assert said.startswith(f"run {run.id} failed: store write failed: "), said
    assert "disk I/O error" in said or "disk is full" in said, said
