"""The queue table: entries in order, state changes that only one process wins, survives reopening."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from nanocell_daq.storage import Store
from nanocell_daq.storage import queue as rows
from nanocell_daq.storage.migrate import head_revision


def test_entries_keep_order_text_overrides_and_survive_reopening(store: Store, db_url: str) -> None:
    a = rows.add(store, "si_seed", "protocol: a\nsteps: []\n", station="chip.yaml", device="nw1",
                 overrides={"cycles": "2"}, stop_on_failure=True, added_by="ana")
    b = rows.add(store, "iv.yaml", "protocol: b\n", device="nw2", held=True)
    store.close()
    with Store.open(db_url, create=False) as again:
        got = rows.entries(again)
        assert [e.id for e in got] == [a, b]
        first, second = got
        assert (first.state, first.device, first.overrides, first.stop_on_failure, first.added_by) == \
            ("queued", "nw1", {"cycles": "2"}, True, "ana")
        assert first.protocol_text == "protocol: a\nsteps: []\n" and first.added.tzinfo is not None
        assert (second.state, second.stop_on_failure) == ("held", False)
        assert [e.id for e in rows.entries(again, ("queued",))] == [a]
        shown = json.loads(json.dumps(first.as_dict()))
        assert shown["state"] == "queued" and "protocol_text" not in shown


def test_a_state_change_happens_once_and_only_from_the_states_named(store: Store) -> None:
    entry = rows.add(store, "p", "protocol: p\n")
    assert rows.claim(store, entry) is True
    assert rows.claim(store, entry) is False  # a second queue process loses the race
    running = rows.entry(store, entry)
    assert running.state == "running" and running.runner_pid is not None and running.started is not None
    assert rows.move(store, entry, "cancelled", when=rows.WAITING) is False  # not while it runs
    run = store.create_run("p", "protocol: p\n")
    rows.set_run(store, entry, run)
    assert rows.move(store, entry, "failed", when=("running",), reason="E above the window") is True
    done = rows.entry(store, entry)
    assert (done.state, done.run_id, done.reason) == ("failed", run, "E above the window")
    assert done.ended is not None and done.ended >= done.started
    with pytest.raises(ValueError, match="unknown queue state"):
        rows.move(store, entry, "paused", when=("failed",))
    with pytest.raises(KeyError):
        rows.entry(store, 999)


def test_hold_release_cancel(store: Store) -> None:
    entry = rows.add(store, "p", "protocol: p\n")
    assert rows.move(store, entry, "held", when=("queued",))
    assert rows.claim(store, entry) is False  # a held entry is not taken
    assert rows.move(store, entry, "queued", when=("held",))
    assert rows.move(store, entry, "cancelled", when=rows.WAITING)
    assert rows.claim(store, entry) is False
    assert rows.entry(store, entry).state == "cancelled"


def test_the_table_is_created_by_the_migration_to_0004(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Store.open(path).close()
    con = sqlite3.connect(path)
    con.execute("DROP TABLE queue_entries")
    con.execute("DROP TABLE provenance")  # added by 0005
    con.execute("UPDATE alembic_version SET version_num = '0003'")
    con.commit()
    con.close()
    before, after = Store.upgrade(path)
    assert (before, after) == ("0003", head_revision())
    with Store.open(path, create=False) as store:
        assert rows.entries(store) == []
        rows.add(store, "p", "protocol: p\n")
        assert len(rows.entries(store)) == 1
