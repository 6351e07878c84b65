"""The typed tables of the run store (portable: SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

RUN_STATUSES = ("running", "completed", "aborted", "failed", "interrupted")
STEP_STATUSES = ("pending", "running", "completed", "aborted", "failed", "interrupted", "skipped")
CONTROL_ACTIONS = ("pause", "resume", "abort")
EVENT_LEVELS = ("debug", "info", "warning", "error")

# Row ids of the data tables may pass 2**31 on a lab server; SQLite needs plain INTEGER to alias the rowid.
BigId = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps naive text, so we normalise)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware time")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    """Declarative base; ``Base.metadata`` is the schema Alembic's head must equal."""


class Device(Base):
    """A chip with one nanowire battery: materials, dimensions (nm, um) and contacts (pads)."""

    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chip: Mapped[str] = mapped_column(String(200))
    wire: Mapped[str] = mapped_column(String(200), default="")
    materials: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dimensions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    contacts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Run(Base):
    """One execution of a protocol on a device."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), index=True)
    protocol_name: Mapped[str] = mapped_column(String(200))
    protocol_text: Mapped[str] = mapped_column(Text, default="")
    station: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    software_version: Mapped[str] = mapped_column(String(64))
    operator: Mapped[str | None] = mapped_column(String(200))
    started: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text)


class RunProgress(Base):
    """Where a running run is: current step text, fraction done (0..1) and estimated time left (s)."""

    __tablename__ = "run_progress"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    step_label: Mapped[str] = mapped_column(String(400), default="")
    fraction: Mapped[float] = mapped_column(Double, default=0.0)
    eta_s: Mapped[float | None] = mapped_column(Double)
    updated: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Step(Base):
    """One measurement step of a run (charge, rest, I-V, map, ...)."""

    __tablename__ = "steps"
    __table_args__ = (UniqueConstraint("run_id", "index", name="uq_steps_run_index"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    cycle: Mapped[int | None] = mapped_column(Integer)
    label: Mapped[str | None] = mapped_column(String(200))


class CyclingBlock(Base):
    """A block of consecutive cycling points of one step, stored column-wise as float64 BLOBs.

    t (s, engine clock), E (V), I (A), Q (C). The writer stores one block per step per flush: a row per
    point would cap both writes (~1 us/row in sqlite3) and loads (~0.8 us/row to rebuild Python tuples),
    while blocks load at memory speed. ``id`` order is append order, the cursor of live followers.
    """

    __tablename__ = "cycling_blocks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"), index=True)
    n: Mapped[int] = mapped_column(Integer)
    t_first_s: Mapped[float] = mapped_column(Double)
    t_last_s: Mapped[float] = mapped_column(Double)
    t_s: Mapped[bytes] = mapped_column(LargeBinary)
    e_v: Mapped[bytes] = mapped_column(LargeBinary)
    i_a: Mapped[bytes] = mapped_column(LargeBinary)
    q_c: Mapped[bytes] = mapped_column(LargeBinary)


class IVPoint(Base):
    """Source/drain I-V: V (V), I (A), sweep direction ("up"/"down"), contact pair ("S-D")."""

    __tablename__ = "iv_points"
    __table_args__ = (
        Index("ix_iv_points_run_id", "run_id"),
        Index("ix_iv_points_step_id", "step_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"))
    v_v: Mapped[float] = mapped_column(Double)
    i_a: Mapped[float] = mapped_column(Double)
    direction: Mapped[str] = mapped_column(String(8))
    pair: Mapped[str] = mapped_column(String(32))
    t_s: Mapped[float | None] = mapped_column(Double)


class WavenumberAxis(Base):
    """A wavenumber axis (cm-1, float64 BLOB) shared by many spectra; ``digest`` deduplicates."""

    __tablename__ = "wavenumber_axes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    n: Mapped[int] = mapped_column(Integer)
    values: Mapped[bytes] = mapped_column(LargeBinary)


class MapGridRow(Base):
    """A rectangular Raman map: origin and pitch in um, nx x ny pixels (pixel = iy * nx + ix)."""

    __tablename__ = "map_grids"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("steps.id"))
    x0_um: Mapped[float] = mapped_column(Double)
    y0_um: Mapped[float] = mapped_column(Double)
    z_um: Mapped[float] = mapped_column(Double)
    dx_um: Mapped[float] = mapped_column(Double)
    dy_um: Mapped[float] = mapped_column(Double)
    nx: Mapped[int] = mapped_column(Integer)
    ny: Mapped[int] = mapped_column(Integer)
    label: Mapped[str | None] = mapped_column(String(200))


class SpectrumRow(Base):
    """One Raman spectrum: stage position (um), exposure (s), counts (float32 BLOB) on a shared axis."""

    __tablename__ = "spectra"
    __table_args__ = (
        Index("ix_spectra_run_id", "run_id"),
        Index("ix_spectra_step_id", "step_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"))
    x_um: Mapped[float] = mapped_column(Double)
    y_um: Mapped[float] = mapped_column(Double)
    z_um: Mapped[float] = mapped_column(Double)
    exposure_s: Mapped[float] = mapped_column(Double)
    counts: Mapped[bytes] = mapped_column(LargeBinary)
    axis_id: Mapped[int] = mapped_column(ForeignKey("wavenumber_axes.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("map_grids.id"))
    pixel: Mapped[int | None] = mapped_column(Integer)
    t_s: Mapped[float | None] = mapped_column(Double)


class DerivedResultRow(Base):
    """A recomputable analysis result (JSON), keyed by run, kind and a hash of its parameters."""

    __tablename__ = "derived_results"
    __table_args__ = (UniqueConstraint("run_id", "kind", "params_hash", name="uq_derived_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    kind: Mapped[str] = mapped_column(String(64))
    params_hash: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    software_version: Mapped[str] = mapped_column(String(64))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Event(Base):
    """The run's log: level (debug/info/warning/error), message, optional step."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("steps.id"))
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    level: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)


