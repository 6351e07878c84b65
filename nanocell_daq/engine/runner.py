"""The run engine: runs a plan on a station, records everything, and leaves every output off on any exit.

Threads, not asyncio (pyvisa/pymeasure block): the main thread runs steps; a parallel block runs one thread
per step (lane); a monitor thread polls the store's control table and updates progress.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nanocell_daq import __version__, provenance
from nanocell_daq.engine.clock import EngineClock
from nanocell_daq.engine.context import EngineStepContext, digest
from nanocell_daq.engine.control import ControlMonitor, RunControl, SignalHandlers
from nanocell_daq.engine.eta import EtaModel, step_wall_s
from nanocell_daq.engine.guard import Instruments
from nanocell_daq.engine.lease import EngineLease, LeaseLost
from nanocell_daq.engine.plan import Plan, PlanItem
from nanocell_daq.engine.protocol import with_parameters
from nanocell_daq.engine.safety import all_safe, outputs_off, outputs_read_back, verify_outputs_off
from nanocell_daq.engine.station_io import OpenStation
from nanocell_daq.storage import spill
from procedures.context import StepAborted, StepFault

ProgressCallback = Callable[[str, float, float | None], None]

FINAL_WRITE_ATTEMPTS = 4
"""Attempts at storing a run's final status (a locked database may free up)."""

FINAL_WRITE_RETRY_S = 0.5
"""Wait before the second attempt (doubled before each further one)."""


def _first_line(exc: BaseException | None) -> str:
    """An error's first line (SQLAlchemy appends a "Background on this error" line)."""
    return (str(exc).strip().splitlines() or [""])[0]


@dataclass
class StepOutcome:
    item: PlanItem
    step_id: int
    status: str
    error: BaseException | None = None
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    run_id: int
    status: str
    reason: str | None
    outcomes: list[StepOutcome]


def _live(instruments: Any) -> list[str]:
    """The outputs that read back on (or cannot be read) before the engine switches them off."""
    live, unread = outputs_read_back(instruments)
    return live + unread


