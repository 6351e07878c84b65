"""Across processes: a reader follows a writing process; a killed writer loses only its last batch."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from nanocell_daq.storage import Store

CHILD = Path(__file__).with_name("child.py")


def test_a_reader_process_sees_rows_while_another_process_writes(db_path: Path, tmp_path: Path) -> None:
    Store.open(db_path).close()
    stop = tmp_path / "stop"
    child = subprocess.Popen(
        [sys.executable, str(CHILD), "follow", str(db_path), str(stop)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        run = int(child.stdout.readline())
        seen_while_running: list[int] = []
        chunks = []
        cursor = 0
        with Store.open(db_path, create=False) as store:
            deadline = time.monotonic() + 30
            while len(seen_while_running) < 3 and time.monotonic() < deadline:
                new = store.cycling_since(run, cursor)
                if len(new):
                    chunks.append(new.t)
                    cursor = new.last_id
                    seen_while_running.append(sum(map(len, chunks)))
                    assert store.run(run).status == "running"
                time.sleep(0.05)
            stop.touch()
            assert child.wait(timeout=30) == 0
            new = store.cycling_since(run, cursor)
            chunks.append(new.t)
            followed = np.concatenate(chunks)
            assert len(seen_while_running) == 3 and seen_while_running == sorted(set(seen_while_running))
            np.testing.assert_array_equal(followed, store.cycling(run).t)
            np.testing.assert_array_equal(followed, np.arange(len(followed)))
            assert store.run(run).status == "completed"
            assert store.events(run)[-1].message == f"{len(followed)} points"
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


def test_sigkill_keeps_every_committed_row_and_a_sound_file(db_path: Path) -> None:
    Store.open(db_path).close()
    child = subprocess.Popen(
        [sys.executable, str(CHILD), "crash", str(db_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        appended = committed = 0
        deadline = time.monotonic() + 30
        while committed < 1500 and time.monotonic() < deadline:  # ~1.5 s at ~1000 points/s
            line = child.stdout.readline()
            assert line, "the writing child died on its own"
            appended, committed = map(int, line.split())
        assert committed >= 1500, f"the writer committed only {committed} of {appended} rows in 30 s"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    con = sqlite3.connect(db_path)
    assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    con.close()
    with Store.open(db_path, create=False) as store:
        (run,) = store.runs()
        assert run.status == "running"  # nobody finished it: the engine marks it interrupted on resume
        t = store.cycling(run.id).t
    assert len(t) >= committed  # everything the writer had committed is there
    np.testing.assert_array_equal(t, np.arange(len(t)))  # in order, no gap, nothing twice
    # lost: at most what was appended in the last flush interval (0.1 s at ~1000/s), with scheduling slack
    assert appended - len(t) <= 600
