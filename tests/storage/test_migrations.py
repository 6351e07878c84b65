"""Schema versions: new stores are at head, older ones are reported and upgraded, newer ones refused."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from nanocell_daq.errors import UserError
from nanocell_daq.storage import Store, upgrade_database
from nanocell_daq.storage.migrate import alembic_config, head_revision
from nanocell_daq.storage.schema import Base


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _make_at(path: Path, revision: str) -> None:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_new_store_is_stamped_at_head_in_wal_mode(store: Store, db_path: Path) -> None:
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    con.close()


def test_migrations_build_exactly_the_declared_schema(tmp_path: Path) -> None:
    _make_at(tmp_path / "m.db", "head")
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_older_store_is_reported_then_upgraded_keeping_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _make_at(path, "0001")
    con = sqlite3.connect(path)
    con.execute(
        "INSERT INTO runs (uuid, protocol_name, protocol_text, station, software_version, started, status)"
        " VALUES ('u-1', 'old protocol', '', '{}', '0.0.1', '2024-01-01 00:00:00.000000', 'completed')"
    )
    con.commit()
    con.close()
    before = _digest(path)
    with pytest.raises(UserError, match=r"older.*run `nanocell db upgrade --db .*old\.db`"):
        Store.open(path)
    assert _digest(path) == before
    assert upgrade_database(path) == ("0001", head_revision())
    with Store.open(path, create=False) as store:
        (run,) = store.runs()
        assert (run.protocol_name, run.status) == ("old protocol", "completed")
        store.set_progress(run.id, "done", 1.0)  # the table the upgrade added
    assert upgrade_database(path) == (head_revision(), head_revision())


def test_store_newer_than_the_code_is_refused_untouched(db_path: Path) -> None:
    Store.open(db_path).close()
    con = sqlite3.connect(db_path)
    con.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    con.commit()
    con.close()
    before = _digest(db_path)
    for attempt in (lambda: Store.open(db_path), lambda: upgrade_database(db_path)):
        with pytest.raises(UserError, match="newer than this nanocell-daq"):
            attempt()
    assert _digest(db_path) == before


def test_store_at_0002_upgrades_to_the_lease_table_keeping_its_runs(tmp_path: Path) -> None:
    from nanocell_daq.engine.lease import EngineLease
    from nanocell_daq.storage.leases import liveness

    path = tmp_path / "v2.db"
    _make_at(path, "0002")
    con = sqlite3.connect(path)
    con.execute(
        "INSERT INTO runs (uuid, protocol_name, protocol_text, station, software_version, started, status)"
        " VALUES ('u-2', 'v2 protocol', '', '{}', '0.1', '2025-01-01 00:00:00.000000', 'running')"
    )
    con.commit()
    assert "leases" not in {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    con.close()
    with pytest.raises(UserError, match="older"):
        Store.open(path)
    assert upgrade_database(path) == ("0002", head_revision())
    with Store.open(path, create=False) as store:
        (run,) = store.runs()
        # a run left "running" by an engine of the old schema holds no lease: nobody drives it
        assert liveness(store)[run.id].state == "dead"
        lease = EngineLease(store, "station:test")
        lease.acquire(run.id)  # the new table takes leases
        assert liveness(store)[run.id].state == "running"
        lease.release()
    con = sqlite3.connect(path)
    cols = {r[1] for r in con.execute("PRAGMA table_info(leases)")}
    con.close()
    assert cols == {"key", "station", "run_id", "holder", "host", "pid", "heartbeat", "token", "state"}
