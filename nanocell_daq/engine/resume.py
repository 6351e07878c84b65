"""Resume a run that was killed or aborted: mark the interrupted step, re-check the cell, run the rest.

An interrupted galvanostatic step continues for what remains: its capacity cut-off minus the charge already
passed by every earlier attempt (their stored points, including those recovered from the potentiostat after
the engine died, plus the upper bound of any charge passed without data), and its time limit minus the time
all those attempts spent. Opening the station first recovers what the instrument did on its own
(:func:`nanocell_daq.engine.recovery.record_recovered`) and ingests a batch the store could not take
(:func:`nanocell_daq.storage.spill.ingest_spill`); only then is what remains computed.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from nanocell_daq.engine.lease import EngineLease
from nanocell_daq.engine.plan import Plan, PlanItem, expand
from nanocell_daq.engine.protocol import StepSpec, Where, parse_protocol
from nanocell_daq.engine.recovery import record_recovered, unrecorded_charge_C
from nanocell_daq.engine.runner import Engine, ProgressCallback, RunResult
from nanocell_daq.engine.station_io import open_station, recovery_notes
from nanocell_daq.engine.stationview import StationView
from nanocell_daq.engine.supervisor import supervised
from nanocell_daq.errors import UserError
from nanocell_daq.notify.events import run_messages
from nanocell_daq.storage.spill import ingest_spill
from procedures import GalvanostaticStep, OCVRest

RECHECK_S = 30.0
"""OCV re-check before the rest of a resumed run (engine s)."""

_DONE_FRACTION = 0.01
"""A galvanostatic step with less than this fraction of its capacity left counts as done."""


def _attempts(store: Any, run_id: int) -> dict[int, list[Any]]:
    by_index: dict[int, list[Any]] = {}
    for s in store.steps(run_id):
        idx = (s.parameters or {}).get("plan_index")
        if idx is not None and idx >= 0:
            by_index.setdefault(int(idx), []).append(s)
    return by_index


def _galvanostatic_rest(
    item: PlanItem, rows: list[Any], store: Any, run_id: int, nominal_Ah: float | None
) -> dict[str, Any] | None:
    """Parameter overrides for what remains of an interrupted galvanostatic step; None when it is done."""
    step = item.step
    assert isinstance(step, GalvanostaticStep)
    q_C, spent_s = 0.0, 0.0
    for row in rows:  # every attempt: the first, each resumed one
        data = store.cycling(run_id, step_id=row.id)
        if len(data.t):
            q_C += abs(float(data.Q[-1]))
            spent_s += float(data.t[-1] - data.t[0])
        unrecorded = unrecorded_charge_C(store, run_id, row.id)
        q_C += unrecorded
        spent_s += unrecorded / abs(step.current_A)
    limit_Ah = step.capacity_limit_Ah(nominal_Ah)
    over: dict[str, Any] = {"max_time_s": max(step.max_time_s - spent_s, step.interval_s)}
    if math.isfinite(limit_Ah):
        left = limit_Ah - q_C / 3600.0
        if left <= _DONE_FRACTION * limit_Ah:
            return None
        over.update(capacity_Ah=left, capacity_fraction=0.0)
    return over


def prepare_resume(
    store: Any, run_id: int, station: str | Path | None = None, db_label: str | None = None
) -> tuple[Plan, dict[str, Any]]:
    """Rebuild the run's plan from its stored protocol and station; return it with the Engine arguments.

    Takes the station's and the run's leases (``kw["lease"]``) before anything is written: LeaseHeld while
    another engine's heartbeat is fresh (a stopped engine that wakes after this finds its lease gone)."""
    plan = plan_for_resume(store, run_id, station)
    lease = take_lease(store, run_id, plan, db_label)
    try:
        return plan, {**resume_arguments(store, run_id, plan), "lease": lease}
    except BaseException:
        lease.release()
        raise


def take_lease(store: Any, run_id: int, plan: Plan, db_label: str | None = None) -> EngineLease:
    """The station's and the run's leases for resuming ``run_id`` (LeaseHeld while another engine lives)."""
    lease = EngineLease.for_view(store, plan.station)
    lease.acquire(run_id, db_label or "DB")
    return lease


def plan_for_resume(
    store: Any, run_id: int, station: str | Path | None = None, device: str | None = None
) -> Plan:
    """The run's plan from its stored protocol and station; UserError when the run cannot be resumed.

    ``device``: the chip's device in a station file with ``devices:`` (default: the one the run was on; a
    different one is refused)."""
    info = store.run(run_id)
    if info.status == "completed":
        raise UserError(f"run {run_id} is already completed: nothing to resume")
    stored = ((info.station or {}).get("config") or {}).get("device") or {}
    ran_on = stored.get("device") if isinstance(stored, dict) else None
    if device is not None and ran_on is not None and device != ran_on:
        raise UserError(f"run {run_id} ran on device {ran_on!r}, not {device!r}: resume it on {ran_on!r}")
    if station is not None:
        view = StationView.from_file(station, device or ran_on)
    else:
        snap = info.station or {}
        if "config" not in snap:
            raise UserError(f"run {run_id}: no station snapshot stored; give --station FILE")
        view = StationView.from_text(
            yaml.safe_dump(snap["config"], sort_keys=False), f"run{run_id}-station-snapshot.yaml"
        )
    proto = parse_protocol(info.protocol_text, f"run {run_id} protocol")
    return expand(proto, view)


