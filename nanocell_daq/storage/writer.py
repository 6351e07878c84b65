"""The engine's hot path: queue points in memory, commit them in batches from a background thread.

A batch the store refuses (locked beyond the busy timeout, disk full, file size limit) is never dropped: the
writer spills it, with every row still queued or appended later, to a recovery file
(:mod:`nanocell_daq.storage.spill`) that ``nanocell resume`` ingests, and calls ``on_failure``.
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Connection, insert, select

from nanocell_daq.storage import follow, spill
from nanocell_daq.storage.schema import EVENT_LEVELS, CyclingBlock, Event, IVPoint, SpectrumRow, Step

if TYPE_CHECKING:
    from nanocell_daq.storage.store import Store

log = logging.getLogger(__name__)


class StoreWriteError(RuntimeError):
    """The writer thread failed to commit; raised by the next append, ``flush()`` or ``close()``."""


class Writer:
    """Batches data points and commits them at least every ``flush_interval`` s from its own thread.

    Appends put one tuple on a deque (thread-safe, never touches the disk). ``flush()`` waits until all
    rows appended before it are committed; ``close()`` flushes and stops the thread.
    """

    def __init__(
        self, store: Store, flush_interval: float = 0.5, fence: Callable[[Connection], None] | None = None
    ) -> None:
        if not flush_interval > 0:
            raise ValueError(f"flush_interval must be > 0 s, got {flush_interval}")
        self._store = store
        self._fence = fence
        """Called inside each flush's transaction before any insert (the engine's lease check; raises)."""
        self.flush_interval = float(flush_interval)
        self._cyc: collections.deque[tuple[Any, ...]] = collections.deque()
        self._iv: collections.deque[tuple[Any, ...]] = collections.deque()
        self._spec: collections.deque[tuple[Any, ...]] = collections.deque()
        self._ev: collections.deque[tuple[Any, ...]] = collections.deque()
        self._wake = threading.Event()
        self._cond = threading.Condition()
        self._requested = 0  # flush requests handed to the thread
        self._done = 0  # flush requests it has committed
        self._dead: BaseException | str | None = None  # set once: the thread's error, or "closed"
        self._stop = False
        self._run_of_step: dict[int, int] = {}
        # executemany on the raw sqlite3 connection; other databases go through SQLAlchemy Core
        self._sqlite_fast = store.location.is_sqlite
        self._notify = store.location.url.get_backend_name() == "postgresql"
        self.committed = {"cycling": 0, "iv": 0, "spectra": 0, "events": 0}  # rows committed so far
        self.on_failure: Callable[[BaseException], None] | None = None
        """Called once (from the writer thread) when a flush fails, after the rows are spilled."""
        self.spill_name = f"{os.getpid()}-{id(self):x}"
        """Name of this writer's recovery file (``<db>.recovery-<name>.jsonl``)."""
        self.spilled: Path | None = None
        """The recovery file the refused rows went to, once a flush failed."""
        self.spill_error: str | None = None
        """Why spilling failed too (the rows are then lost), if it did."""
        self._failed: list[list[tuple[Any, ...]]] | None = None  # the batch being committed
        self._thread = threading.Thread(target=self._loop, name="nanocell-store-writer", daemon=True)
        self._thread.start()

    # --- appends (any thread; cheap) -------------------------------------------------------------
    def cycling_point(self, step_id: int, t: float, E: float, I: float, Q: float) -> None:  # noqa: E741
        """Queue a cycling point: t (s, engine clock), E (V), I (A), Q (C)."""
        self._cyc.append((step_id, t, E, I, Q))
        if self._dead is not None:
            self._raise()

    def iv_point(
        self,
        step_id: int,
        V: float,
        I: float,  # noqa: E741
        direction: str,
        pair: str,
        t: float | None = None,
    ) -> None:
        """Queue an I-V point: V (V), I (A), direction "up"/"down", contact pair (e.g. "S-D"), t (s)."""
        self._iv.append((step_id, V, I, direction, pair, t))
        if self._dead is not None:
            self._raise()

    def spectrum(
        self,
        step_id: int,
        x_um: float,
        y_um: float,
        z_um: float,
        exposure_s: float,
        counts: Sequence[float] | np.ndarray,
        axis_id: int,
        grid_id: int | None = None,
        pixel: int | None = None,
        t: float | None = None,
    ) -> None:
        """Queue a spectrum (counts copied as float32) at stage position (um) on axis ``axis_id``."""
        blob = np.ascontiguousarray(counts, dtype="<f4").tobytes()
        self._spec.append((step_id, x_um, y_um, z_um, exposure_s, blob, axis_id, grid_id, pixel, t))
        if self._dead is not None:
            self._raise()

    def event(self, run_id: int | None, level: str, message: str, step_id: int | None = None,
              when: dt.datetime | None = None) -> None:
        """Queue a log line (level debug/info/warning/error); timestamped ``when`` (default now, UTC)."""
        if level not in EVENT_LEVELS:
            raise ValueError(f"event level {level!r}: use one of {', '.join(EVENT_LEVELS)}")
        self._ev.append((run_id, step_id, when or dt.datetime.now(dt.UTC), level, str(message)))
        if self._dead is not None:
            self._raise()

    # --- control -----------------------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> None:
        """Block until every row appended before this call is committed (StoreWriteError if it failed)."""
        if self._dead is not None:
            self._raise()
        with self._cond:
            self._requested += 1
            target = self._requested
            self._wake.set()
            ok = self._cond.wait_for(lambda: self._done >= target or self._dead is not None, timeout)
        if self._dead is not None:
            self._raise()
        if not ok:
            raise TimeoutError(f"store writer did not commit within {timeout} s")

    def close(self) -> None:
        """Flush, stop the thread; raises StoreWriteError if anything could not be committed."""
        if self._dead == "closed":
            return
        with self._cond:
            self._stop = True
            self._requested += 1
            self._wake.set()
        self._thread.join()
        self._store._forget_writer(self)
        if self._dead is not None and self._dead != "closed":
            self._spill()  # rows appended after the failure
            self._raise()
        self._dead = "closed"

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def error(self) -> BaseException | None:
        """The writer thread's error, if it failed."""
        return self._dead if isinstance(self._dead, BaseException) else None

    def _raise(self) -> None:
        if self._dead == "closed":
            raise StoreWriteError("the store writer is closed")
        where = (f"unsent rows spilled to {self.spilled}" if self.spilled is not None else
                 f"unsent rows could not be spilled: {self.spill_error}" if self.spill_error else "")
        message = f"the store writer failed: {_short(self._dead)}" + (f"; {where}" if where else "")
        raise StoreWriteError(message) from self.error

    def _spill(self) -> None:
        """Append the failed batch and everything queued to this writer's recovery file."""
        batches = [_drain(q) for q in (self._cyc, self._iv, self._spec, self._ev)]
        failed, self._failed = self._failed, None
        if failed is not None:
            batches = [f + b for f, b in zip(failed, batches, strict=True)]
        if not any(batches):
            return
        rows = dict(zip(spill.KINDS, batches, strict=True))
        try:
            self.spilled = spill.spill_rows(self._store.location, self.spill_name, _short(self._dead), rows)
            log.error("store writer failed (%s): %d row(s) spilled to %s", self._dead,
                      sum(map(len, batches)), self.spilled)
        except OSError as exc:
            self.spill_error = f"{type(exc).__name__}: {exc}"
            log.error("store writer failed (%s) and its rows could not be spilled: %s", self._dead, exc)

    # --- the thread --------------------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            with self._store._engine.connect() as conn:
                while True:
                    self._wake.wait(self.flush_interval)
                    with self._cond:
                        self._wake.clear()
                        target = self._requested
                        stop = self._stop
                    self._write_pending(conn)
                    with self._cond:
                        self._done = target
                        self._cond.notify_all()
                    if stop:
                        return
        except BaseException as exc:
            if isinstance(exc, Exception):
                log.exception("store writer failed; its rows go to a recovery file")
            else:  # e.g. an engine's fence (its lease was taken over): the batch is refused on purpose
                log.error("store writer stopped: %s; data of the current batch are not stored", exc)
            with self._cond:
                self._dead = exc
                if isinstance(exc, Exception):  # a fenced engine's batch is refused, not kept for a resume
                    self._spill()
                self._cond.notify_all()
            if self.on_failure is not None:
                try:
                    self.on_failure(exc)
                except Exception:  # the failure is also raised by the next append/close
                    log.exception("store writer: on_failure callback failed")

    def _write_pending(self, conn: Connection) -> None:
        batches = [_drain(q) for q in (self._cyc, self._iv, self._spec, self._ev)]
        if not any(batches):
            return
        cyc, iv, spec, ev = batches
        self._failed = batches  # kept until committed: a failed commit spills them
        with conn.begin():
            if self._fence is not None:
                self._fence(conn)
            if cyc:
                self._write_cycling(conn, cyc)
            if iv:
                self._insert_points(conn, IVPoint, iv, ("step_id", "v_v", "i_a", "direction", "pair", "t_s"))
            if spec:
                cols = (
                    "step_id",
                    "x_um",
                    "y_um",
                    "z_um",
                    "exposure_s",
                    "counts",
                    "axis_id",
                    "grid_id",
                    "pixel",
                    "t_s",
                )
                self._insert_points(conn, SpectrumRow, spec, cols)
            if ev:
                cols = ("run_id", "step_id", "time", "level", "message")
                conn.execute(insert(Event), [dict(zip(cols, row, strict=True)) for row in ev])
            if self._notify:  # listeners hear of the batch when it commits (PostgreSQL)
                steps = {int(r[0]) for rows in (cyc, iv, spec) for r in rows}
                follow.notify(conn, {self._run_of_step.get(s) for s in steps} | {r[0] for r in ev})
        self._failed = None
        for key, rows in zip(("cycling", "iv", "spectra", "events"), batches, strict=True):
            self.committed[key] += len(rows)

    def _runs_of(self, conn: Connection, step_ids: set[int]) -> dict[int, int]:
        missing = [s for s in step_ids if s not in self._run_of_step]
        if missing:
            rows = conn.execute(select(Step.id, Step.run_id).where(Step.id.in_(missing))).all()
            self._run_of_step.update({int(s): int(r) for s, r in rows})
            unknown = sorted(set(missing) - self._run_of_step.keys())
            if unknown:
                raise StoreWriteError(
                    f"data for step id(s) {unknown} that do not exist (call store.start_step first)"
                )
        return self._run_of_step

    def _write_cycling(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        n = len(rows)
        arr = np.fromiter(itertools.chain.from_iterable(rows), np.float64, count=5 * n).reshape(n, 5)
        steps = arr[:, 0]
        if (steps == steps[0]).all():
            groups = [(int(steps[0]), arr)]
        else:  # several steps in one flush (rare): one block per step, keeping append order inside each
            ids = np.unique(steps)
            groups = [(int(s), arr[steps == s]) for s in ids]
        run_of = self._runs_of(conn, {s for s, _ in groups})
        values = [
            {
                "run_id": run_of[s],
                "step_id": s,
                "n": len(g),
                "t_first_s": float(g[0, 1]),
                "t_last_s": float(g[-1, 1]),
                "t_s": g[:, 1].astype("<f8").tobytes(),
                "e_v": g[:, 2].astype("<f8").tobytes(),
                "i_a": g[:, 3].astype("<f8").tobytes(),
                "q_c": g[:, 4].astype("<f8").tobytes(),
            }
            for s, g in groups
        ]
        conn.execute(insert(CyclingBlock), values)

    def _insert_points(
        self, conn: Connection, table: Any, rows: list[tuple[Any, ...]], cols: tuple[str, ...]
    ) -> None:
        run_of = self._runs_of(conn, {r[0] for r in rows})
        if self._sqlite_fast or self._notify:
            # executemany on the driver connection (same transaction): no per-row dict, ~1 us/row in
            # sqlite3; psycopg 3 sends the rows pipelined (one round trip per batch, not per row)
            names = ", ".join(("run_id", *cols))
            mark = "?" if self._sqlite_fast else "%s"
            marks = ", ".join([mark] * (len(cols) + 1))
            sql = f"INSERT INTO {table.__tablename__} ({names}) VALUES ({marks})"
            driver = conn.connection.driver_connection
            assert driver is not None
            if self._sqlite_fast:
                driver.executemany(sql, [(run_of[r[0]], *r) for r in rows])
            else:
                with driver.cursor() as cur:
                    cur.executemany(sql, [(run_of[r[0]], *r) for r in rows])
        else:
            conn.execute(
                insert(table), [{"run_id": run_of[r[0]], **dict(zip(cols, r, strict=True))} for r in rows]
            )


def _short(error: BaseException | str | None) -> str:
    """The database's own message (SQLAlchemy's wrapper adds the statement and its parameters)."""
    orig = getattr(error, "orig", None)
    return f"{type(orig).__name__}: {orig}" if orig is not None else str(error)


def _drain(q: collections.deque[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Take what is on the deque now; appends racing with us stay for the next batch."""
    pop = q.popleft
    return [pop() for _ in range(len(q))]
