"""The run store: every run, step and data point goes through here (SQLAlchemy 2.x, SQLite WAL by default).

Open or create a store with a plain path (SQLite) or a PostgreSQL URL (``postgresql://`` means psycopg 3,
``pip install "nanocell-daq[postgres]"``; the password from the URL, ``PGPASSWORD`` or a pgpass file, and
never shown: ``store.location.shown`` is the URL with ``***``)::

    from nanocell_daq.storage import Store
    store = Store.open("runs.db")            # create=True: a new file is created and migrated to head
    store = Store.open("runs.db", create=False)   # UserError if absent
    store = Store.open("postgresql://nanocell@dbserver/nanocell_runs")

JSON columns (station snapshot, step parameters, device details, derived results) hold strict JSON: NaN and
infinite numbers are stored as null ("not given"), so SQLite's json_extract and PostgreSQL's JSON read them.
Arrays are binary (BLOB / bytea).

Following runs live (``storage.follow``; LISTEN/NOTIFY on PostgreSQL, polling on SQLite)::

    with store.follower(run_ids={3}) as f:
        changed = f.wait(timeout=5.0)        # run ids with news, {follow.ALL} when polling, set() if none
        f.due()                              # non-blocking, for a GUI timer

Copying whole runs between stores (``storage.copy``, ``nanocell db copy``)::

    copy_runs(source_store, dest_store, ["12", "<uuid>"]) -> list[Copied]   # ids remapped, idempotent

Bad input (missing folder, corrupt file, not our database, bad URL, schema older/newer than the code) raises
``nanocell_daq.errors.UserError`` naming the path; nothing is created or overwritten. An older schema says
"run `nanocell db upgrade --db PATH`"; ``upgrade_database(url_or_path)`` does that programmatically.

Metadata (synchronous, committed on return; any thread)::

    dev = store.add_device(chip, wire="", materials=None, dimensions=None, contacts=None, extra=None) -> int
    run = store.create_run(protocol_name, protocol_text="", *, device_id=None, station=None, operator=None,
                           software_version=None, run_uuid=None, provenance=None) -> int   # "running"
        # provenance=: the first session's provenance, in the same transaction (nanocell_daq.provenance)
    store.add_provenance(run_id, record, kind="resume") -> session   # appended, never overwritten
    store.finish_run(run_id, status="completed", reason=None)   # completed|aborted|failed|interrupted
    store.reopen_run(run_id)                                     # back to "running" (resume)
    step = store.start_step(run_id, index, kind, parameters=None, *, cycle=None, label=None,
                            status="running") -> int
    store.end_step(step_id, status="completed")
    axis = store.add_axis(wavenumbers_cm1) -> int                # shared, deduplicated wavenumber axis
    grid = store.add_map_grid(run_id, x0_um, y0_um, dx_um, dy_um, nx, ny, *, z_um=0.0, step_id=None,
                              label=None) -> int
    store.log_event(run_id, level, message, step_id=None) -> int  # level: debug|info|warning|error
    store.set_progress(run_id, step_label, fraction, eta_s)       # fraction 0..1, eta_s s or None
    store.put_derived(run_id, kind, params, value) -> int        # JSON value, key (run, kind, params)
    store.get_derived(run_id, kind, params) -> value | None ; store.clear_derived(run_id, kind=None)

Control (a GUI/CLI asks, the engine polls between points)::

    store.request_control(run_id, action, requested_by=None) -> int   # action: pause|resume|abort
    store.pending_controls(run_id) -> list[ControlRequest]            # oldest first, not yet acknowledged
    store.acknowledge_control(control_id, note=None)

Data points (the engine's hot path): a ``Writer`` queues rows in memory and a background thread commits them
in batches at least every ``flush_interval`` s; appending never waits on disk. Errors of the writer thread
are logged and raised (``StoreWriteError``) by the next append, ``flush()`` or ``close()``::

    w = store.writer(flush_interval=0.5)
    w.cycling_point(step_id, t, E, I, Q)          # t s (engine clock), E V, I A, Q C
    w.iv_point(step_id, V, I, direction, pair, t=None)   # direction "up"|"down"; pair e.g. "S-D"
    w.spectrum(step_id, x_um, y_um, z_um, exposure_s, counts, axis_id, grid_id=None, pixel=None, t=None)
    w.event(run_id, level, message, step_id=None)
    w.flush()    # blocks until everything appended so far is committed
    w.close()    # flush and stop the thread (also a context manager)

Reads (also from other processes while a run writes: the database is the bus)::

    store.runs() -> list[RunSummary]       # id, uuid, started, ended, status, device, protocol_name, n_steps
    store.run(run_id_or_uuid) -> RunInfo   # + protocol_text, station, software_version, operator, reason
    store.steps(run_id) -> list[StepInfo]
    store.provenance(run_id=None, *, texts=True) -> list[ProvenanceInfo]   # per session: software, git,
        # host, operator, station path/text/device, protocol path/text, --set overrides ([] for old runs)
    store.cycling(run_id, step_id=None) -> CyclingData   # numpy: step_id, t, E, I, Q; .frame(); .last_id
    store.cycling_since(run_id, after_id) -> CyclingData  # rows with id > after_id; new .last_id
    store.iv(run_id, step_id=None) / store.iv_since(run_id, after_id) -> IVData   # id, step_id, V, I, ...
    store.spectra(run_id, step_id=None, grid_id=None, after_id=0) -> SpectraData
        # counts (n, m) float32, axis (m,) cm-1, x_um/y_um/z_um, exposure_s, grid_id, pixel, .last_id
    store.map_grids(run_id) -> list[MapGrid] ; store.axis(axis_id) -> np.ndarray
    store.events(run_id=None, after_id=0) -> list[EventInfo]
    store.progress(run_id) -> Progress | None ; store.device(device_id) -> DeviceInfo
    store.controls(run_id) -> list[ControlRequest] ; store.derived(run_id, kind=None) -> list[DerivedResult]
    store.close()

Cycling points are stored column-wise in blocks (one row of float64 BLOBs per step per flush, table
``cycling_blocks``): rows per point would cap loads at ~1 M points/s in sqlite3, blocks load 1 M points in
a few ms. Their ``.last_id`` cursor is a block id; I-V points, spectra and events are one row each.

Times of day are timezone-aware UTC ``datetime``; data-point times ``t`` are seconds of the engine clock.
"""

from __future__ import annotations

from nanocell_daq.storage import queue as queue  # registers the queue_entries table with the schema
from nanocell_daq.storage.migrate import upgrade_database
from nanocell_daq.storage.records import (
    ControlRequest,
    CyclingData,
    DerivedResult,
    DeviceInfo,
    EventInfo,
    IVData,
    MapGrid,
    Progress,
    ProvenanceInfo,
    RunInfo,
    RunSummary,
    SpectraData,
    StepInfo,
)
from nanocell_daq.storage.store import Store
from nanocell_daq.storage.writer import StoreWriteError, Writer

__all__ = [
    "ControlRequest",
    "CyclingData",
    "DerivedResult",
    "DeviceInfo",
    "EventInfo",
    "IVData",
    "MapGrid",
    "Progress",
    "ProvenanceInfo",
    "RunInfo",
    "RunSummary",
    "SpectraData",
    "StepInfo",
    "Store",
    "StoreWriteError",
    "Writer",
    "upgrade_database",
]
