"""The runs of a database as a table: id, status, device, protocol, start time, duration, steps."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from nanocell_daq.storage import RunSummary, Store
from nanocell_daq.storage.leases import liveness
from nanocell_daq.viewmodels.events import Signal

COLUMNS = ("Run", "Status", "Device", "Protocol", "Started (local)", "Duration", "Steps")


def format_duration(seconds: float | None) -> str:
    """``"2 d 03:04:05"`` / ``"03:04:05"``; empty for None."""
    if seconds is None or math.isnan(seconds):
        return ""
    s = int(max(seconds, 0))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return (f"{d} d " if d else "") + f"{h:02d}:{m:02d}:{s:02d}"


@dataclass(frozen=True)
class RunRow:
    """One displayed row and the run it shows."""

    summary: RunSummary
    cells: tuple[str, ...]


class RunBrowserModel:
    """The database's runs (newest first); emits ``changed`` when the list or a status changes."""

    def __init__(self, store: Store | None = None) -> None:
        self.store = store
        self.rows: list[RunRow] = []
        self.changed = Signal("changed")

    def set_store(self, store: Store | None) -> None:
        """Show another database."""
        self.store = store
        self.refresh()

    def refresh(self, now: dt.datetime | None = None) -> bool:
        """Re-read the run list; True (and ``changed`` emitted) if anything shown differs."""
        runs = self.store.runs() if self.store is not None else []
        live = liveness(self.store, runs) if self.store is not None else {}
        now = now or dt.datetime.now(dt.UTC)
        rows = [
            RunRow(r, self._cells(r, now, live[r.id].state))
            for r in sorted(runs, key=lambda r: r.id, reverse=True)
        ]
        if [r.cells for r in rows] == [r.cells for r in self.rows]:
            return False
        self.rows = rows
        self.changed.emit()
        return True

    @staticmethod
    def _cells(r: RunSummary, now: dt.datetime, shown: str) -> tuple[str, ...]:
        """``shown``: the status column (a running run's liveness: running, paused, stale or dead)."""
        end = r.ended or (now if r.status == "running" else None)
        duration = (end - r.started).total_seconds() if end is not None else None
        if r.status == "running":  # a running run's duration ticks; show minutes only so rows stay stable
            duration = None if duration is None else duration // 60 * 60
        return (
            str(r.id),
            shown,
            r.device or "",
            r.protocol_name,
            r.started.astimezone().strftime("%Y-%m-%d %H:%M"),
            format_duration(duration),
            str(r.n_steps),
        )

    def running(self) -> list[RunSummary]:
        """Runs the database says are running (a GUI opened later re-attaches to these)."""
        return [row.summary for row in self.rows if row.summary.status == "running"]
