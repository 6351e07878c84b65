"""One call from files to a finished run: load the protocol, plan against the station, open it, run."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nanocell_daq.engine.lease import EngineLease
from nanocell_daq.engine.plan import Plan, expand
from nanocell_daq.engine.protocol import load_protocol, shipped_protocols
from nanocell_daq.engine.runner import Engine, ProgressCallback, RunResult
from nanocell_daq.engine.station_io import open_station
from nanocell_daq.engine.stationview import StationView
from nanocell_daq.engine.supervisor import supervised


def protocol_path(name_or_path: str | Path) -> Path:
    """A protocol file path, or the path of a shipped protocol given by name (``si_seed``)."""
    p = Path(name_or_path)
    if p.exists() or p.suffix:
        return p
    return shipped_protocols().get(str(name_or_path), p)


def make_plan(
    protocol: str | Path,
    station: str | Path,
    overrides: dict[str, Any] | None = None,
    device: str | None = None,
) -> Plan:
    """Parse and validate: UserError (file:line: field) before any instrument is touched. ``device``: the
    chip's device to run on (a station file with ``devices:``)."""
    view = StationView.from_file(station, device)  # the station file's validation (file:line: field) first
    return expand(load_protocol(protocol_path(protocol), overrides), view)


def run_plan(
    plan: Plan,
    store: Any,
    *,
    operator: str | None = None,
    on_progress: ProgressCallback | None = None,
    on_log: Callable[[str, str], None] | None = None,
    supervise: bool = False,
    **engine_kw: Any,
) -> RunResult:
    """Take the station's lease (LeaseHeld, a UserError naming the holder, if another live engine has it),
    open the plan's station and run it into ``store`` (instruments closed and the lease freed afterwards).

    ``supervise``: start the supervisor (``engine.supervisor``) after the lease and before any instrument is
    opened, so that the station is made safe and the run marked interrupted if this process dies.
    """
    lease = EngineLease.for_view(store, plan.station)
    lease.acquire(db_label=str(engine_kw.get("db_label") or "DB"))
    try:
        with supervised(store, plan.station) if supervise else contextlib.nullcontext() as watch:
            opened = open_station(plan.station)
            try:
                if watch is not None:
                    engine_kw["on_run_created"] = watch.run_created
                engine = Engine(
                    plan, opened, store, operator=operator, on_progress=on_progress, on_log=on_log,
                    lease=lease, **engine_kw,
                )
                return engine.run()
            finally:
                opened.close()
    finally:
        lease.release()
