"""One engine per station and one per run: leases in the store, heartbeats, and fencing.

An engine takes the **station lease** (key: the station's instrument resources) before it opens any
instrument, and the **run lease** (``run:<id>``) as soon as its run exists (``nanocell resume`` takes both
before anything is opened or written). Each take-over bumps the lease's **fencing token**. While it runs, the
engine refreshes a heartbeat about every second (``HEARTBEAT_S``, from its control-monitor thread) and checks
its tokens before each command batch (each instrument call through the guard, at most every
``FENCE_EVERY_S`` of wall time, and always before a step, a router switch or a safe-state action) and in the
transaction of each writer flush. An engine that finds a token changed (it was stopped, fell silent for
``STALE_AFTER_S`` and another engine took over) raises :class:`LeaseLost` and exits without touching an
instrument or writing the run's data or status.

A lease may be taken over when it is free, when its holder's heartbeat is older than ``STALE_AFTER_S``, or
when its holder is a process of this host that no longer exists. Anything else is refused with
:class:`LeaseHeld`, a one-line :class:`UserError` naming the holder (run, pid, host, heartbeat age).

For a supervising process: :func:`release_dead_holder` frees the leases of an engine it saw die.

Heartbeat times are written and aged on one clock: the server's on PostgreSQL (hosts sharing it need no
synchronised clocks), this host's on SQLite. An engine that cannot read its lease for ``STALE_AFTER_S``
assumes it lost it and stops.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection

from nanocell_daq.errors import UserError
from nanocell_daq.storage import leases as rows
from nanocell_daq.storage.leases import HEARTBEAT_S, STALE_AFTER_S, LeaseRow

__all__ = [
    "HEARTBEAT_S",
    "STALE_AFTER_S",
    "EngineLease",
    "LeaseHeld",
    "LeaseLost",
    "config_key",
    "held_for_check",
    "release_dead_holder",
    "station_key",
]

FENCE_EVERY_S = 0.25
"""The engine re-reads its tokens at most this often (wall s) between the forced checks."""


class LeaseHeld(UserError):
    """Another live engine holds the station or the run."""


class LeaseLost(BaseException):
    """This engine's lease was taken over: it must stop at once without touching an instrument.

    Not an Exception: no step's ``except Exception`` may swallow it."""


def station_key(view: Any) -> str:
    """The station's lease key: its instruments' VISA resources (two station files for one bench share it)."""
    return config_key(view.config)


def config_key(config: Any) -> str:
    """:func:`station_key` of a loaded station file (``StationConfig``)."""
    resources = sorted(str(inst.resource) for inst in config.instruments.values())
    return "station:" + hashlib.sha256("\n".join(resources).encode()).hexdigest()[:32]


@contextmanager
def held_for_check(db: str | os.PathLike[str] | None, config: Any, name: str) -> Iterator[str | None]:
    """Hold the station lease in ``db`` while a station check connects to the instruments.

    Connecting is not harmless while a run uses the station: a 2600B driver that connects aborts a TSP script
    it finds running (as Keithley's own controllers do), so a check would end the run's galvanostatic step.
    A live engine holding the lease makes this raise :class:`LeaseHeld` (nothing is touched); while the check
    holds it, no run can start on the station. Yields None, or a warning when the leases could not be read
    (no database there is not a warning: no run of that database can be using the station).
    """
    from nanocell_daq.storage import Store  # storage is not needed to import the engine's lease rows
    from nanocell_daq.storage.location import resolve

    if db is None:
        yield None
        return
    loc = resolve(db)
    if loc.path is not None and not loc.path.exists():
        yield None
        return
    try:
        store = Store.open(db, create=False)
    except UserError as exc:
        yield (f"could not read the station leases ({exc}); a run using this station from that database "
               "would be disturbed by the check")
        return
    lease = EngineLease(store, config_key(config), name)
    try:
        lease.acquire(db_label=loc.shown)
        yield None
    finally:
        lease.release()
        store.close()


