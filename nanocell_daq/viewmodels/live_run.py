"""Follow one run from the store by reading only rows newer than the last seen id (the database is the bus).

``fetch()`` does every database read and touches no model state, so a view may run it on a worker thread;
``apply(batch)`` updates the model and emits its signals (call it on the GUI thread). ``poll()`` does both.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from nanocell_daq.storage import (
    CyclingData,
    EventInfo,
    IVData,
    MapGrid,
    Progress,
    SpectraData,
    StepInfo,
    Store,
    leases,
)
from nanocell_daq.viewmodels.events import Signal
from nanocell_daq.viewmodels.iv_checkpoints import IVCheckpointsModel
from nanocell_daq.viewmodels.raman_map import MapModel
from nanocell_daq.viewmodels.trace import DecimatedTrace, GrowingArray

MAX_LOG_LINES = 5000
HALF_CYCLE_KIND = "galvanostatic"
STALE_AFTER_S = leases.STALE_AFTER_S
"""A running engine beats about every second; this long without a word, it is shown stale (s)."""


@dataclass
class PollBatch:
    """What one poll read: new rows since the previous cursors, plus the run's current state."""

    run_id: int
    cycling: CyclingData
    iv: IVData
    spectra: SpectraData | None
    events: list[EventInfo]
    progress: Progress | None
    status: str
    reason: str | None
    steps: list[StepInfo] | None  # None when not re-read this time
    grids: list[MapGrid] | None
    read_at: float = field(default_factory=time.perf_counter)  # perf_counter() when the reads finished
    started: dt.datetime | None = None  # when the run was created (its first sign of life)
    liveness: leases.Liveness | None = None  # running / paused / stale / dead, from the run's lease


@dataclass
class HalfCycle:
    """E vs Q of one galvanostatic step: Q (C) counted from the step's first point, E (V)."""

    step_id: int
    label: str
    Q: GrowingArray = field(default_factory=GrowingArray)
    E: GrowingArray = field(default_factory=GrowingArray)
    q0: float = float("nan")


