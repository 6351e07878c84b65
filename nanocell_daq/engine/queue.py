"""Working through the run queue unattended: ``nanocell queue run --station FILE``.

Before the first run starts, every waiting entry (queued and held) is planned against the station file and
its device, exactly as ``nanocell check`` plans it; one that does not validate stops the queue before
anything is switched on, each problem named. Then the queued entries run one after another, oldest first,
each through the same path as ``nanocell run`` (station lease, supervisor, engine, notifications).

- A run that ends ``failed`` or ``interrupted`` does not stop the queue, unless its entry was added with
  ``--stop-on-failure``.
- A run that ends ``aborted`` stops the queue: a person asked for it (Ctrl-C twice, SIGTERM,
  ``nanocell control N abort``); ``nanocell queue run`` again continues with the next entry.
- An entry added while the queue runs is planned when its turn comes; one that no longer plans (its
  station or device changed) is ``refused`` with the reason, and the queue goes on (or stops, with
  ``--stop-on-failure``).
- Another engine holding the station (LeaseHeld) puts the entry back in the queue and stops it.
- An entry left ``running`` by a queue process that is gone is closed as its run ended (``interrupted``
  when its run never ended) before the queue starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nanocell_daq.engine.lease import LeaseHeld
from nanocell_daq.engine.plan import Plan, expand
from nanocell_daq.engine.protocol import parse_protocol
from nanocell_daq.engine.runner import RunResult
from nanocell_daq.engine.stationview import StationView
from nanocell_daq.errors import UserError
from nanocell_daq.storage import queue as rows
from nanocell_daq.storage.leases import liveness, pid_alive, this_host

Runner = Callable[[Plan, rows.QueueEntry, Callable[[int], None]], RunResult]
"""Runs one entry's plan (the third argument is told the run id once the run exists)."""


@dataclass(frozen=True)
class Outcome:
    """How one entry ended in this queue run."""

    entry_id: int
    state: str
    run_id: int | None
    reason: str | None


def describe(entry: rows.QueueEntry) -> str:
    device = f" on {entry.device}" if entry.device else ""
    return f"entry {entry.id} ({Path(entry.protocol).stem}{device})"


def entry_plan(entry: rows.QueueEntry, station: str | Path) -> Plan:
    """The entry's plan on ``station`` (its device): UserError (file:line: field) when it does not plan."""
    view = StationView.from_file(station, entry.device)
    return expand(parse_protocol(entry.protocol_text, entry.protocol, entry.overrides), view)


def problems(store: Any, station: str | Path, states: tuple[str, ...] = rows.WAITING) -> list[str]:
    """One line per waiting entry that does not plan on ``station``: ``entry 3 (si_seed on nw2): ...``."""
    found = []
    for entry in rows.entries(store, states):
        try:
            entry_plan(entry, station)
        except UserError as exc:
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            found += [f"{describe(entry)}: {line.strip()}" for line in lines]
    return found


def close_orphans(store: Any) -> list[Outcome]:
    """Entries left ``running`` by a queue process that is gone: closed as their run ended (its stored
    status; ``interrupted`` while the run is not finished or never started)."""
    closed = []
    for entry in rows.entries(store, ("running",)):
        mine = entry.runner_host == this_host() and entry.runner_pid is not None
        if not mine or pid_alive(entry.runner_pid or 0):
            continue  # another host's queue, or a live one: not ours to close
        state, reason = "interrupted", f"the queue process (pid {entry.runner_pid}) ended during this entry"
        if entry.run_id is not None:
            run = store.run(entry.run_id)
            live = liveness(store, [run]).get(run.id)
            if live is not None and live.state in ("running", "paused", "stale") and not live.free:
                continue  # its engine still lives (resumed by hand): leave it
            if run.status != "running":
                state, reason = run.status, run.reason
        if rows.move(store, entry.id, state, when=("running",), reason=reason):
            closed.append(Outcome(entry.id, state, entry.run_id, reason))
    return closed


