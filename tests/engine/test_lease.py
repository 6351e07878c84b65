"""Station and run leases: one winner per race (threads and processes), fencing tokens, take-over rules,
liveness as readers show it, and ``release_dead_holder`` for the supervisor."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from sqlalchemy import update

from nanocell_daq.engine.lease import EngineLease, LeaseHeld, LeaseLost, release_dead_holder, station_key
from nanocell_daq.storage import Store
from nanocell_daq.storage.leases import DEAD_AFTER_S, STALE_AFTER_S, Liveness, liveness
from nanocell_daq.storage.schema import Lease
from nanocell_daq.storage.writer import StoreWriteError
from tests.engine.benchkit import wait_until

STATION = "station:test-bench"

BEAT = EngineLease.start_beating


@pytest.fixture(autouse=True)
def silent_engines(monkeypatch):  # type: ignore[no-untyped-def]
    """Leases here do not beat on their own: each test plays the engine's heartbeat (or its silence)."""
    monkeypatch.setattr(EngineLease, "start_beating", lambda self: None)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """The store the leases live in: an SQLite file, or a database on the test PostgreSQL server (the
    leases of engines on several hosts sharing one lab database)."""
    if request.param == "postgresql":
        from tests.storage.postgres import server

        return server().fresh_url()
    path = tmp_path / "runs.db"
    Store.open(path).close()
    return path


def _age(store: Store, key: str, seconds: float) -> None:
    """Make the holder of ``key`` look silent for ``seconds`` (as a SIGSTOPped engine would be)."""
    when = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
    with store._engine.begin() as conn:
        conn.execute(update(Lease).where(Lease.key == key).values(heartbeat=when))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_fresh_holder_refuses_a_second_engine_naming_it(db: Path) -> None:
    with Store.open(db) as store:
        run_id = store.create_run("p")
        first = EngineLease(store, STATION, "bench.yaml")
        first.acquire()
        first.attach_run(run_id)
        second = EngineLease(store, STATION, "bench.yaml")
        with pytest.raises(LeaseHeld) as exc:
            second.acquire()
        message = str(exc.value)
        assert "\n" not in message
        host = socket.gethostname()
        holder = f"run {run_id} (pid {first.pid} on {host}, heartbeat "
        assert f"station bench.yaml is in use by {holder}" in message
        assert second.tokens == {}
        # resuming the run while its engine beats is refused the same way
        with pytest.raises(LeaseHeld, match=f"run {run_id} .*pid {first.pid}"):
            EngineLease(store, "station:another", "other.yaml").acquire(run_id)
        first.release()
        second.acquire()  # free now: taken, with the next fencing token
        assert (first.tokens, second.tokens) == ({}, {STATION: 2})


def test_threads_racing_for_a_station_leave_exactly_one_winner_per_round(db: Path) -> None:
    stores = [Store.open(db) for _ in range(6)]
    try:
        tokens: list[int] = []
        for _ in range(5):  # round 1 races on the first INSERT, later rounds on the UPDATE of a freed row
            barrier = threading.Barrier(len(stores))
            winners: list[EngineLease] = []
            refused: list[str] = []

            def take(
                store: Store,
                barrier: threading.Barrier = barrier,
                winners: list[EngineLease] = winners,
                refused: list[str] = refused,
            ) -> None:
                lease = EngineLease(store, STATION)
                barrier.wait()
                try:
                    lease.acquire()
                    winners.append(lease)
                except LeaseHeld as exc:
                    refused.append(str(exc))

            threads = [threading.Thread(target=take, args=(s,)) for s in stores]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(winners) == 1, (winners, refused)
            assert len(refused) == len(stores) - 1
            tokens.append(winners[0].tokens[STATION])
            winners[0].release()
        assert tokens == sorted(set(tokens)) and len(tokens) == 5  # strictly increasing
    finally:
        for s in stores:
            s.close()


