"""Following live runs: one interface for the GUI and any reader, LISTEN/NOTIFY on PostgreSQL, polling on
SQLite.

Every commit that changes a run on PostgreSQL (a writer's batch, a new step, an event, the run's status or
progress) also sends ``NOTIFY nanocell_runs, '<run id>'`` in its own transaction, so listeners hear of it
when, and only when, the rows are visible. A :class:`RunFollower` listens on a connection of its own::

    with RunFollower(store, run_ids={3, 4}) as follower:   # None: every run
        while ...:
            changed = follower.wait(timeout=5.0)   # run ids with news (empty set: none within timeout)
            for run_id in changed: ...             # read store.cycling_since(run_id, cursor) etc.

    follower.due()   # non-blocking: news arrived since the last call, or ``refresh_s`` passed (for a GUI
                     # timer; the refresh keeps heartbeat ages and stale engines up to date)

On SQLite (no notifications) ``wait`` returns every watched run after ``poll_s`` and ``due`` is true every
time: the reader polls, as before. On PostgreSQL a lost listening connection is reopened; until it is, the
follower polls too, so a reader never misses rows (its cursors, not the notifications, say what is new).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, text

log = logging.getLogger(__name__)

CHANNEL = "nanocell_runs"
"""The PostgreSQL notification channel; the payload is the run id."""

ALL = -1
"""Returned by ``wait`` in place of run ids when anything may have changed (polling, reconnecting)."""


def notify(conn: Connection, run_ids: Iterable[int | None]) -> None:
    """Tell listeners that ``run_ids`` changed, when ``conn``'s transaction commits (PostgreSQL only)."""
    if conn.dialect.name != "postgresql":
        return
    ids = sorted({int(r) for r in run_ids if r is not None})
    if ids:
        rows = [{"channel": CHANNEL, "run": str(r)} for r in ids]
        conn.execute(text("SELECT pg_notify(:channel, :run)"), rows)


class RunFollower:
    """Wakes a reader when runs change (see the module). Thread-safe; ``close`` it (or use ``with``)."""

    def __init__(
        self, store: Any, run_ids: Iterable[int] | None = None, poll_s: float = 0.2, refresh_s: float = 1.0,
        *, block: bool = True,
    ) -> None:
        """``block``: wait (up to 5 s) for the listening connection; a GUI passes False and polls until
        it is up."""
        self.store = store
        self.run_ids = None if run_ids is None else frozenset(int(r) for r in run_ids)
        self.poll_s = float(poll_s)
        self.refresh_s = float(refresh_s)
        self.listening = store.location.url.get_backend_name() == "postgresql"
        """True on PostgreSQL (notifications), False on SQLite (polling)."""
        self.connected = threading.Event()
        """Set while the listening connection is up (PostgreSQL)."""
        self._news: set[int] = set()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._last_due = 0.0
        self._thread: threading.Thread | None = None
        if self.listening:
            self._thread = threading.Thread(target=self._listen, name="run-follower", daemon=True)
            self._thread.start()
            if block:
                self.connected.wait(5.0)

    # --- what readers call ------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> set[int]:
        """Block until a watched run changes (or ``timeout`` s pass); the run ids that changed, ``{ALL}``
        when anything may have (polling), or an empty set."""
        if not self.listening:
            self._stop.wait(self.poll_s if timeout is None else min(self.poll_s, timeout))
            return {ALL}
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._news and not self._stop.is_set():
                if not self.connected.is_set():  # reconnecting: poll meanwhile
                    self._cond.wait(self.poll_s if deadline is None else
                                    max(0.0, min(self.poll_s, deadline - time.monotonic())))
                    return {ALL}
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(left if left is None else min(left, 1.0))
            news, self._news = self._news, set()
        return news

    def due(self) -> bool:
        """Non-blocking: whether a reader should read now (news arrived, not listening, or ``refresh_s``
        since the last time this said yes)."""
        now = time.monotonic()
        with self._cond:
            news = bool(self._news) or not self.listening or not self.connected.is_set()
            self._news.clear()
        if news or now - self._last_due >= self.refresh_s:
            self._last_due = now
            return True
        return False

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> RunFollower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the listening thread ---------------------------------------------------------------------
    def _connect(self) -> Any:
        engine = self.store._engine
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        cparams.setdefault("connect_timeout", 10)
        con = engine.dialect.loaded_dbapi.connect(*cargs, **cparams)
        con.autocommit = True
        con.execute(f"LISTEN {CHANNEL}")
        return con

    def _listen(self) -> None:
        while not self._stop.is_set():
            con = None
            try:
                con = self._connect()
                self.connected.set()
                self._hear(set())  # rows committed while we were not listening: read once
                while not self._stop.is_set():
                    heard = {n.payload for n in con.notifies(timeout=0.5, stop_after=1000)}
                    if heard:
                        self._hear({int(p) for p in heard if p.lstrip("-").isdigit()})
            except Exception as exc:  # noqa: BLE001 - the server went away: poll until it is back
                if self.connected.is_set():
                    log.warning("run follower lost its connection (%s); polling until it is back",
                                type(exc).__name__)
                self.connected.clear()
                with self._cond:
                    self._cond.notify_all()
                self._stop.wait(1.0)
            finally:
                if con is not None:
                    with contextlib.suppress(Exception):
                        con.close()
        self.connected.clear()

    def _hear(self, runs: set[int]) -> None:
        if self.run_ids is not None and runs:
            runs &= self.run_ids
            if not runs:
                return
        with self._cond:
            self._news |= runs or {ALL}
            self._cond.notify_all()