class QueueRunner:
    """Runs the queued entries of ``store`` on ``station`` one after another (see the module doc)."""

    def __init__(self, store: Any, station: str | Path, runner: Runner, *, notifier: Any = None,
                 on_log: Callable[[str, str], None] | None = None) -> None:
        self.store = store
        self.station = station
        self.runner = runner
        self.notifier = notifier
        self.on_log = on_log or (lambda level, message: None)
        self.outcomes: list[Outcome] = []
        self.stopped: str | None = None
        """Why the queue stopped before it was empty (None: it ran until nothing was queued)."""

    def _notify(self, kind: str, title: str, body: str) -> None:
        if self.notifier is not None:
            self.notifier.notify(kind, title, body)

    def run(self) -> list[Outcome]:
        """Validate every waiting entry, then run the queued ones; UserError (nothing started) when an
        entry does not validate. Returns how each entry it took ended."""
        for orphan in close_orphans(self.store):
            self.on_log("warning", f"entry {orphan.entry_id} was left running by a queue process that is "
                                   f"gone: closed as {orphan.state}")
        found = problems(self.store, self.station)
        if found:
            raise UserError(f"{self.station}: the queue was not started: {len(found)} entr"
                            f"{'y does' if len(found) == 1 else 'ies do'} not plan on this station "
                            f"(fix, hold or cancel them):\n  " + "\n  ".join(found))
        while self.stopped is None:
            waiting = rows.entries(self.store, ("queued",))
            if not waiting:
                break
            entry = waiting[0]
            if not rows.claim(self.store, entry.id):
                continue  # held or cancelled meanwhile, or another queue took it
            self._run_entry(entry)
        held = len(rows.entries(self.store, ("held",)))
        ran = ", ".join(f"{o.entry_id} {o.state}" for o in self.outcomes) or "nothing"
        if self.stopped is None:
            self._notify("queue_empty", "nanocell: queue empty",
                         f"the queue on {self.station} is empty ({ran}; {held} held)")
        else:
            self._notify("queue_stopped", "nanocell: queue stopped", f"{self.stopped} ({ran})")
        return self.outcomes

    def _end(self, entry: rows.QueueEntry, state: str, run_id: int | None, reason: str | None) -> None:
        rows.move(self.store, entry.id, state, when=("running",), reason=reason,
                  **({"run_id": run_id} if run_id is not None else {}))
        self.outcomes.append(Outcome(entry.id, state, run_id, reason))
        self.on_log("info", f"{describe(entry)}: {state}" + (f": {reason}" if reason else ""))
        if state == "aborted":
            self.stopped = f"{describe(entry)} was aborted"
        elif state != "completed" and entry.stop_on_failure:
            self.stopped = f"{describe(entry)} ended {state} and was added with --stop-on-failure"

    def _run_entry(self, entry: rows.QueueEntry) -> None:
        try:
            plan = entry_plan(entry, self.station)
        except UserError as exc:
            reason = (str(exc).strip().splitlines() or ["does not plan"])[0]
            self._notify("run_failed", f"nanocell: queue {describe(entry)} refused", reason)
            self._end(entry, "refused", None, reason)
            return
        created: list[int] = []

        def run_created(run_id: int) -> None:
            created.append(run_id)
            rows.set_run(self.store, entry.id, run_id)

        self.on_log("info", f"{describe(entry)}: starting")
        try:
            result = self.runner(plan, entry, run_created)
        except LeaseHeld as exc:
            rows.move(self.store, entry.id, "queued", when=("running",), started=None, runner_host=None,
                      runner_pid=None)
            self.stopped = f"the station is busy: {exc}"
            return
        except UserError as exc:
            reason = (str(exc).strip().splitlines() or ["could not start"])[0]
            self._notify("run_failed", f"nanocell: queue {describe(entry)} could not start", reason)
            self._end(entry, "failed" if created else "refused", created[-1] if created else None, reason)
            return
        except BaseException as exc:
            # an engine crash or Ctrl-C between points: the supervisor marks the run; the queue stops
            why = f"{type(exc).__name__}: {exc}".strip(": ")
            self._end(entry, "interrupted", created[-1] if created else None, why)
            raise
        self._end(entry, result.status, result.run_id, result.reason)