CHILD = textwrap.dedent(
    """
    import os, sys, time
    from nanocell_daq.engine.lease import EngineLease, LeaseHeld
    from nanocell_daq.storage import Store
    store = Store.open(sys.argv[1], create=False)
    lease = EngineLease(store, "station:test-bench")
    print("ready", flush=True)
    while not os.path.exists(sys.argv[2]):
        time.sleep(0.001)
    try:
        lease.acquire()
    except LeaseHeld as exc:
        print("refused", exc, flush=True)
    else:
        print("took", lease.tokens["station:test-bench"], flush=True)
        while not os.path.exists(sys.argv[3]):
            time.sleep(0.01)
        lease.release()
    store.close()
    """
)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # PostgreSQL: test_shared_database (2 engines)
def test_processes_racing_for_a_station_leave_exactly_one_winner(db: Path, tmp_path: Path) -> None:
    go, done = tmp_path / "go", tmp_path / "done"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(db), str(go), str(done)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    try:
        assert [p.stdout.readline().strip() for p in procs] == ["ready"] * 4  # type: ignore[union-attr]
        go.touch()
        outs = [p.stdout.readline().strip() for p in procs]  # type: ignore[union-attr]
    finally:
        done.touch()
        for p in procs:
            p.communicate(timeout=60)
    assert all(p.returncode == 0 for p in procs), outs
    assert sorted(o.split()[0] for o in outs) == ["refused", "refused", "refused", "took"], outs
    assert [o for o in outs if o.startswith("took")] == ["took 1"]


def test_a_silent_holder_is_taken_over_and_fenced_out_of_commands_and_writes(db: Path) -> None:
    with Store.open(db) as store:
        run_id = store.create_run("p")
        step = store.start_step(run_id, 0, "rest")
        old = EngineLease(store, STATION)
        old.acquire()
        old.attach_run(run_id)
        old.check(force=True)  # holds both
        writer = store.writer(60.0, fence=old.fence)
        writer.cycling_point(step, 0.0, 3.0, 1e-12, 0.0)
        writer.flush()
        assert len(store.cycling(run_id).t) == 1

        _age(store, STATION, STALE_AFTER_S + 1)
        _age(store, f"run:{run_id}", STALE_AFTER_S + 1)
        assert liveness(store)[run_id].state == "stale"
        new = EngineLease(store, STATION)
        new.acquire(run_id)  # resume takes over a stale engine
        assert new.tokens[STATION] == old.tokens[STATION] + 1
        assert new.tokens[f"run:{run_id}"] == old.tokens[f"run:{run_id}"] + 1

        # the old engine wakes: its heartbeat, its checks and its writer's flush all refuse
        with pytest.raises(LeaseLost, match=f"taken over by run {run_id} \\(pid {new.pid}"):
            old.check(force=True)
        assert old.heartbeat(force=True) is False
        writer.cycling_point(step, 1.0, 3.1, 1e-12, 1e-12)
        with pytest.raises(StoreWriteError, match="taken over"):
            writer.flush()
        with pytest.raises(StoreWriteError):
            writer.close()
        assert len(store.cycling(run_id).t) == 1  # the fenced batch was not stored
        old.release()  # releasing a lost lease frees nothing
        assert liveness(store)[run_id].state == "running" and liveness(store)[run_id].engine_pid == new.pid
        new.release()


def test_a_holder_whose_pid_is_gone_on_this_host_is_dead_and_taken_over_at_once(db: Path) -> None:
    with Store.open(db) as store:
        run_id = store.create_run("p")
        old = EngineLease(store, STATION)
        old.pid = _dead_pid()
        old.acquire(run_id)
        live = liveness(store)[run_id]
        assert (live.state, live.engine_pid, live.host) == ("dead", old.pid, socket.gethostname())
        assert live.lease_free
        EngineLease(store, STATION).acquire(run_id)  # heartbeat fresh, but nobody is behind it