class Control(Base):
    """A pause/resume/abort request for a running run; the engine acknowledges it when acted upon."""

    __tablename__ = "control"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str | None] = mapped_column(String(200))
    requested: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    acknowledged: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)


class Lease(Base):
    """Who drives a station or a run: one row per key (``station:...`` or ``run:<id>``), kept after release.

    ``holder`` (a random id per engine process) is NULL when the lease is free; ``token`` (the fencing
    token) grows by one at every take-over and never goes back; ``heartbeat`` is refreshed about every
    second by the holder; ``state`` is "running" or "paused" (shown while the heartbeat is fresh).
    """

    __tablename__ = "leases"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    station: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[int | None] = mapped_column(Integer, index=True)
    holder: Mapped[str | None] = mapped_column(String(64))
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    heartbeat: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    token: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str | None] = mapped_column(String(16))


class ProvenanceRow(Base):
    """Where a run's data came from, one row per session (the start, then each resume), never overwritten.

    ``kind`` is "start" or "resume"; ``session`` counts them from 0. The software (version, git commit and
    whether the checkout had changes, for a source install; Python and key library versions), the host,
    process and command line, the operator, the station file (path, full text as read, the chosen
    ``--device``), the protocol (name, path, full text as read) and its ``--set`` overrides as given.
    """

    __tablename__ = "provenance"
    __table_args__ = (UniqueConstraint("run_id", "session", name="uq_provenance_run_session"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    session: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    recorded: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    software_version: Mapped[str] = mapped_column(String(64))
    git_commit: Mapped[str | None] = mapped_column(String(64))
    git_dirty: Mapped[bool | None] = mapped_column(Boolean)
    python: Mapped[str] = mapped_column(String(200))
    libraries: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    command: Mapped[str] = mapped_column(Text, default="")
    operator: Mapped[str | None] = mapped_column(String(200))
    station_path: Mapped[str | None] = mapped_column(Text)
    station_text: Mapped[str] = mapped_column(Text, default="")
    device: Mapped[str | None] = mapped_column(String(200))
    protocol_name: Mapped[str] = mapped_column(String(200))
    protocol_path: Mapped[str | None] = mapped_column(Text)
    protocol_text: Mapped[str] = mapped_column(Text, default="")
    overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
