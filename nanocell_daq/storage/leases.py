"""Lease rows in the store and what a reader concludes from them (running, paused, stale, dead).

The SQL is portable: a lease is taken by a conditional UPDATE on its fencing token (or the INSERT of its
first row, which the primary key makes unique), so of two processes racing for one key exactly one wins,
on SQLite as on PostgreSQL. Heartbeat times come from one clock: on PostgreSQL the server's (written and
read with ``clock_timestamp()``), so engines and readers on several hosts need no synchronised clocks; on
SQLite (one host) this host's. The policy (who may take a lease over, heartbeats, fencing the engine) lives
in ``nanocell_daq.engine.lease``.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from nanocell_daq.storage.schema import Lease

HEARTBEAT_S = 1.0
"""How often (wall s) an engine refreshes its heartbeat."""

STALE_AFTER_S = 5.0
"""An engine silent this long (wall s) is shown ``stale``; ``nanocell resume`` may then take its run over."""

DEAD_AFTER_S = 60.0
"""An engine silent this long (wall s) is shown ``dead`` (sooner on its own host once its pid is gone)."""

LIVE_STATES = ("running", "paused", "stale", "dead")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


SERVER_NOW = func.timezone("UTC", func.clock_timestamp())
"""The PostgreSQL server's time as naive UTC (the heartbeat column's form)."""


def _server_clock(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _stamp(conn: Connection) -> Any:
    """What a heartbeat is set to: the server's clock on PostgreSQL, this host's on SQLite."""
    return SERVER_NOW if _server_clock(conn) else now()


def clock(conn: Connection) -> dt.datetime:
    """Now, on the clock heartbeats are written with (see ``_stamp``)."""
    if _server_clock(conn):
        return conn.scalar(select(SERVER_NOW)).replace(tzinfo=dt.UTC)
    return now()


def this_host() -> str:
    return socket.gethostname()


def run_key(run_id: int) -> str:
    return f"run:{run_id}"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] != b"Z"
    except (OSError, ValueError):
        return True


@dataclass(frozen=True)
class LeaseRow:
    """One lease as stored; ``holder`` None when free."""

    key: str
    station: str
    run_id: int | None
    holder: str | None
    host: str | None
    pid: int | None
    heartbeat: dt.datetime | None
    token: int
    state: str | None
    read_at: dt.datetime | None = None
    """When the row was read, on the heartbeats' clock (the server's on PostgreSQL); None: this host's."""

    def age_s(self, at: dt.datetime | None = None) -> float:
        """Wall seconds since the last heartbeat (infinite when never), at ``at`` or when it was read."""
        if self.heartbeat is None:
            return float("inf")
        return max(((at or self.read_at or now()) - self.heartbeat).total_seconds(), 0.0)

    def holder_gone(self, at: dt.datetime | None = None) -> bool:
        """The holder is certainly dead: its pid is gone on this host, or it has been silent for long."""
        if self.holder is None:
            return True
        if self.host == this_host() and self.pid is not None and not pid_alive(self.pid):
            return True
        return self.age_s(at) > DEAD_AFTER_S

    def describe(self, at: dt.datetime | None = None) -> str:
        """``run 3 (pid 1234 on host, heartbeat 0.4 s ago)``."""
        age = self.age_s(at)
        beat = "no heartbeat yet" if age == float("inf") else f"heartbeat {age:.1f} s ago"
        run = f"run {self.run_id}" if self.run_id is not None else "an engine starting a run"
        return f"{run} (pid {self.pid} on {self.host}, {beat})"


def _row(r: Any) -> LeaseRow:
    read_at = getattr(r, "read_at", None)
    return LeaseRow(r.key, r.station, r.run_id, r.holder, r.host, r.pid, r.heartbeat, int(r.token), r.state,
                    None if read_at is None else read_at.replace(tzinfo=dt.UTC))


def _select(conn: Connection) -> Any:
    """The lease columns, with the server's time of the read on PostgreSQL (one round trip)."""
    cols = list(Lease.__table__.c)
    return select(*cols, SERVER_NOW.label("read_at")) if _server_clock(conn) else select(*cols)


def read(conn: Connection, keys: list[str]) -> dict[str, LeaseRow]:
    rows = conn.execute(_select(conn).where(Lease.key.in_(keys))).all()
    return {r.key: _row(r) for r in rows}


def run_leases(conn: Connection, run_ids: list[int] | None = None) -> dict[int, LeaseRow]:
    """The run leases (``run:<id>`` rows) by run id."""
    stmt = _select(conn).where(Lease.key.like("run:%"))
    if run_ids is not None:
        stmt = stmt.where(Lease.run_id.in_(run_ids))
    return {int(r.run_id): _row(r) for r in conn.execute(stmt).all() if r.run_id is not None}


