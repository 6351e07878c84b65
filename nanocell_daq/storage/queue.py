"""The run queue in the store: protocols waiting to run on a station's devices, one after another.

An entry is ``queued`` (waits its turn), ``held`` (kept back until released), ``running`` (claimed by a
``nanocell queue run`` process, ``run_id`` set once its run exists), or ended: ``completed``, ``failed``,
``aborted``, ``interrupted`` (as its run ended), ``refused`` (could not start: the plan or the station said
no) or ``cancelled``. Every change of state is one conditional UPDATE, so of two processes claiming or
cancelling the same entry exactly one wins (SQLite and PostgreSQL alike). The policy (what runs, when the
queue stops) lives in ``nanocell_daq.engine.queue``.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

from nanocell_daq.storage.schema import Base, UTCDateTime

QUEUE_STATES = ("queued", "held", "running", "completed", "failed", "aborted", "interrupted", "refused",
                "cancelled")
WAITING = ("queued", "held")
ENDED = ("completed", "failed", "aborted", "interrupted", "refused", "cancelled")


class QueueEntryRow(Base):
    """One protocol waiting to run (or that ran) from the queue: protocol text, device, overrides."""

    __tablename__ = "queue_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    added: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    added_by: Mapped[str | None] = mapped_column(String(200))
    protocol: Mapped[str] = mapped_column(String(500))
    protocol_text: Mapped[str] = mapped_column(Text)
    station: Mapped[str | None] = mapped_column(String(1000))
    device: Mapped[str | None] = mapped_column(String(200))
    overrides: Mapped[dict[str, Any]] = mapped_column(JSON)
    stop_on_failure: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    runner_host: Mapped[str | None] = mapped_column(String(255))
    runner_pid: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    started: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class QueueEntry:
    """A queue entry as read from the store."""

    id: int
    added: dt.datetime
    added_by: str | None
    protocol: str
    protocol_text: str
    station: str | None
    device: str | None
    overrides: dict[str, Any]
    stop_on_failure: bool
    state: str
    run_id: int | None
    runner_host: str | None
    runner_pid: int | None
    reason: str | None
    started: dt.datetime | None
    ended: dt.datetime | None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (no protocol text)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "protocol_text"}
        for key in ("added", "started", "ended"):
            out[key] = None if out[key] is None else out[key].isoformat()
        return out


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _entry(r: Any) -> QueueEntry:
    return QueueEntry(r.id, r.added, r.added_by, r.protocol, r.protocol_text, r.station, r.device,
                      dict(r.overrides or {}), bool(r.stop_on_failure), r.state, r.run_id, r.runner_host,
                      r.runner_pid, r.reason, r.started, r.ended)


def add(store: Any, protocol: str, protocol_text: str, *, station: str | None = None,
        device: str | None = None, overrides: dict[str, Any] | None = None, stop_on_failure: bool = False,
        added_by: str | None = None, held: bool = False) -> int:
    """Append an entry (``queued``, or ``held`` with ``held``); returns its id."""
    values = dict(added=_now(), added_by=added_by, protocol=protocol, protocol_text=protocol_text,
                  station=station, device=device, overrides=dict(overrides or {}),
                  stop_on_failure=bool(stop_on_failure), state="held" if held else "queued")
    with store._engine.begin() as conn:
        return int(conn.execute(insert(QueueEntryRow).values(**values)).inserted_primary_key[0])


def entries(store: Any, states: tuple[str, ...] | None = None) -> list[QueueEntry]:
    """Entries in queue order (oldest first), optionally only those in ``states``."""
    stmt = select(QueueEntryRow).order_by(QueueEntryRow.id)
    if states is not None:
        stmt = stmt.where(QueueEntryRow.state.in_(states))
    with store._engine.connect() as conn:
        return [_entry(r) for r in conn.execute(stmt).all()]


def entry(store: Any, entry_id: int) -> QueueEntry:
    """One entry; KeyError if there is none with that id."""
    with store._engine.connect() as conn:
        row = conn.execute(select(QueueEntryRow).where(QueueEntryRow.id == entry_id)).first()
    if row is None:
        raise KeyError(entry_id)
    return _entry(row)


def move(store: Any, entry_id: int, to: str, *, when: tuple[str, ...], **values: Any) -> bool:
    """Set ``entry_id`` to state ``to`` (with ``values``: run_id, reason, started, ended) if it is in one of
    the states ``when``; False (nothing changed) otherwise."""
    if to not in QUEUE_STATES:
        raise ValueError(f"unknown queue state {to!r}")
    if to in ENDED:
        values.setdefault("ended", _now())
    with store._engine.begin() as conn:
        done = conn.execute(
            update(QueueEntryRow)
            .where(QueueEntryRow.id == entry_id, QueueEntryRow.state.in_(when))
            .values(state=to, **values)
        )
    return done.rowcount == 1


def claim(store: Any, entry_id: int) -> bool:
    """Take a ``queued`` entry for running (``running``, started now, by this process on this host); False if
    someone else did first or it was held or cancelled meanwhile."""
    return move(store, entry_id, "running", when=("queued",), started=_now(),
                runner_host=socket.gethostname(), runner_pid=os.getpid(), run_id=None, reason=None,
                ended=None)


def set_run(store: Any, entry_id: int, run_id: int) -> None:
    """Name the run a ``running`` entry started."""
    with store._engine.begin() as conn:
        conn.execute(update(QueueEntryRow).where(QueueEntryRow.id == entry_id).values(run_id=run_id))
