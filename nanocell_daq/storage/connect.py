"""SQLAlchemy engines for a store: SQLite files get WAL, a busy timeout and enforced foreign keys."""

from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np
from sqlalchemy import Engine, create_engine, event

from nanocell_daq.storage.location import Location

BUSY_TIMEOUT_MS = 30_000

# numpy scalars the engine may hand us: store them as plain numbers instead of failing in the writer thread.
for _np_type, _py in (
    (np.float32, float),
    (np.float16, float),
    (np.int64, int),
    (np.int32, int),
    (np.bool_, int),
):
    sqlite3.register_adapter(_np_type, _py)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys = ON")
    # NORMAL in WAL mode: a killed process loses nothing committed; an OS crash may drop the last commits.
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()


def make_engine(loc: Location) -> Engine:
    """An engine for ``loc``; for SQLite, every connection gets our pragmas."""
    if not loc.is_sqlite:
        return create_engine(loc.url, pool_pre_ping=True)
    engine = create_engine(
        loc.url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def set_wal(engine: Engine) -> None:
    """Switch an SQLite file to WAL (persistent in the file; readers then never block the writer)."""
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        mode = driver.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # pragma: no cover - e.g. a network file system without shared memory
            raise RuntimeError(f"SQLite refused WAL mode (journal_mode={mode})")
