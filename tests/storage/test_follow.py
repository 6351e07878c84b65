"""One follower interface for every reader: on PostgreSQL it wakes on LISTEN/NOTIFY (the run ids that
changed, nothing for other runs), on SQLite it polls; either way the reader's cursors see every row."""

from __future__ import annotations

import threading
import time

import pytest

from nanocell_daq.storage import Store
from nanocell_daq.storage.follow import ALL


def _write_later(url: str, step: int, n: int, delay: float = 0.3) -> threading.Thread:
    def write() -> None:
        time.sleep(delay)
        with Store.open(url, create=False) as other, other.writer(flush_interval=0.05) as w:
            for k in range(n):
                w.cycling_point(step, float(k), 3.7, 1e-12, 0.0)

    t = threading.Thread(target=write)
    t.start()
    return t


def test_a_follower_wakes_for_its_runs_and_the_reader_gets_every_row(store: Store, db_url: str,
                                                                      backend: str) -> None:
    a, b = store.create_run("a"), store.create_run("b")
    step_a, step_b = store.start_step(a, 0, "charge"), store.start_step(b, 0, "charge")
    with store.follower(run_ids={a}, refresh_s=60.0) as follower:
        assert follower.listening == (backend == "postgresql")
        follower.wait(0.5)  # the first wake-up: read what is there
        cursor, seen = 0, 0
        writer = _write_later(db_url, step_a, 50)
        deadline = time.monotonic() + 20
        while seen < 50 and time.monotonic() < deadline:
            changed = follower.wait(5.0)
            # told which run has news (PostgreSQL), or "look" after the poll interval (SQLite)
            assert changed == ({a} if backend == "postgresql" else {ALL})
            data = store.cycling_since(a, cursor)
            cursor, seen = data.last_id, seen + len(data)
        writer.join()
        assert seen == 50
        if backend == "postgresql":
            follower.wait(0.2)  # drain
            other = _write_later(db_url, step_b, 5, delay=0.0)
            assert follower.wait(1.0) == set()  # run b is not followed: nothing wakes this reader
            other.join()
            store.finish_run(a)
            assert follower.wait(5.0) == {a}  # the status change is news too
            follower.due()
            assert not follower.due()  # the GUI's timer: nothing new, no read (refresh_s is 60 s here)
            store.log_event(a, "info", "news")
            deadline = time.monotonic() + 5
            while not follower.due() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert time.monotonic() < deadline and not follower.due()  # news: read once


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_follower_whose_connection_is_cut_polls_then_listens_again(store: Store, db_url: str) -> None:
    run = store.create_run("a")
    with store.follower(run_ids={run}, poll_s=0.05) as follower:
        assert follower.connected.is_set()
        with store._engine.begin() as conn:  # the server drops the listener (a restart, a network cut)
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%%'")
        deadline = time.monotonic() + 10
        while follower.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert follower.wait(1.0) == {ALL}  # meanwhile: poll
        assert follower.connected.wait(10.0)  # then it listens again
        follower.wait(0.3)
        store.log_event(run, "info", "after the cut")
        assert follower.wait(5.0) == {run}