def _may_take(row: LeaseRow | None, holder: str) -> bool:
    if row is None or row.holder is None or row.holder == holder:
        return True
    return row.holder_gone() or row.age_s() > STALE_AFTER_S


class EngineLease:
    """The leases one engine process holds (station, then run), its heartbeat and its fencing checks."""

    def __init__(self, store: Any, station: str, station_name: str = "the station") -> None:
        self.store = store
        self.station = station
        self.station_name = station_name
        self.holder = uuid.uuid4().hex
        self.pid = os.getpid()
        self.host = rows.this_host()
        self.run_id: int | None = None
        self.tokens: dict[str, int] = {}
        self.state = "running"
        self.lost: str | None = None
        """Why this engine lost its lease (None while it holds it)."""
        self._checked = time.monotonic()
        self._verified = time.monotonic()
        self._beat = 0.0
        self._lock = threading.Lock()
        self._beating: threading.Thread | None = None
        self._stop_beating = threading.Event()

    @classmethod
    def for_view(cls, store: Any, view: Any) -> EngineLease:
        return cls(store, station_key(view), str(getattr(view, "path", None) or "the station"))

    # --- taking -----------------------------------------------------------------------------------
    def _take(self, key: str, run_id: int | None, what: str, db_label: str) -> None:
        engine = self.store._engine
        for _ in range(3):  # a lost race is re-read once or twice: the winner is then named
            with engine.connect() as conn:
                seen = rows.read(conn, [key]).get(key)
            if not _may_take(seen, self.holder):
                assert seen is not None
                stop = (
                    f"stop it with `nanocell control {seen.run_id} abort --db {db_label}`"
                    if seen.run_id is not None
                    else "see `nanocell runs` in a moment"
                )
                raise LeaseHeld(
                    f"{what} is in use by {seen.describe()}; wait for it to end, or {stop} "
                    f"(an engine silent for {STALE_AFTER_S:g} s may be taken over)"
                )
            token = rows.take(
                engine,
                key,
                station=self.station,
                run_id=run_id,
                holder=self.holder,
                pid=self.pid,
                host=self.host,
                seen=seen,
            )
            if token is not None:
                self.tokens[key] = token
                return
        raise LeaseHeld(f"{what}: another engine is taking it at this moment; try again")

    def acquire(self, run_id: int | None = None, db_label: str = "DB") -> None:
        """Take the run lease of ``run_id`` (resume) and the station lease; LeaseHeld if a live engine holds
        either (nothing taken then). Call before opening any instrument or writing anything."""
        try:
            if run_id is not None:
                self._take_run(run_id, db_label)
            self._take(self.station, run_id, f"station {self.station_name}", db_label)
            if run_id is not None:
                self._name_run(run_id)
        except BaseException:
            self.release()
            raise
        self.start_beating()

    def attach_run(self, run_id: int, db_label: str = "DB") -> None:
        """Take the run lease of a run just created, and name it on the station lease."""
        self._take_run(run_id, db_label)
        self._name_run(run_id)

    def _take_run(self, run_id: int, db_label: str) -> None:
        self._take(rows.run_key(run_id), run_id, f"run {run_id}", db_label)
        self.run_id = run_id

    def _name_run(self, run_id: int) -> None:
        with self.store._engine.begin() as conn:
            rows.set_run(conn, self.station, self.holder, self.tokens[self.station], run_id)

    # --- holding ----------------------------------------------------------------------------------
    def start_beating(self) -> None:
        """Refresh the heartbeat every ``HEARTBEAT_S`` from a thread of this process, from the moment the
        lease is taken (opening a station may take a while) until ``release``. The engine sets ``state``."""
        if self._beating is not None:
            return
        self._stop_beating.clear()
        self._beating = threading.Thread(target=self._beat_loop, name="lease-heartbeat", daemon=True)
        self._beating.start()

    def stop_beating(self) -> None:
        """Stop the heartbeat thread (as a stopped or hung process would)."""
        self._stop_beating.set()
        thread, self._beating = self._beating, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    def _beat_loop(self) -> None:
        while not self._stop_beating.wait(HEARTBEAT_S):
            try:
                if not self.heartbeat(force=True):
                    return  # lost: ``lost`` says why; the engine stops at its next check
            except Exception:  # noqa: BLE001 - a busy or full store: readers see the heartbeat age
                continue

    def heartbeat(self, state: str | None = None, force: bool = False) -> bool:
        """Refresh the heartbeat (at most every ``HEARTBEAT_S`` unless ``force``); False once lost."""
        if state is not None:
            self.state = state
        if self.lost is not None:
            return False
        if not force and time.monotonic() - self._beat < HEARTBEAT_S:
            return True
        with self.store._engine.begin() as conn:
            for key, token in self.tokens.items():
                if not rows.beat(conn, key, self.holder, token, self.state):
                    self._lose(conn, key)
                    return False
        self._beat = self._verified = time.monotonic()
        return True

    def _lose(self, conn: Connection, key: str) -> None:
        now_row = rows.read(conn, [key]).get(key)
        held = now_row is not None and now_row.holder is not None
        by = now_row.describe() if held else "another engine (free again now)"
        with self._lock:
            if self.lost is None:
                what = f"station {self.station_name}" if key == self.station else key.replace(":", " ")
                what = f"the lease of {what}"
                self.lost = f"{what} was taken over by {by} while engine pid {self.pid} was silent"

    def check(self, force: bool = False) -> None:
        """Raise LeaseLost unless this engine still holds every lease with its token (a read of the store
        at most every ``FENCE_EVERY_S`` unless ``force``)."""
        if self.lost is not None:
            raise LeaseLost(self.lost)
        if not self.tokens:
            return
        t = time.monotonic()
        if not force and t - self._checked < FENCE_EVERY_S:
            return
        self._checked = t
        try:
            with self.store._engine.connect() as conn:
                self.fence(conn)
        except LeaseLost:
            raise
        except Exception as exc:  # noqa: BLE001 - a busy store: carry on only while recently verified
            if time.monotonic() - self._verified > STALE_AFTER_S:
                self.lost = f"cannot verify the lease for {STALE_AFTER_S:g} s: {exc}"
                raise LeaseLost(self.lost) from None
            return
        self._verified = time.monotonic()

    def fence(self, conn: Connection) -> None:
        """Raise LeaseLost if, read on ``conn`` (e.g. inside a writer's transaction), a token changed."""
        if self.lost is not None:
            raise LeaseLost(self.lost)
        found = rows.read(conn, list(self.tokens))
        for key, token in self.tokens.items():
            row = found.get(key)
            if row is None or row.holder != self.holder or row.token != token:
                self._lose(conn, key)
                raise LeaseLost(self.lost)

    def holds_run(self) -> bool:
        """Whether this engine still holds its run lease (read now)."""
        if self.run_id is None:
            return False
        key = rows.run_key(self.run_id)
        with self.store._engine.connect() as conn:
            row = rows.read(conn, [key]).get(key)
        return row is not None and row.holder == self.holder and row.token == self.tokens.get(key)

    def release(self) -> None:
        """Stop the heartbeat and free every lease this engine still holds (best effort; never raises)."""
        self.stop_beating()
        for key, token in list(self.tokens.items()):
            try:
                with self.store._engine.begin() as conn:
                    rows.release(conn, key, self.holder, token)
            except Exception:  # noqa: BLE001 - an unwritable store: readers see the holder gone instead
                pass
        self.tokens.clear()


def release_dead_holder(store: Any, run_id: int, pid: int, host: str) -> bool:
    """Free the leases held for run ``run_id`` by engine process ``pid`` on ``host`` (for a supervisor that
    saw that engine die and made the bench safe). Leases taken over since by another engine are kept.

    Returns True if a lease was freed. The run's status is not changed here (the caller marks it).
    """
    with store._engine.begin() as conn:
        return rows.release_of_process(conn, run_id, pid, host) > 0