def test_liveness_of_running_paused_stale_dead_and_ended_runs(db: Path) -> None:
    with Store.open(db) as store:
        run_id = store.create_run("p")
        lease = EngineLease(store, STATION)
        lease.acquire(run_id)
        assert liveness(store)[run_id].state == "running"
        lease.heartbeat("paused", force=True)
        assert liveness(store)[run_id].state == "paused"
        _age(store, f"run:{run_id}", STALE_AFTER_S + 1)
        assert liveness(store)[run_id].state == "stale"
        _age(store, f"run:{run_id}", DEAD_AFTER_S + 1)
        assert liveness(store)[run_id].state == "dead"
        lease.release()  # an engine that ended without storing its status: dead, never running
        assert liveness(store)[run_id].state == "dead"
        store.finish_run(run_id, "interrupted", "test")
        assert liveness(store)[run_id].state == "interrupted"


def test_release_dead_holder_frees_only_that_process_leases(db: Path) -> None:
    with Store.open(db) as store:
        run_id = store.create_run("p")
        lease = EngineLease(store, STATION)
        lease.acquire(run_id)
        host = socket.gethostname()
        assert release_dead_holder(store, run_id, lease.pid + 1, host) is False
        assert release_dead_holder(store, run_id, lease.pid, "another-host") is False
        with pytest.raises(LeaseHeld):
            EngineLease(store, STATION).acquire()
        assert release_dead_holder(store, run_id, lease.pid, host) is True
        assert liveness(store)[run_id].state == "dead"
        taker = EngineLease(store, STATION)
        taker.pid = lease.pid + 7
        taker.acquire(run_id)  # both leases were free
        assert release_dead_holder(store, run_id, lease.pid, host) is False  # the new holder keeps them
        assert liveness(store)[run_id].engine_pid == taker.pid


def test_the_heartbeat_thread_keeps_a_held_lease_fresh_until_release(db: Path) -> None:
    with Store.open(db) as store:
        run_id = store.create_run("p")
        lease = EngineLease(store, STATION)
        lease.acquire(run_id)
        _age(store, f"run:{run_id}", STALE_AFTER_S + 1)
        assert liveness(store)[run_id].state == "stale"
        lease.state = "paused"
        BEAT(lease)
        assert wait_until(lambda: liveness(store)[run_id].state == "paused", timeout=10)
        lease.release()
        assert lease._beating is None
        store.finish_run(run_id, "completed")
        assert liveness(store)[run_id] == Liveness("completed")


def test_station_key_is_the_set_of_instrument_resources(station) -> None:  # type: ignore[no-untyped-def]
    key = station_key(station)
    assert key.startswith("station:") and len(key) <= 200
    assert key == station_key(station)


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_on_postgresql_hosts_with_wrong_clocks_agree_on_heartbeats(  # type: ignore[no-untyped-def]
    db: str, monkeypatch
) -> None:
    """Heartbeats are stamped and aged on the server's clock: an engine on a host whose clock is 10 min
    slow is seen alive by a reader, and an engine on a host 10 min fast cannot take its run over."""
    from nanocell_daq.storage import leases as rows

    real = rows.now
    with Store.open(db) as store, Store.open(db, create=False) as other:
        run = store.create_run("skewed hosts")
        with monkeypatch.context() as slow:
            slow.setattr(rows, "now", lambda: real() - dt.timedelta(minutes=10))
            holder = EngineLease(store, STATION)
            holder.acquire(run)
            assert holder.heartbeat(force=True)
        lv = liveness(store)[run]
        assert lv.state == "running" and lv.heartbeat_age_s is not None and lv.heartbeat_age_s < STALE_AFTER_S
        with monkeypatch.context() as fast:
            fast.setattr(rows, "now", lambda: real() + dt.timedelta(minutes=10))
            with pytest.raises(LeaseHeld, match="in use by run"):
                EngineLease(other, STATION).acquire(run)
        holder.release()