class Engine:
    """Runs ``plan`` on an opened station into ``store``.

    For a resumed run pass ``run_id`` (existing run), ``skip`` (plan indices already done), ``overrides``
    (plan index -> parameter changes, e.g. the remaining capacity), ``prelude`` (items run first, e.g. an
    OCV re-check) and ``clock_start`` (the stored time axis continues). ``db_label`` names the database in
    the hint printed on a pause. ``lease`` (taken by the caller before the station was opened) is checked
    before every command batch and write; the engine takes its run's lease and releases both at the end.
    """

    def __init__(
        self,
        plan: Plan,
        opened: OpenStation,
        store: Any,
        *,
        operator: str | None = None,
        run_id: int | None = None,
        skip: set[int] | None = None,
        overrides: dict[int, dict[str, Any]] | None = None,
        prelude: list[PlanItem] | None = None,
        clock_start: float = 0.0,
        on_progress: ProgressCallback | None = None,
        on_log: Callable[[str, str], None] | None = None,
        flush_interval: float = 0.5,
        db_label: str | None = None,
        lease: EngineLease | None = None,
        on_run_created: Callable[[int], None] | None = None,
    ) -> None:
        self.plan, self.opened, self.store = plan, opened, store
        self.lease = lease
        self.view = plan.station
        self.operator = operator
        self.run_id = run_id  # type: ignore[assignment]
        self._resumed = run_id is not None
        self.skip = set(skip or ())
        self.overrides = dict(overrides or {})
        self.prelude = list(prelude or [])
        self.clock = EngineClock(self.view.speed, clock_start)
        self.on_progress, self.on_log = on_progress, on_log
        self.flush_interval = flush_interval
        self.control = RunControl()
        self.instruments = Instruments(opened.roles, opened.names, self._fence if lease is not None else None)
        self.writer: Any = None
        self._route_lock = threading.RLock()
        self._safe_lock = threading.Lock()
        self._wiring: str | None = None
        self._group_wiring: str | None = None
        self._axes: dict[str, int] = {}
        self._lanes: dict[int, tuple[PlanItem, EngineStepContext]] = {}
        self._done_est = 0.0
        self._eta = EtaModel()
        self._planned: dict[int, float] = {}
        """Plan items (by id) -> their planned wall s (see :meth:`_planned_wall_s`)."""
        self._pending: list[list[PlanItem]] = [todo for _, todo in self._groups() if todo]
        """Groups not started yet (for the ETA): from the start, so the first ETA is the plan's."""
        self._label = "starting"
        self._next_index = 0
        self._made_safe_for_pause = 0
        """The pause (RunControl.pause_count) for which every output was turned off."""
        self.db_label = db_label
        self.on_run_created = on_run_created
        """Told the run id once the run exists (the supervisor must know which run to mark if we die)."""
        self.outcomes: list[StepOutcome] = []
        self._store_error: BaseException | None = None
        """Set when the store writer failed: the run stops and ends failed (its rows are spilled)."""

    # --- the lease ------------------------------------------------------------------------------------
    def _fence(self, force: bool = False) -> None:
        """LeaseLost unless this engine still holds its leases (before each command batch)."""
        if self.lease is not None:
            self.lease.check(force)

    def _tick(self) -> None:
        """The monitor thread's tick (~0.5 s): the state the lease's heartbeat shows, then progress (not
        once the lease is lost: then a sleeping step is woken to stop)."""
        if self.lease is not None:
            self.lease.state = "paused" if self.control.paused else "running"
            if self.lease.lost is not None:
                self.control.request_abort(f"lease lost: {self.lease.lost}")
                return
        self._report_progress()

    # --- services for steps -------------------------------------------------------------------------
    def log(self, level: str, message: str, step_id: int | None = None, echo: bool = True) -> None:
        """An event of the run in the store; also to ``on_log`` (the CLI's or GUI's display) with ``echo``."""
        if self.writer is not None and self.run_id is not None:
            try:
                self.writer.event(self.run_id, level, message, step_id)
            except Exception:  # noqa: BLE001 - the writer's own error is raised on the data path
                pass
        if self.on_log and echo:
            self.on_log(level, message)

    def reconnect(self, instrument: str) -> None:
        """Reopen the link of ``instrument`` (by name) after a dropped connection."""
        for role, name in self.opened.names.items():
            if name == instrument and self.instruments.has(role):
                ok = self.instruments.role(role)._recover()
                self.log("warning", f"{instrument}: reconnect {'done' if ok else 'failed'}")
                return

    def axis_id(self, wavenumbers: np.ndarray) -> int:
        key = digest(np.ascontiguousarray(wavenumbers, dtype="<f8"))
        if key not in self._axes:
            self._axes[key] = self.store.add_axis(wavenumbers)
        return self._axes[key]

    def route(self, wiring: str) -> None:
        """Connect ``wiring``: every output off, break-before-make, channels read back."""
        with self._route_lock:
            self._fence(force=True)
            if self._wiring == wiring:
                return
            if self._group_wiring is not None:
                raise StepFault(
                    f"cannot switch the router to {wiring!r} while a parallel block uses "
                    f"{self._group_wiring!r}"
                )
            if wiring not in self.view.wirings:
                raise StepFault(f"the station has no wiring {wiring!r}")
            was_on = _live(self.instruments)
            failures = outputs_off(self.instruments)
            problems = verify_outputs_off(self.instruments)  # never switch the matrix under bias
            if problems:
                if failures:
                    problems.append(f"switching off: {'; '.join(failures)}")
                raise StepFault(
                    f"refusing to switch to {wiring!r}: outputs not confirmed off: {'; '.join(problems)}"
                )
            if was_on:
                self.log("warning", f"router: {'; '.join(was_on)} before switching to {wiring!r}: turned off")
            router = self.instruments.role("router")
            self._wiring = None
            router.connect(wiring)
            closed = set(router.closed_channels())
            expected = set(self.view.wirings[wiring].channels)
            if closed != expected:
                router.open_all()
                raise StepFault(
                    f"router read-back for {wiring!r}: closed {sorted(closed)}, expected {sorted(expected)}"
                )
            self._wiring = wiring
            self.log("info", f"router: {wiring} ({', '.join(sorted(expected))} closed)")

    def pause_safely(self) -> None:
        """On pause: every output off once per pause (the steps re-arm on resume)."""
        control = self.control
        with self._safe_lock:
            if not control.paused or self._made_safe_for_pause == control.pause_count:
                return
            self._fence(force=True)
            failures = outputs_off(self.instruments)
            unverified = verify_outputs_off(self.instruments)
            control.safe_generation += 1
            self._made_safe_for_pause = control.pause_count
            how = f"`nanocell control {self.run_id} resume --db {self.db_label or 'DB'}`"
            if control.pause_reason == "Ctrl-C":
                how += ", or press Ctrl-C again to abort"
            state = "every output off"
            if unverified:
                state = f"NOT every output verified off ({'; '.join(unverified)})"
            self.log(
                "warning" if not unverified else "error",
                f"paused ({control.pause_reason}): {state}"
                + (f" (failed: {'; '.join(failures)})" if failures else "")
                + f"; resume with {how}",
            )
            self._label = f"paused ({self._label})"
        self._report_progress()

    def wait_if_paused(self) -> None:
        """Between points: while paused, every output off and wait; raises StepAborted on abort."""
        self.control.raise_if_aborted()
        if self.control.paused:
            self.pause_safely()
            self.control.wait_resumed()
            self.log("info", "resumed")

    # --- progress -------------------------------------------------------------------------------------
    def _fraction(self) -> float:
        total = self.plan.total_s or 1.0
        current = max(
            (item.estimate_s * ctx.fraction for item, ctx in list(self._lanes.values())), default=0.0
        )
        return min((self._done_est + current) / total, 1.0)

    def _eta_s(self) -> float:
        """Wall s left: the running steps at their own pace, the rest at the plan's wall estimate, corrected
        by the pace measured per kind."""
        now = time.monotonic()
        lanes = list(self._lanes.values())
        running = max(
            (
                self._eta.running_left_s(item.kind, ctx.planned_wall_s, ctx.fraction, now - ctx.wall0)
                for item, ctx in lanes
            ),
            default=0.0,
        )
        started = {id(item) for item, _ in lanes}
        waiting = [g for g in self._pending if not any(id(i) in started for i in g)]
        pending = self._eta.pending_s([(i.kind, self._planned_wall_s(i)) for i in group] for group in waiting)
        return running + pending

    def _planned_wall_s(self, item: PlanItem) -> float:
        """The plan's wall time of ``item`` (what ``nanocell check`` adds up); computed once per item."""
        key = id(item)
        if key not in self._planned:
            self._planned[key] = step_wall_s(item.step, self.view, item.estimate_s, self.clock.speed)
        return self._planned[key]

    def _report_progress(self) -> None:
        if self.run_id is None:
            return
        frac = self._fraction()
        if not math.isfinite(frac):  # a NaN estimate (e.g. of a NaN parameter): no progress to show; run on
            return
        eta = self._eta_s() if frac < 1.0 else 0.0
        eta = eta if math.isfinite(eta) else None
        self.store.set_progress(self.run_id, self._label, frac, eta)
        if self.on_progress:
            self.on_progress(self._label, frac, eta)

    # --- the run --------------------------------------------------------------------------------------
    def _create_run(self) -> None:
        view = self.view
        dev = view.device
        device_id = self.store.add_device(
            str(dev.get("chip", "unknown chip")),
            str(dev.get("wire", "")),
            materials=dev.get("materials"),
            dimensions=dev.get("dimensions"),
            contacts=view.pads,
            extra={k: v for k, v in dev.items() if k not in ("chip", "wire", "materials", "dimensions")},
        )
        proto = self.plan.protocol
        snapshot = {"path": view.path, "config": view.raw, "instruments": self.opened.snapshot}
        self.run_id = self.store.create_run(
            proto.name,
            with_parameters(proto.text, proto.parameters),
            device_id=device_id,
            station=snapshot,
            operator=self.operator,
            software_version=__version__,
            provenance=provenance.session(self.plan, self.operator),
        )

    def run(self) -> RunResult:
        try:
            if self.run_id is None:
                self._create_run()
                if self.lease is not None:
                    self._attach_lease()
            else:
                self._next_index = 1 + max((s.index for s in self.store.steps(self.run_id)), default=-1)
            fence = self.lease.fence if self.lease is not None else None
            self.writer = self.store.writer(self.flush_interval, fence=fence)
            self.writer.spill_name = f"run{self.run_id}-{os.getpid()}"
            self.writer.on_failure = self._store_failed
        except BaseException:
            if self.lease is not None:
                self.lease.release()
            raise
        monitor = ControlMonitor(self.store, self.run_id, self.control, tick=self._tick, log=self.log)
        status, reason = "completed", None
        with SignalHandlers(self.control):
            monitor.start()
            try:
                status, reason = self._run_all()
            except LeaseLost as exc:
                status, reason = "interrupted", str(exc)
            except StepAborted as exc:
                status, reason = "aborted", str(exc)
            except BaseException as exc:  # noqa: BLE001 - every error path ends safe and recorded
                status, reason = "failed", f"{type(exc).__name__}: {exc}"
                self.log("error", "engine error:\n" + traceback.format_exc())
                if isinstance(exc, KeyboardInterrupt):
                    status, reason = "aborted", "KeyboardInterrupt"
            finally:
                status, reason = self._finish(monitor, status, reason)
        return RunResult(self.run_id, status, reason, self.outcomes)

    def _attach_lease(self) -> None:
        """Take the new run's lease; a run that cannot be leased ends failed before anything is switched."""
        assert self.lease is not None
        try:
            self.lease.attach_run(self.run_id, self.db_label or "DB")
        except BaseException as exc:
            with contextlib.suppress(Exception):
                self.store.finish_run(self.run_id, "failed", f"cannot take the run's lease: {exc}")
            raise

    def _store_failed(self, exc: BaseException) -> None:
        """The writer could not commit (its rows are spilled): stop acquiring; the run ends failed."""
        self._store_error = exc
        self.control.request_abort(f"store write failed: {exc}")

    def _finish(self, monitor: ControlMonitor, status: str, reason: str | None) -> tuple[str, str | None]:
        """Every exit path: safe state, data flushed, final status stored (retried), leases released."""
        try:
            try:
                self._fence(force=True)
            except LeaseLost as exc:
                return self._finish_fenced(monitor, str(exc))
            return self._finish_owned(monitor, status, reason)
        finally:
            monitor.stop()
            if self.lease is not None:
                self.lease.release()

    def _finish_owned(
        self, monitor: ControlMonitor, status: str, reason: str | None
    ) -> tuple[str, str | None]:
        try:
            unverified = all_safe(self.instruments)
        except LeaseLost as exc:
            return self._finish_fenced(monitor, str(exc))
        except Exception as exc:  # noqa: BLE001 - nothing verified: the matrix stays as it is
            unverified = [f"safe state: {type(exc).__name__}: {exc}"]
        self._wiring = None
        # a driver's shutdown opens the matrix: not while a source is not verified off
        try:
            failures = self.opened.shutdown_all(keep_router=bool(unverified))
        except Exception as exc:  # noqa: BLE001 - a crash in shutdown is reported, never leaves the run open
            failures = [f"station shutdown: {type(exc).__name__}: {exc}"]
        if failures:
            self.log("error", "instrument shutdown failed: " + "; ".join(failures))
            if status == "completed" and not unverified:
                status, reason = "failed", "instrument shutdown failed: " + "; ".join(failures)
        cause = reason
        if unverified:
            what = "not verified safe: " + "; ".join(unverified)
            self.log("error", what)
            if status == "completed":
                status, reason = "failed", what
            else:
                reason = f"{reason}; {what}" if reason else what
            end = f"; NOT every output verified off ({'; '.join(unverified)})"
        else:
            end = "; every output off, matrix open (read back)"
        self.log(
            "info" if status == "completed" else "error",
            f"run {status}" + (f": {cause}" if cause else "") + end,
        )
        monitor.stop()
        try:
            self.writer.close()
        except Exception as exc:  # noqa: BLE001 - storage is critical: the run fails
            if self.lease is not None and self.lease.lost is not None:
                return self._finish_fenced(monitor, self.lease.lost)
            status, reason = "failed", f"store write failed: {_first_line(exc)}"
        if self._store_error is not None and not (reason or "").startswith("store write failed"):
            status, reason = "failed", f"store write failed: {_first_line(self._store_error)}"
        self._label = status
        self._lanes.clear()
        self._pending = []
        if status == "completed":
            self._done_est = self.plan.total_s
        try:
            self._report_progress()
        except Exception as exc:  # noqa: BLE001 - the progress row is for display; the status is what counts
            if self.on_log:
                self.on_log("warning", f"final progress not stored: {type(exc).__name__}: {exc}")
        return self._store_final(status, reason)

    def _store_final(self, status: str, reason: str | None) -> tuple[str, str | None]:
        """Write the run's final status, retrying a locked store; if it stays unwritable the run is reported
        failed here, and readers classify it ``dead`` (its engine is gone, its lease not refreshed)."""
        last: Exception | None = None
        for attempt in range(FINAL_WRITE_ATTEMPTS):
            try:
                self.store.finish_run(self.run_id, status, reason)
                return status, reason
            except Exception as exc:  # noqa: BLE001 - a locked or full store: try again, then say so
                last = exc
                if attempt + 1 < FINAL_WRITE_ATTEMPTS:
                    time.sleep(FINAL_WRITE_RETRY_S * 2**attempt)
        why = f"the final status ({status}) could not be stored: {type(last).__name__}: {_first_line(last)}"
        status, reason = "failed", (f"{reason}; " if reason else "") + why
        self._spill_end(status, reason)  # resume reads how the run ended from the recovery file
        if self.on_log:
            self.on_log("error", why)
        return status, reason

    def _finish_fenced(self, monitor: ControlMonitor, why: str) -> tuple[str, str | None]:
        """This engine lost its lease: no instrument is touched, no data or progress written. If it still
        holds the run (only the station was taken), the run ends interrupted; else the new holder owns it."""
        monitor.stop()
        with contextlib.suppress(Exception):
            if self.writer is not None:
                self.writer.close()  # its fence refuses the unsent batch
        reason = f"{why}; this engine exited without touching an instrument"
        assert self.lease is not None
        if self.on_log:
            self.on_log("error", reason)
        with contextlib.suppress(Exception):
            if self.lease.holds_run():
                self.store.finish_run(self.run_id, "interrupted", reason)
            else:
                who = f"engine pid {self.lease.pid} on {self.lease.host}"
                self.store.log_event(self.run_id, "error", f"{who}: {reason}")
        return "interrupted", reason

    def _spill_end(self, status: str, reason: str) -> None:
        """Record how the run ended in the writer's recovery file (resume logs it)."""
        if self.writer is None:
            return
        end = {"run_id": self.run_id, "status": status, "reason": reason}
        try:
            spill.spill_rows(self.store.location, self.writer.spill_name, reason, {}, end=end)
        except OSError as exc:
            if self.on_log:
                self.on_log("error", f"could not write the recovery file either: {exc}")

    def _groups(self) -> list[tuple[float, list[PlanItem]]]:
        """(estimate s, steps still to run) of each group: the prelude's, then the plan's."""
        out = []
        for group in [[p] for p in self.prelude] + self.plan.groups():
            est = self.plan.group_estimate_s(group) if group[0] not in self.prelude else 0.0
            out.append((est, [i for i in group if i.index not in self.skip or i in self.prelude]))
        return out

    def _run_all(self) -> tuple[str, str | None]:
        self._fence(force=True)
        if self.on_run_created is not None:  # may refuse (e.g. no supervisor): the run then ends failed
            self.on_run_created(self.run_id)
        if self._resumed:  # this session's provenance, after the earlier ones
            operator = self.operator or self.store.run(self.run_id).operator
            self.store.add_provenance(self.run_id, provenance.session(self.plan, operator))
        failures = all_safe(self.instruments)
        if failures:
            raise StepFault("cannot start from a safe state: " + "; ".join(failures))
        self.log(
            "info",
            f"run started: {self.plan.protocol.name} ({len(self.plan.items)} steps, "
            f"estimated {self.plan.total_s:.0f} s at clock speed {self.clock.speed:g})",
        )
        for warning in self.plan.warnings:  # the capability check's: kept with the run; a resume shows them
            self.log("warning", f"plan: {warning}", echo=self._resumed)  # (run and check printed them)
        failed: list[str] = []
        groups = []
        for est, todo in self._groups():
            if todo:
                groups.append((est, todo))
            else:
                self._done_est += est
        self._pending = [g for _, g in groups]
        self._report_progress()
        for k, (est, todo) in enumerate(groups):
            self._pending = [g for _, g in groups[k:]]  # this one counts as pending until a step starts
            self.wait_if_paused()  # a pause between steps: nothing of the next step is switched on
            outcomes = self._run_group(todo)
            self._pending = [g for _, g in groups[k + 1 :]]
            self._done_est += est
            for out in outcomes:
                if out.status == "failed":
                    failed.append(f"{out.item.label}: {out.error}")
                    if out.item.on_fault == "stop":
                        return "failed", f"step {out.item.index} '{out.item.label}' failed: {out.error}"
            self.control.raise_if_aborted()
        if failed:
            return (
                "completed",
                f"{len(failed)} step(s) failed, run continued (on_fault: continue): " + "; ".join(failed),
            )
        return "completed", None

    def _run_group(self, group: list[PlanItem]) -> list[StepOutcome]:
        if len(group) == 1:
            out = self._run_item(group[0], 0)
            if out.status == "aborted":
                raise StepAborted(str(out.error))
            return [out]
        wirings = {w for item in group for w in item.wirings}
        if wirings:
            (wiring,) = wirings
            self.route(wiring)
            self._group_wiring = wiring
        results: dict[int, StepOutcome] = {}

        lost: list[LeaseLost] = []

        def lane(k: int, item: PlanItem) -> None:
            try:
                out = self._run_item(item, k)
            except LeaseLost as exc:
                lost.append(exc)
                self.control.request_abort(str(exc))
                return
            results[k] = out
            if out.status == "failed" and item.on_fault == "stop":
                self.control.request_abort(f"parallel step '{item.label}' failed: {out.error}")

        threads = [
            threading.Thread(target=lane, args=(k, item), name=f"lane-{k}") for k, item in enumerate(group)
        ]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            self._group_wiring = None
        if lost:
            raise lost[0]
        outs = [results[k] for k in range(len(group))]
        failed = [o for o in outs if o.status == "failed"]
        if failed and failed[0].item.on_fault == "stop":
            return failed
        if any(o.status == "aborted" for o in outs):
            self.control.raise_if_aborted()
        return outs

    def _run_item(self, item: PlanItem, lane: int) -> StepOutcome:
        params = {**item.parameters, **self.overrides.get(item.index, {})}
        step = type(item.step).from_params(params)
        resumed = item.index in self.overrides
        label = item.label + (" (resumed)" if resumed else "")
        index, self._next_index = self._next_index, self._next_index + 1
        stored = {**params, "plan_index": item.index}
        self._fence(force=True)
        step_id = self.store.start_step(self.run_id, index, item.kind, stored, cycle=item.cycle, label=label)
        ctx = EngineStepContext(self, step_id, label, lane, paced=step.paced)
        ctx.estimate_s = step.estimate_s(self.view)  # what is left, for a resumed step
        ctx.planned_wall_s = step_wall_s(step, self.view, ctx.estimate_s, self.clock.speed)
        step.bind(ctx)
        self._lanes[lane] = (item, ctx)
        self._label = label if len(self._lanes) == 1 else " + ".join(i.label for i, _ in self._lanes.values())
        self.log("info", f"step {item.index} '{label}' ({item.kind}) started", step_id)
        status, error = "completed", None
        try:
            step.startup()
            step.execute()
        except StepAborted as exc:
            status, error = "aborted", exc
        except StepFault as exc:
            status, error = "failed", exc
        except Exception as exc:  # noqa: BLE001 - any step error ends the step safely; policy decides
            status, error = "failed", exc
            self.log("error", f"step '{label}' error:\n{traceback.format_exc()}", step_id)
        finally:
            try:
                step.shutdown()
            except Exception as exc:  # noqa: BLE001 - the engine makes everything safe next
                self.log("warning", f"step '{label}' shutdown: {exc}", step_id)
            if status != "completed":
                scope = self.instruments
                if len(self._lanes) > 1:  # steps run beside this one
                    if status == "failed" and item.on_fault == "stop":
                        # they stop too: told before their outputs go off, so that a charge cut short ends
                        # aborted, not 'completed' by a technique that ended on the device
                        self.control.request_abort(f"parallel step '{item.label}' failed: {error}")
                    else:  # they go on: only this step's own outputs go off
                        scope = self.instruments.only(item.roles)
                was_on = _live(scope)
                failures = outputs_off(scope)
                failures += verify_outputs_off(scope)  # read back: the next step starts from off
                if failures:
                    self.log("error", "outputs off failed: " + "; ".join(failures), step_id)
                if was_on:
                    on = "; ".join(was_on)
                    self.log("warning", f"step '{label}' {status} with {on}: turned off", step_id)
            self._lanes.pop(lane, None)
        self.store.end_step(step_id, status)
        if status == "completed":
            self._eta.observe(item.kind, ctx.planned_wall_s, time.monotonic() - ctx.wall0)
        level = "info" if status == "completed" else ("warning" if status == "aborted" else "error")
        self.log(level, f"step {item.index} '{label}' {status}" + (f": {error}" if error else ""), step_id)
        result = {k: getattr(step, k) for k in ("q_C", "reason") if hasattr(step, k)}
        out = StepOutcome(item, step_id, status, error, result)
        self.outcomes.append(out)
        return out
