"""``nanocell db copy``: copy whole runs between stores (a station's SQLite file, the lab's PostgreSQL).

Everything of a run is copied: the run, its device, steps (every attempt), progress, cycling blocks, I-V
points, map grids, spectra with their wavenumber axes, derived results, events, control requests and the
provenance of each session. Leases are not: they coordinate live engines of one database, and a copied run
has none.

Ids are remapped (the destination numbers rows itself) and every reference follows: steps, grids, axes
(shared by digest), the device (reused when an identical one is there). Rows keep their order.

The run's uuid is its identity: the copy keeps it, so a second copy of the same run finds it and copies
nothing (same content) or refuses (the run changed since, e.g. resumed: nothing is overwritten). Each run
is copied in one transaction: an interrupted copy leaves nothing behind, and the next one starts afresh.
A run an engine still drives (running, paused or stale) is refused; every run is checked before any copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, insert, select

from nanocell_daq.errors import UserError
from nanocell_daq.storage.leases import liveness
from nanocell_daq.storage.schema import (
    Control,
    CyclingBlock,
    DerivedResultRow,
    Device,
    Event,
    IVPoint,
    MapGridRow,
    ProvenanceRow,
    Run,
    RunProgress,
    SpectrumRow,
    Step,
    WavenumberAxis,
)

CHUNK = 2000
"""Rows read and written per statement (spectra of 1024 float32 are 4 kB each)."""

DATA_TABLES = (CyclingBlock, IVPoint, SpectrumRow, Event, DerivedResultRow, Control, ProvenanceRow)
"""Tables copied row by row after the run, its steps and grids; counted in the content fingerprint."""


@dataclass
class Copied:
    """What happened to one run: ``copied`` (new in the destination) or ``present`` (already there)."""

    source_id: int
    uuid: str
    dest_id: int
    outcome: str
    rows: dict[str, int] = field(default_factory=dict)

    def line(self, source: str, dest: str) -> str:
        if self.outcome == "present":
            return (f"run {self.source_id} ({self.uuid}): already in {dest} as run {self.dest_id} "
                    "(same content); nothing copied")
        counts = ", ".join(f"{n} {name}" for name, n in self.rows.items() if n)
        return f"run {self.source_id} ({self.uuid}) of {source} -> run {self.dest_id} of {dest}: {counts}"


def _cols(table: Any, *, without: Sequence[str] = ("id",)) -> list[Any]:
    return [c for c in table.__table__.c if c.name not in without]


def fingerprint(conn: Connection, run_id: int) -> dict[str, Any]:
    """What a run holds (status and row counts per table): equal in source and destination after a copy."""
    out: dict[str, Any] = {"status": conn.scalar(select(Run.status).where(Run.id == run_id))}
    for table in (Step, MapGridRow, *DATA_TABLES):
        out[table.__tablename__] = conn.scalar(
            select(func.count()).select_from(table).where(table.run_id == run_id))
    out["points"] = conn.scalar(select(func.coalesce(func.sum(CyclingBlock.n), 0))
                                .where(CyclingBlock.run_id == run_id))
    return out


def _resolve_runs(store: Any, runs: Iterable[str]) -> list[Any]:
    found = []
    for text in runs:
        key: int | str = int(text) if text.strip().isdigit() else text.strip()
        try:
            found.append(store.run(key))
        except KeyError:
            raise UserError(f"{store.location.shown}: no run {text!r}") from None
    return found


def copy_runs(source: Any, dest: Any, runs: Iterable[str]) -> list[Copied]:
    """Copy ``runs`` (ids or uuids) from store ``source`` to store ``dest``; see the module."""
    infos = _resolve_runs(source, runs)
    if source.location.url == dest.location.url:
        raise UserError(f"{source.location.shown}: the source and the destination are the same database")
    live = liveness(source, infos)
    for info in infos:
        lv = live[info.id]
        if lv.state in ("running", "paused", "stale"):
            who = f" (engine pid {lv.engine_pid} on {lv.host})" if lv.engine_pid is not None else ""
            raise UserError(
                f"{source.location.shown}: run {info.id} is still {lv.state}{who}; copy it once it has ended "
                "(nothing was copied)"
            )
    plan: list[tuple[Any, int | None]] = []
    with source._engine.connect() as src, dest._engine.connect() as dst:
        for info in infos:
            there = dst.scalar(select(Run.id).where(Run.uuid == info.uuid))
            if there is not None and fingerprint(src, info.id) != fingerprint(dst, there):
                raise UserError(
                    f"{dest.location.shown}: run {there} has the uuid of run {info.id} of "
                    f"{source.location.shown} but other content (changed since it was copied, e.g. resumed); "
                    "nothing was copied or overwritten"
                )
            plan.append((info, there))
    done = []
    for info, there in plan:
        if there is not None:
            done.append(Copied(info.id, info.uuid, int(there), "present"))
            continue
        with source._engine.connect() as src, dest._engine.begin() as dst:
            done.append(_copy_one(src, dst, info.id))
    return done


def _copy_one(src: Connection, dst: Connection, run_id: int) -> Copied:
    run = src.execute(select(*_cols(Run, without=())).where(Run.id == run_id)).one()._asdict()
    rows: dict[str, int] = {}
    device_id = run["device_id"]
    if device_id is not None:
        device_id = _device(src, dst, device_id)
    values = {k: v for k, v in run.items() if k != "id"} | {"device_id": device_id}
    new_run = int(dst.execute(insert(Run).values(**values)).inserted_primary_key[0])
    steps = _copy_rows(src, dst, Step, run_id, new_run, {})
    grids = _copy_rows(src, dst, MapGridRow, run_id, new_run, {"step_id": steps})
    rows.update(steps=len(steps), map_grids=len(grids))
    progress = src.execute(select(*_cols(RunProgress, without=())).where(RunProgress.run_id == run_id)).all()
    for p in progress:
        dst.execute(insert(RunProgress).values(**(p._asdict() | {"run_id": new_run})))
    axes = _axes(src, dst, run_id)
    refs: dict[str, dict[int, int]] = {"step_id": steps, "grid_id": grids, "axis_id": axes}
    for table in DATA_TABLES:
        rows[table.__tablename__] = len(_copy_rows(src, dst, table, run_id, new_run, refs, keep=False))
    rows["cycling points"] = int(fingerprint(dst, new_run)["points"])
    return Copied(run_id, run["uuid"], new_run, "copied", rows)


def _copy_rows(src: Connection, dst: Connection, table: Any, run_id: int, new_run: int,
               refs: dict[str, dict[int, int]], keep: bool = True) -> dict[int, int]:
    """Copy the rows of ``table`` of the run in id order, remapping ``refs``; old id -> new id (if
    ``keep``, else only the count matters)."""
    ids: dict[int, int] = {}
    cols = _cols(table, without=())
    last = None
    while True:
        stmt = select(*cols).where(table.run_id == run_id)
        if last is not None:
            stmt = stmt.where(table.id > last)
        batch = src.execute(stmt.order_by(table.id).limit(CHUNK)).all()
        if not batch:
            return ids
        last = batch[-1].id
        values = []
        for r in batch:
            row = r._asdict()
            old = row.pop("id")
            row["run_id"] = new_run
            for name, mapping in refs.items():
                if row.get(name) is not None and name in row:
                    row[name] = mapping[row[name]]
            values.append((old, row))
        if keep:  # one at a time: the new ids are needed
            for old, row in values:
                ids[old] = int(dst.execute(insert(table).values(**row)).inserted_primary_key[0])
        else:
            dst.execute(insert(table), [row for _, row in values])
            ids.update((old, 0) for old, _ in values)


def _device(src: Connection, dst: Connection, device_id: int) -> int:
    """The destination's id of an identical device (same chip, wire, details and creation time), or a copy."""
    dev = src.execute(select(*_cols(Device)).where(Device.id == device_id)).one()._asdict()
    for cand in dst.execute(select(*_cols(Device, without=())).where(
            Device.chip == dev["chip"], Device.wire == dev["wire"])).all():
        c = cand._asdict()
        if {k: c[k] for k in dev} == dev:
            return int(c["id"])
    return int(dst.execute(insert(Device).values(**dev)).inserted_primary_key[0])


def _axes(src: Connection, dst: Connection, run_id: int) -> dict[int, int]:
    """Source axis id -> destination axis id for the axes the run's spectra use (shared by digest)."""
    used = select(SpectrumRow.axis_id).where(SpectrumRow.run_id == run_id).distinct()
    out = {}
    stmt = select(*_cols(WavenumberAxis, without=())).where(WavenumberAxis.id.in_(used))
    for ax in src.execute(stmt).all():
        found = dst.scalar(select(WavenumberAxis.id).where(WavenumberAxis.digest == ax.digest))
        if found is None:
            values = {k: v for k, v in ax._asdict().items() if k != "id"}
            found = dst.execute(insert(WavenumberAxis).values(**values)).inserted_primary_key[0]
        out[int(ax.id)] = int(found)
    return out
