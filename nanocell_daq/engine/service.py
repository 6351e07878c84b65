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
from nanocell_daq.errors import UserError
from nanocell_daq.notify.events import crashed_message, run_messages


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
    notifier: Any = None,
    **engine_kw: Any,
) -> RunResult:
    """Take the station's lease (LeaseHeld, a UserError naming the holder, if another live engine has it),
    open the plan's station and run it into ``store`` (instruments closed and the lease freed afterwards).

    ``supervise``: start the supervisor (``engine.supervisor``) after the lease and before any instrument is
    opened, so that the station is made safe and the run marked interrupted if this process dies.
    ``notifier`` (``nanocell_daq.notify.Notifier``): told how the run ended (finished, failed, interrupted,
    aborted, a limit tripped, an end not verified safe); the supervisor gets its URLs for a death.
    ``engine_kw["on_run_created"]`` is called with the run id once the run exists (after the supervisor).
    """
    told = engine_kw.pop("on_run_created", None)
    created: list[int] = []
    urls = list(getattr(notifier, "urls", []) or [])
    lease = EngineLease.for_view(store, plan.station)
    lease.acquire(db_label=str(engine_kw.get("db_label") or "DB"))
    try:
        guard = supervised(store, plan.station, notify_urls=urls) if supervise else contextlib.nullcontext()
        with guard as watch:
            opened = open_station(plan.station)
            try:

                def run_created(run_id: int) -> None:
                    created.append(run_id)
                    if watch is not None:
                        watch.run_created(run_id)
                    if told is not None:
                        told(run_id)

                engine = Engine(
                    plan, opened, store, operator=operator, on_progress=on_progress, on_log=on_log,
                    lease=lease, on_run_created=run_created, **engine_kw,
                )
                result = engine.run()
            except Exception as exc:
                if notifier is not None and created and not isinstance(exc, UserError):
                    notifier.notify(*crashed_message(created[-1], plan.station.config.name,
                                                     plan.station.config.device_name, exc))
                raise
            finally:
                opened.close()
    finally:
        lease.release()
    if notifier is not None:
        for message in run_messages(result, plan.station.config.name, plan.station.config.device_name):
            notifier.notify(*message)
    return result