class LiveRunModel:
    """The data of one run as it grows: traces E(t), I(t), half-cycles, I-V checkpoints, spectra, map, log.

    Signals: ``run_changed(run_id)``, ``status_changed(status)``, ``progress_changed(progress)``,
    ``cycling_changed(n_new)``, ``iv_changed``, ``spectrum_changed``, ``map`` (a ``MapModel``) ``.changed``,
    ``events_added(list[EventInfo])``, ``steps_changed(list[StepInfo])``.
    """

    def __init__(self, store: Store | None = None, run_id: int | None = None, *, target: int = 2000) -> None:
        self.store = store
        self.run_id: int | None = None
        self.E = DecimatedTrace(target)  # E(t): t s, E V
        self.I = DecimatedTrace(target)  # I(t): t s, I A
        self.halfcycles: dict[int, HalfCycle] = {}
        self.iv = IVCheckpointsModel()
        self.map = MapModel()
        self.steps: list[StepInfo] = []
        self.status = ""
        self.liveness: leases.Liveness | None = None
        self.reason: str | None = None
        self.progress: Progress | None = None
        self.log: deque[EventInfo] = deque(maxlen=MAX_LOG_LINES)
        self.latest_spectrum: tuple[np.ndarray, np.ndarray, tuple[float, float, float]] | None = None
        self.n_spectra = 0
        self.last_batch_read_at: float | None = None
        self._cursors = {"cycling": 0, "iv": 0, "spectra": 0, "events": 0}
        self._known_steps: set[int] = set()
        self._known_grids: set[int] = set()
        self._polls = 0
        self.run_changed = Signal("run_changed")
        self.status_changed = Signal("status_changed")
        self.progress_changed = Signal("progress_changed")
        self.cycling_changed = Signal("cycling_changed")
        self.iv_changed = self.iv.changed
        self.spectrum_changed = Signal("spectrum_changed")
        self.events_added = Signal("events_added")
        self.steps_changed = Signal("steps_changed")
        self.stale_changed = Signal("stale_changed")  # stale_changed(last sign of life | None)
        self.last_alive: dt.datetime | None = None
        self.stale_since: dt.datetime | None = None
        if run_id is not None:
            self.set_run(run_id)

    # -- which run -------------------------------------------------------------------------------------
    def set_store(self, store: Store | None) -> None:
        """Follow runs of another store (forgets the current run)."""
        self.store = store
        self.set_run(None)

    def set_run(self, run_id: int | None) -> None:
        """Follow ``run_id`` from its first row (None: follow nothing); clears every trace."""
        self.run_id = run_id
        self.E.clear()
        self.I.clear()
        self.halfcycles.clear()
        self.iv.clear()
        self.map.clear()
        self.steps = []
        self.status, self.reason, self.progress = "", None, None
        self.liveness = None
        self.last_alive = self.stale_since = None
        self.log.clear()
        self.latest_spectrum = None
        self.n_spectra = 0
        self._cursors = dict.fromkeys(self._cursors, 0)
        self._known_steps.clear()
        self._known_grids.clear()
        self._polls = 0
        self.run_changed.emit(run_id)

    @property
    def n_points(self) -> int:
        """Cycling points received so far."""
        return len(self.E)

    # -- reading ---------------------------------------------------------------------------------------
    def fetch(self) -> PollBatch | None:
        """Read everything newer than the cursors (thread-safe with respect to the model: reads only)."""
        store, run_id = self.store, self.run_id
        if store is None or run_id is None:
            return None
        c = dict(self._cursors)
        info = store.run(run_id)
        cycling = store.cycling_since(run_id, c["cycling"])
        iv = store.iv_since(run_id, c["iv"])
        spectra = store.spectra(run_id, after_id=c["spectra"])
        events = store.events(run_id, after_id=c["events"])
        progress = store.progress(run_id)
        live = leases.liveness(store, [info])[run_id]
        step_ids = set(np.unique(cycling.step_id).tolist()) | set(np.unique(iv.step_id).tolist())
        if len(spectra):
            step_ids |= set(np.unique(spectra.step_id).tolist())
        old = self.progress
        label_moved = old is None or progress is None or progress.step_label != old.step_label
        stale = self._polls % 10 == 0 or not step_ids <= self._known_steps or label_moved
        steps = store.steps(run_id) if stale else None
        new_grids = len(spectra) and not set(np.unique(spectra.grid_id).tolist()) - {-1} <= self._known_grids
        grids = store.map_grids(run_id) if stale or new_grids else None
        return PollBatch(
            run_id,
            cycling,
            iv,
            spectra if len(spectra) else None,
            events,
            progress,
            info.status,
            info.reason,
            steps,
            grids,
            started=info.started,
            liveness=live,
        )

    def apply(self, batch: PollBatch | None) -> None:
        """Merge a batch into the model and emit what changed; batches of another run are ignored."""
        if batch is None or batch.run_id != self.run_id:
            return
        self._polls += 1
        self.last_batch_read_at = batch.read_at
        if (batch.steps is not None and [s.id for s in batch.steps] != [s.id for s in self.steps]) or (
            batch.steps is not None and batch.steps != self.steps
        ):
            self.steps = batch.steps
            self._known_steps = {s.id for s in batch.steps}
            self.iv.set_steps(batch.steps)
            for hc in self.halfcycles.values():
                hc.label = self._step_label(hc.step_id)
            self.steps_changed.emit(self.steps)
        if batch.grids is not None:
            self._known_grids = {g.id for g in batch.grids}
            self.map.set_grids(batch.grids)
        if len(batch.cycling):
            self._cursors["cycling"] = batch.cycling.last_id
            self._add_cycling(batch.cycling)
        if len(batch.iv):
            self._cursors["iv"] = batch.iv.last_id
            self.iv.add(batch.iv)
        if batch.spectra is not None:
            self._cursors["spectra"] = batch.spectra.last_id
            self._add_spectra(batch.spectra)
        if batch.events:
            self._cursors["events"] = batch.events[-1].id
            self.log.extend(batch.events)
            self.events_added.emit(batch.events)
        if batch.progress is not None and batch.progress != self.progress:
            self.progress = batch.progress
            self.progress_changed.emit(batch.progress)
        shown_before = self.shown_status
        self.liveness = batch.liveness
        if batch.status != self.status or self.shown_status != shown_before:
            self.status, self.reason = batch.status, batch.reason
            self.status_changed.emit(batch.status)
        self._heartbeat(batch)

    @property
    def shown_status(self) -> str:
        """The stored status, or for a run marked running its engine's liveness (running, paused, stale,
        dead): never "running" for a dead engine."""
        if self.status == "running" and self.liveness is not None:
            return self.liveness.state
        return self.status

    @property
    def lease_free(self) -> bool:
        """No live engine holds the run (its lease is free or its holder is dead)."""
        if self.liveness is not None:
            return self.liveness.lease_free
        return self.status not in ("", "running")

    # -- is the engine alive ---------------------------------------------------------------------------
    def _heartbeat(self, batch: PollBatch, now: dt.datetime | None = None) -> None:
        """Track the last sign of life (progress, event, run start); flag a "running" run gone quiet."""
        signs = [batch.started, self.last_alive]
        if batch.progress is not None:
            signs.append(batch.progress.updated)
        if batch.events:
            signs.append(batch.events[-1].time)
        known = [t for t in signs if t is not None]
        self.last_alive = max(known) if known else None
        self.check_stale(now)

    def check_stale(self, now: dt.datetime | None = None, after_s: float = STALE_AFTER_S) -> None:
        """Set ``stale_since`` (and emit ``stale_changed``) when a running run's engine fell silent."""
        now = now or dt.datetime.now(dt.UTC)
        silent = self.last_alive is not None and (now - self.last_alive).total_seconds() > after_s
        lease_says = self.liveness is not None and self.liveness.state in ("stale", "dead")
        stale = self.status == "running" and (silent or lease_says)
        since = self.last_alive if stale else None
        if since != self.stale_since:
            self.stale_since = since
            self.stale_changed.emit(since)

    def poll(self) -> PollBatch | None:
        """``apply(fetch())`` on the calling thread; returns the batch."""
        batch = self.fetch()
        self.apply(batch)
        return batch

    # -- merging ---------------------------------------------------------------------------------------
    def _step_label(self, step_id: int) -> str:
        for s in self.steps:
            if s.id == step_id:
                return s.label or f"{s.kind} #{s.index}"
        return f"step {step_id}"

    def _add_cycling(self, data: CyclingData) -> None:
        self.E.extend(data.t, data.E)
        self.I.extend(data.t, data.I)
        sid = data.step_id
        bounds = np.flatnonzero(np.diff(sid)) + 1
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(sid)], strict=True):
            step_id = int(sid[lo])
            hc = self.halfcycles.get(step_id)
            if hc is None:
                hc = self.halfcycles[step_id] = HalfCycle(step_id, self._step_label(step_id))
                hc.q0 = float(data.Q[lo])
            hc.Q.extend(data.Q[lo:hi] - hc.q0)
            hc.E.extend(data.E[lo:hi])
        self.cycling_changed.emit(len(data))

    def _add_spectra(self, data: SpectraData) -> None:
        self.n_spectra += len(data)
        last = len(data) - 1
        self.latest_spectrum = (
            np.asarray(data.axis, dtype=np.float64),
            np.asarray(data.counts[last], dtype=np.float64),
            (float(data.x_um[last]), float(data.y_um[last]), float(data.z_um[last])),
        )
        self.map.add(data)
        self.spectrum_changed.emit()

    def recent_halfcycles(self, last: int = 20) -> list[HalfCycle]:
        """The last ``last`` galvanostatic half-cycles, oldest first.

        Rests, holds and sweeps also record E and Q, but at constant Q (a rest) they would draw vertical
        lines: only galvanostatic steps (or steps whose kind is not read yet) count as half-cycles.
        """
        kinds = {s.id: s.kind for s in self.steps}
        cycles = self.halfcycles.values()
        return [hc for hc in cycles if kinds.get(hc.step_id, HALF_CYCLE_KIND) == HALF_CYCLE_KIND][-last:]

    @staticmethod
    def halfcycle_curve(hc: HalfCycle, max_points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
        """(Q C, E V) of one half-cycle strided to at most ``max_points`` (the last point always kept)."""
        n = len(hc.Q)
        stride = max(1, int(np.ceil(n / max_points)))
        q, e = hc.Q.view[::stride], hc.E.view[::stride]
        if n and (n - 1) % stride:
            q, e = np.r_[q, hc.Q.view[-1]], np.r_[e, hc.E.view[-1]]
        return q.copy(), e.copy()

    def halfcycle_curves(
        self, last: int = 20, max_points: int = 2000
    ) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """(label, Q C, E V) of the last ``last`` half-cycles, each strided to at most ``max_points``."""
        return [(hc.label, *self.halfcycle_curve(hc, max_points)) for hc in self.recent_halfcycles(last)]