def take(
    engine: Engine,
    key: str,
    *,
    station: str,
    run_id: int | None,
    holder: str,
    pid: int,
    host: str,
    seen: LeaseRow | None,
) -> int | None:
    """Take ``key`` for ``holder`` if it is still as ``seen`` (None: no row yet); the new fencing token,
    or None when another process changed it first. The caller decides whether ``seen`` may be taken."""
    values = {
        "station": station,
        "run_id": run_id,
        "holder": holder,
        "host": host,
        "pid": pid,
        "state": "running",
    }
    token = 1 if seen is None else seen.token + 1
    try:
        with engine.begin() as conn:
            values["heartbeat"] = _stamp(conn)
            if seen is None:
                conn.execute(insert(Lease).values(key=key, token=token, **values))
                return token
            done = conn.execute(
                update(Lease).where(Lease.key == key, Lease.token == seen.token).values(token=token, **values)
            )
            return token if done.rowcount == 1 else None
    except IntegrityError:  # another process inserted the first row of this key first
        return None


def beat(conn: Connection, key: str, holder: str, token: int, state: str) -> bool:
    """Refresh the heartbeat of ``key`` if ``holder`` still holds it with ``token``; False if not."""
    done = conn.execute(
        update(Lease)
        .where(Lease.key == key, Lease.holder == holder, Lease.token == token)
        .values(heartbeat=_stamp(conn), state=state)
    )
    return done.rowcount == 1


def release(conn: Connection, key: str, holder: str, token: int) -> bool:
    """Free ``key`` if ``holder`` still holds it with ``token`` (the token stays, so it keeps growing)."""
    done = conn.execute(
        update(Lease)
        .where(Lease.key == key, Lease.holder == holder, Lease.token == token)
        .values(holder=None, state=None)
    )
    return done.rowcount == 1


def release_of_process(conn: Connection, run_id: int, pid: int, host: str) -> int:
    """Free the run lease of ``run_id`` and any station lease held for it, if process ``pid`` on ``host``
    holds them; returns how many were freed (a lease taken over since by another process is kept)."""
    done = conn.execute(
        update(Lease)
        .where(
            or_(Lease.key == run_key(run_id), Lease.run_id == run_id),
            Lease.holder.is_not(None),
            Lease.pid == pid,
            Lease.host == host,
        )
        .values(holder=None, state=None)
    )
    return int(done.rowcount)


@dataclass(frozen=True)
class Liveness:
    """What a reader shows for a run: its stored status, or for a run marked running ``running``,
    ``paused``, ``stale`` or ``dead``; with the engine's pid and host while one holds the run's lease."""

    state: str
    engine_pid: int | None = None
    host: str | None = None
    heartbeat_age_s: float | None = None
    free: bool = True
    """No live engine holds the run's lease (a resume would not have to take it from anyone)."""

    @property
    def lease_free(self) -> bool:
        return self.free


def classify(
    status: str, started: dt.datetime, lease: LeaseRow | None, at: dt.datetime | None = None
) -> Liveness:
    """Liveness of a run with stored ``status`` whose run lease is ``lease`` (None: none taken)."""
    at = at or now()
    held = lease is not None and lease.holder is not None and not lease.holder_gone(at)
    if status != "running":
        return Liveness(status, free=not held)
    if lease is None or lease.holder is None:
        # an engine takes its run's lease right after creating the run; a run marked running without a held
        # lease had an engine that ended without writing the run's status (an unwritable store, a crash)
        young = lease is None and (at - started).total_seconds() < STALE_AFTER_S
        return Liveness("running", free=False) if young else Liveness("dead")
    age = lease.age_s(at)
    if not held:
        return Liveness("dead", lease.pid, lease.host, age)
    if age > STALE_AFTER_S:
        return Liveness("stale", lease.pid, lease.host, age, free=False)
    state = lease.state if lease.state in ("running", "paused") else "running"
    return Liveness(state, lease.pid, lease.host, age, free=False)


def liveness(store: Any, runs: list[Any] | None = None) -> dict[int, Liveness]:
    """Liveness of every run of ``store`` (or of ``runs``: objects with id, status, started) by run id."""
    runs = store.runs() if runs is None else runs
    leases: dict[int, LeaseRow] = {}
    at = now()
    if runs:
        with store._engine.connect() as conn:
            leases = run_leases(conn, [r.id for r in runs] if len(runs) <= 500 else None)
            at = clock(conn)
    return {r.id: classify(r.status, r.started, leases.get(r.id), at) for r in runs}


def set_run(conn: Connection, key: str, holder: str, token: int, run_id: int) -> None:
    """Name the run a held lease (e.g. a station's) is for."""
    where = (Lease.key == key) & (Lease.holder == holder) & (Lease.token == token)
    conn.execute(update(Lease).where(where).values(run_id=run_id))
