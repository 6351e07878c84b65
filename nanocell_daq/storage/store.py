"""The Store: open/create/upgrade a run database, write metadata, control and progress; reads in reads.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
import uuid as uuidlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, delete, func, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from nanocell_daq import __version__
from nanocell_daq.errors import UserError
from nanocell_daq.storage import follow, location, migrate
from nanocell_daq.storage.connect import make_engine, set_wal
from nanocell_daq.storage.reads import StoreReads
from nanocell_daq.storage.schema import (
    CONTROL_ACTIONS,
    EVENT_LEVELS,
    RUN_STATUSES,
    STEP_STATUSES,
    Control,
    DerivedResultRow,
    Device,
    Event,
    MapGridRow,
    ProvenanceRow,
    Run,
    RunProgress,
    Step,
    WavenumberAxis,
)
from nanocell_daq.storage.writer import Writer


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def params_hash(params: Mapping[str, Any] | None) -> str:
    """Stable hash of analysis parameters (canonical JSON), the key of a derived result."""
    text = json.dumps(params or {}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Store(StoreReads):
    """A run database. Thread-safe; open one per process with ``Store.open``."""

    def __init__(self, engine: Engine, loc: location.Location) -> None:
        self._engine = engine
        self.location = loc
        self._writers: list[Writer] = []
        self._lock = threading.Lock()
        self._notifies = loc.url.get_backend_name() == "postgresql"  # LISTEN/NOTIFY (storage.follow)

    def follower(
        self, run_ids: Any = None, poll_s: float = 0.2, refresh_s: float = 1.0, *, block: bool = True
    ) -> follow.RunFollower:
        """A :class:`~nanocell_daq.storage.follow.RunFollower` of ``run_ids`` (None: every run); close it."""
        return follow.RunFollower(self, run_ids, poll_s=poll_s, refresh_s=refresh_s, block=block)

    # --- opening ------------------------------------------------------------------------------------
    @classmethod
    def open(cls, url_or_path: str | os.PathLike[str], create: bool = True) -> Store:
        """Open a store (a path = SQLite file in WAL mode, or any SQLAlchemy URL).

        With ``create`` a missing SQLite file (or an empty server database) is created at the newest schema.
        UserError, naming the path, for anything else: not our database, corrupt, older or newer schema.
        """
        return cls._open(location.resolve(url_or_path), create=create, upgrade=False)[0]

    @classmethod
    def upgrade(cls, url_or_path: str | os.PathLike[str]) -> tuple[str | None, str]:
        """Create or upgrade a store to the newest schema; returns (revision before, revision after)."""
        store, before = cls._open(location.resolve(url_or_path), create=True, upgrade=True)
        store.close()
        return before, migrate.head_revision()

    @classmethod
    def _open(cls, loc: location.Location, *, create: bool, upgrade: bool) -> tuple[Store, str | None]:
        created_file = False
        if loc.path is not None:
            if loc.path.exists():
                location.check_existing_file(loc, creating=create)
            elif not create:
                raise UserError(
                    f"{loc.shown}: no such database (create it with `nanocell db upgrade --db {loc.shown}`)"
                )
            else:
                location.check_new_file(loc)
                created_file = True
        engine = make_engine(loc)
        try:
            before = cls._prepare_schema(engine, loc, create=create, upgrade=upgrade)
            if loc.is_sqlite:
                set_wal(engine)
        except BaseException:
            engine.dispose()
            if created_file:
                _remove_sqlite_files(loc)
            raise
        return cls(engine, loc), before

    @staticmethod
    def _prepare_schema(engine: Engine, loc: location.Location, *, create: bool, upgrade: bool) -> str | None:
        try:
            with engine.begin() as conn:
                tables = set(inspect(conn).get_table_names())
                if not tables and loc.is_sqlite:
                    # about to create it: one process at a time (two runs started together create one file;
                    # the second must see the first's whole schema, not half of it)
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                    tables = set(inspect(conn).get_table_names())
                if not tables:
                    if not create:
                        raise UserError(f"{loc.shown}: the database is empty (not a nanocell run database)")
                    migrate.upgrade_to_head(conn)
                    return None
                if not tables >= location.OUR_TABLES:
                    raise UserError(
                        f"{loc.shown}: is a database but not a nanocell run database "
                        f"(no runs/alembic_version tables); nothing was changed"
                    )
                before = migrate.current_revision(conn)
                if upgrade and before != migrate.head_revision():
                    try:
                        migrate.check_revision(conn, loc.shown)
                    except UserError as exc:
                        if "older" not in str(exc):
                            raise
                        migrate.upgrade_to_head(conn)
                        return before
                migrate.check_revision(conn, loc.shown)
                return before
        except UserError:
            raise
        except (SQLAlchemyError, OSError) as exc:
            detail = location.shown_error(loc, exc)
            raise UserError(f"{loc.shown}: cannot open the database ({detail})") from None

    def close(self) -> None:
        """Close open writers (flushing them) and release connections; re-raises a writer's failure."""
        errors: list[Exception] = []
        for w in list(self._writers):
            try:
                w.close()
            except Exception as exc:  # noqa: BLE001 - re-raised below, once the connections are released
                errors.append(exc)
        self._engine.dispose()
        if errors:
            raise errors[0]

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writers ------------------------------------------------------------------------------------
    def writer(
        self, flush_interval: float = 0.5, fence: Callable[[Connection], None] | None = None
    ) -> Writer:
        """A batching writer for data points (see ``Writer``); close it (or the store) when done. ``fence``
        runs in each flush's transaction before its inserts (an engine's lease check)."""
        w = Writer(self, flush_interval, fence)
        with self._lock:
            self._writers.append(w)
        return w

    def _forget_writer(self, w: Writer) -> None:
        with self._lock:
            if w in self._writers:
                self._writers.remove(w)

    def _insert(self, table: Any, **values: Any) -> int:
        try:
            with self._engine.begin() as conn:
                row_id = int(conn.execute(insert(table).values(**values)).inserted_primary_key[0])
                follow.notify(conn, [row_id if table is Run else values.get("run_id")])
                return row_id
        except IntegrityError as exc:
            raise ValueError(f"{table.__tablename__}: {exc.orig}") from None

    def _update(self, table: Any, row_id: Any, key: Any, **values: Any) -> None:
        with self._engine.begin() as conn:
            if conn.execute(update(table).where(key == row_id).values(**values)).rowcount != 1:
                raise KeyError(f"{table.__tablename__}: no row with id {row_id}")
            if self._notifies and table is Run:
                follow.notify(conn, [row_id])
            elif self._notifies and "run_id" in table.__table__.c:
                follow.notify(conn, [conn.scalar(select(table.run_id).where(key == row_id))])

    # --- devices, runs, steps -------------------------------------------------------------------------
    def add_device(
        self,
        chip: str,
        wire: str = "",
        materials: Mapping[str, Any] | None = None,
        dimensions: Mapping[str, Any] | None = None,
        contacts: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> int:
        """Record a device (chip, wire, materials, dimensions in nm/um, contacts/pads); returns its id."""
        return self._insert(
            Device,
            chip=chip,
            wire=wire,
            materials=dict(materials or {}),
            dimensions=dict(dimensions or {}),
            contacts=dict(contacts or {}),
            extra=dict(extra or {}),
            created=_now(),
        )

    def create_run(
        self,
        protocol_name: str,
        protocol_text: str = "",
        *,
        device_id: int | None = None,
        station: Mapping[str, Any] | None = None,
        operator: str | None = None,
        software_version: str | None = None,
        run_uuid: str | None = None,
        provenance: Mapping[str, Any] | None = None,
    ) -> int:
        """Start a run (status "running"); ``station`` is the station snapshot (JSON-able); returns its id.

        ``provenance`` (see :meth:`add_provenance`) is stored as the run's first session in the same
        transaction: a run never exists without it."""
        values = dict(
            uuid=run_uuid or str(uuidlib.uuid4()),
            device_id=device_id,
            protocol_name=protocol_name,
            protocol_text=protocol_text,
            station=dict(station or {}),
            software_version=software_version or __version__,
            operator=operator,
            started=_now(),
            status="running",
        )
        if provenance is None:
            return self._insert(Run, **values)
        try:
            with self._engine.begin() as conn:
                run_id = int(conn.execute(insert(Run).values(**values)).inserted_primary_key[0])
                self._add_provenance(conn, run_id, "start", provenance)
                follow.notify(conn, [run_id])
                return run_id
        except IntegrityError as exc:
            raise ValueError(f"runs: {exc.orig}") from None

    def add_provenance(self, run_id: int, record: Mapping[str, Any], kind: str = "resume") -> int:
        """Append one session's provenance to a run (a resume: earlier sessions are kept); returns its
        session number (0 = the start). ``record``: the :class:`~nanocell_daq.storage.schema.ProvenanceRow`
        columns (software_version, git_commit, git_dirty, python, libraries, host, pid, command, operator,
        station_path, station_text, device, protocol_name, protocol_path, protocol_text, overrides); absent
        ones are stored empty. ``nanocell_daq.provenance.session`` builds it."""
        with self._engine.begin() as conn:
            if conn.scalar(select(func.count()).select_from(Run).where(Run.id == run_id)) == 0:
                raise KeyError(f"runs: no row with id {run_id}")
            session = self._add_provenance(conn, run_id, kind, record)
            follow.notify(conn, [run_id])
            return session

    @staticmethod
    def _add_provenance(conn: Connection, run_id: int, kind: str, record: Mapping[str, Any]) -> int:
        if kind not in ("start", "resume"):
            raise ValueError(f"provenance kind {kind!r}: use start or resume")
        known = set(ProvenanceRow.__table__.c.keys()) - {"id", "run_id", "session", "kind", "recorded"}
        unknown = set(record) - known
        if unknown:
            raise ValueError(f"provenance: unknown field(s) {', '.join(sorted(unknown))}")
        p = ProvenanceRow
        session = conn.scalar(select(func.coalesce(func.max(p.session) + 1, 0)).where(p.run_id == run_id))
        values: dict[str, Any] = {
            "software_version": __version__, "python": "", "libraries": {}, "host": "", "command": "",
            "station_text": "", "protocol_name": "", "protocol_text": "", "overrides": {},
        }
        values.update({k: v for k, v in record.items() if v is not None or k not in values})
        conn.execute(insert(ProvenanceRow).values(
            run_id=run_id, session=int(session), kind=kind, recorded=_now(), **values))
        return int(session)

    def finish_run(self, run_id: int, status: str = "completed", reason: str | None = None) -> None:
        """End a run: completed, aborted, failed or interrupted (with a reason); flushes open writers."""
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(f"run status {status!r}: use completed, aborted, failed or interrupted")
        for w in list(self._writers):
            if w.error is None:
                w.flush()
        self._update(Run, run_id, Run.id, status=status, reason=reason, ended=_now())

    def reopen_run(self, run_id: int) -> None:
        """Mark a run "running" again (resuming an interrupted run)."""
        self._update(Run, run_id, Run.id, status="running", reason=None, ended=None)

    def start_step(
        self,
        run_id: int,
        index: int,
        kind: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        cycle: int | None = None,
        label: str | None = None,
        status: str = "running",
    ) -> int:
        """Record a step (``index`` unique within the run; "pending" to plan it); returns its id."""
        if status not in STEP_STATUSES:
            raise ValueError(f"step status {status!r}: use one of {', '.join(STEP_STATUSES)}")
        return self._insert(
            Step,
            run_id=run_id,
            index=index,
            kind=kind,
            parameters=dict(parameters or {}),
            started=None if status == "pending" else _now(),
            status=status,
            cycle=cycle,
            label=label,
        )

    def end_step(self, step_id: int, status: str = "completed") -> None:
        """Set a step's final status (completed, aborted, failed, interrupted, skipped) and end time."""
        if status not in STEP_STATUSES:
            raise ValueError(f"step status {status!r}: use one of {', '.join(STEP_STATUSES)}")
        values: dict[str, Any] = {"status": status}
        if status == "running":
            values["started"] = _now()
        else:
            values["ended"] = _now()
        self._update(Step, step_id, Step.id, **values)

    # --- spectra axes and map grids -------------------------------------------------------------------
    def add_axis(self, wavenumbers: Sequence[float] | np.ndarray) -> int:
        """Store a wavenumber axis (cm-1) once; the same values return the same id."""
        data = np.ascontiguousarray(wavenumbers, dtype="<f8")
        if data.ndim != 1 or data.size == 0:
            raise ValueError(f"a wavenumber axis is a non-empty 1-D array, got shape {data.shape}")
        blob = data.tobytes()
        digest = hashlib.sha256(blob).hexdigest()
        with self._engine.begin() as conn:
            found = conn.scalar(select(WavenumberAxis.id).where(WavenumberAxis.digest == digest))
            if found is not None:
                return int(found)
        try:
            return self._insert(WavenumberAxis, digest=digest, n=data.size, values=blob)
        except ValueError:  # another process stored the same axis at the same moment
            with self._engine.begin() as conn:
                return int(conn.scalar(select(WavenumberAxis.id).where(WavenumberAxis.digest == digest)))

    def add_map_grid(
        self,
        run_id: int,
        x0_um: float,
        y0_um: float,
        dx_um: float,
        dy_um: float,
        nx: int,
        ny: int,
        *,
        z_um: float = 0.0,
        step_id: int | None = None,
        label: str | None = None,
    ) -> int:
        """Record a rectangular map (origin, pitch in um; nx x ny pixels, pixel = iy * nx + ix)."""
        if nx < 1 or ny < 1:
            raise ValueError(f"a map grid needs nx, ny >= 1, got {nx} x {ny}")
        return self._insert(
            MapGridRow,
            run_id=run_id,
            step_id=step_id,
            x0_um=x0_um,
            y0_um=y0_um,
            z_um=z_um,
            dx_um=dx_um,
            dy_um=dy_um,
            nx=nx,
            ny=ny,
            label=label,
        )

    # --- events, progress, control --------------------------------------------------------------------
    def log_event(self, run_id: int | None, level: str, message: str, step_id: int | None = None) -> int:
        """Write one log line now (synchronous); level debug/info/warning/error."""
        if level not in EVENT_LEVELS:
            raise ValueError(f"event level {level!r}: use one of {', '.join(EVENT_LEVELS)}")
        return self._insert(Event, run_id=run_id, step_id=step_id, time=_now(), level=level, message=message)

    def set_progress(self, run_id: int, step_label: str, fraction: float, eta_s: float | None = None) -> None:
        """Where the run is: current step text, fraction done (0..1), estimated time left (s) if known."""
        values = {
            "step_label": step_label,
            "fraction": min(max(float(fraction), 0.0), 1.0),
            "eta_s": None if eta_s is None else float(eta_s),
            "updated": _now(),
        }
        with self._engine.begin() as conn:
            follow.notify(conn, [run_id])
            if conn.execute(
                update(RunProgress).where(RunProgress.run_id == run_id).values(**values)
            ).rowcount:
                return
            conn.execute(insert(RunProgress).values(run_id=run_id, **values))

    def request_control(self, run_id: int, action: str, requested_by: str | None = None) -> int:
        """Ask a running engine to pause, resume or abort; returns the request id."""
        if action not in CONTROL_ACTIONS:
            raise UserError(f"control action {action!r}: use one of {', '.join(CONTROL_ACTIONS)}")
        with self._engine.begin() as conn:
            if conn.scalar(select(func.count()).select_from(Run).where(Run.id == run_id)) == 0:
                raise UserError(f"{self.location.shown}: no run with id {run_id}")
        return self._insert(
            Control, run_id=run_id, action=action, requested_by=requested_by, requested=_now()
        )

    def acknowledge_control(self, control_id: int, note: str | None = None) -> None:
        """The engine has acted on (or refused, see ``note``) a control request."""
        self._update(Control, control_id, Control.id, acknowledged=_now(), note=note)

    # --- derived results ------------------------------------------------------------------------------
    def put_derived(self, run_id: int, kind: str, params: Mapping[str, Any] | None, value: Any) -> int:
        """Store (or replace) a JSON-able analysis result for (run, kind, params); returns its id."""
        key = params_hash(params)
        values = {
            "params": dict(params or {}),
            "value": value,
            "software_version": __version__,
            "created": _now(),
        }
        with self._engine.begin() as conn:
            where = (
                (DerivedResultRow.run_id == run_id)
                & (DerivedResultRow.kind == kind)
                & (DerivedResultRow.params_hash == key)
            )
            follow.notify(conn, [run_id])
            found = conn.scalar(select(DerivedResultRow.id).where(where))
            if found is not None:
                conn.execute(update(DerivedResultRow).where(DerivedResultRow.id == found).values(**values))
                return int(found)
            ins = insert(DerivedResultRow).values(run_id=run_id, kind=kind, params_hash=key, **values)
            return int(conn.execute(ins).inserted_primary_key[0])

    def clear_derived(self, run_id: int, kind: str | None = None) -> int:
        """Forget derived results of a run (all, or one kind) so they are recomputed; returns how many."""
        stmt = delete(DerivedResultRow).where(DerivedResultRow.run_id == run_id)
        if kind is not None:
            stmt = stmt.where(DerivedResultRow.kind == kind)
        with self._engine.begin() as conn:
            return int(conn.execute(stmt).rowcount)


def _remove_sqlite_files(loc: location.Location) -> None:
    """Remove a database file we created moments ago and could not initialise."""
    assert loc.path is not None
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.remove(f"{loc.path}{suffix}")
        except FileNotFoundError:
            pass