def resume_arguments(store: Any, run_id: int, plan: Plan) -> dict[str, Any]:
    """The Engine arguments (but the lease) that continue ``plan`` from what the store holds (steps done,
    what remains of an interrupted one, the time axis); marks steps left running as interrupted."""
    view = plan.station
    attempts = _attempts(store, run_id)
    skip: set[int] = set()
    overrides: dict[int, dict[str, Any]] = {}
    for item in plan.items:
        rows = attempts.get(item.index, [])
        for row in rows:
            if row.status == "running":
                store.end_step(row.id, "interrupted")
        if any(r.status == "completed" for r in rows):
            skip.add(item.index)
        elif rows and isinstance(item.step, GalvanostaticStep):
            over = _galvanostatic_rest(item, rows, store, run_id, view.nominal_capacity_Ah)
            if over is None:
                skip.add(item.index)
            else:
                overrides[item.index] = over
    cyc = store.cycling(run_id)
    clock_start = float(np.max(cyc.t)) if len(cyc.t) else 0.0
    prelude = []
    recheck_wiring = view.cycling_wiring("galvanostat")
    if view.has_role("galvanostat") and recheck_wiring in view.wirings and len(skip) < len(plan.items):
        step = OCVRest.from_params({"time_s": RECHECK_S, "interval_s": 1.0})
        spec = StepSpec("rest", {}, "resume: OCV re-check", None, Where(f"run {run_id}"))
        prelude.append(
            PlanItem(
                index=-1,
                kind="rest",
                label="resume: OCV re-check",
                cycle=None,
                step=step,
                spec=spec,
                on_fault="stop",
                group=-1,
                estimate_s=RECHECK_S,
                roles={"galvanostat"},
                wirings=[recheck_wiring],
            )
        )
    return {
        "run_id": run_id,
        "skip": skip,
        "overrides": overrides,
        "prelude": prelude,
        "clock_start": clock_start,
    }


def resume_run(
    store: Any,
    run_id: int,
    station: str | Path | None = None,
    *,
    operator: str | None = None,
    on_progress: ProgressCallback | None = None,
    on_log: Callable[[str, str], None] | None = None,
    db_label: str | None = None,
    supervise: bool = False,
    device: str | None = None,
    notifier: Any = None,
) -> RunResult:
    """Continue run ``run_id`` on ``station`` (default: the stored snapshot's file content); ``supervise``
    as for :func:`~nanocell_daq.engine.service.run_plan` (after the lease, before any instrument)."""
    plan = plan_for_resume(store, run_id, station, device)
    lease = take_lease(store, run_id, plan, db_label)
    urls = list(getattr(notifier, "urls", []) or [])
    try:
        guard = supervised(store, plan.station, run_id, urls) if supervise else contextlib.nullcontext()
        with guard as watch:
            told = {"on_run_created": watch.run_created} if watch is not None else {}
            result = _resume_opened(store, run_id, plan, lease, operator, on_progress, on_log, db_label, told)
    finally:
        lease.release()
    if notifier is not None:
        for message in run_messages(result, plan.station.config.name, plan.station.config.device_name):
            notifier.notify(*message)
    return result


def _resume_opened(store: Any, run_id: int, plan: Plan, lease: EngineLease, operator: str | None,
                   on_progress: ProgressCallback | None, on_log: Callable[[str, str], None] | None,
                   db_label: str | None, told: dict[str, Any]) -> RunResult:
    opened = open_station(plan.station)  # a driver aborts a technique the killed engine left running
    try:
        for note in recovery_notes(opened) + ingest_spill(store, run_id):
            store.log_event(run_id, "warning", f"resume: {note}")
            if on_log:
                on_log("warning", f"resume: {note}")
        for row in store.steps(run_id):  # the dead engine's step: interrupted, before its data are recovered
            if row.status == "running":
                store.end_step(row.id, "interrupted")
        for note in record_recovered(store, run_id, opened):  # stored as events by record_recovered
            if on_log:
                on_log("warning", note)
        kw = {**resume_arguments(store, run_id, plan), "lease": lease, **told}
        store.reopen_run(run_id)
        done = len(kw["skip"])
        store.log_event(
            run_id,
            "warning",
            f"resuming: {done}/{len(plan.items)} steps done; "
            f"continuing {len(kw['overrides'])} interrupted step(s)",
        )
        engine = Engine(
            plan, opened, store, operator=operator, on_progress=on_progress, on_log=on_log, db_label=db_label,
            **kw,
        )
        return engine.run()
    finally:
        opened.close()
