"""SQLAlchemy engines for a store: SQLite files get WAL, a busy timeout and enforced foreign keys."""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

import numpy as np
from sqlalchemy import Engine, create_engine, event

from nanocell_daq.storage.location import Location

BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 10
"""A server that does not answer (wrong host, firewall) is reported after this long, not after minutes."""

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


def _postgresql_session(dbapi_connection: Any, _record: Any) -> None:
    """Compress large values (array blobs) with lz4 instead of pglz: writes of cycling blocks ~2.5x and of
    spectra ~1.7x faster on the bench. A server without lz4 (before 14, or built without) keeps its own."""
    try:
        with dbapi_connection.cursor() as cur:
            cur.execute("SET default_toast_compression = 'lz4'")
        dbapi_connection.commit()
    except Exception:  # noqa: BLE001 - an optional speed-up: the server's own default is fine too
        dbapi_connection.rollback()


_PLAIN = frozenset({str, int, bool, type(None)})


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, +-inf) replaced by None, numpy scalars and arrays made
    plain: JSON has no NaN, and PostgreSQL (like SQLite's json_extract) rejects the bare ``NaN`` Python's
    json writes. In step parameters NaN means "not given", so null says the same thing."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if set(map(type, value)) <= _PLAIN:  # e.g. a column of labels: nothing to replace (no call per item)
            return list(value)
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def dumps(value: Any) -> str:
    """The JSON columns' serializer: strict JSON (see ``json_safe``)."""
    return json.dumps(json_safe(value), allow_nan=False)


def make_engine(loc: Location) -> Engine:
    """An engine for ``loc``; for SQLite, every connection gets our pragmas."""
    if not loc.is_sqlite:
        args: dict[str, Any] = {"application_name": "nanocell-daq", "connect_timeout": CONNECT_TIMEOUT_S}
        args = {k: v for k, v in args.items() if k not in loc.url.query}  # the URL's own settings win
        engine = create_engine(loc.url, pool_pre_ping=True, json_serializer=dumps, connect_args=args)
        if "default_toast_compression" not in str(loc.url.query.get("options", "")):
            event.listen(engine, "connect", _postgresql_session)
        return engine
    engine = create_engine(
        loc.url, json_serializer=dumps,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
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
