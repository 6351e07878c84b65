"""The run queue as the GUI shows it: rows (id, state, protocol, device, overrides, run, reason) and the
actions a user takes on it (add a protocol for a device, hold, release, cancel). Qt-free."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nanocell_daq.errors import UserError
from nanocell_daq.storage import queue as rows
from nanocell_daq.viewmodels.events import Signal

COLUMNS = ("Entry", "State", "Protocol", "Device", "Set", "Run", "Reason")


@dataclass(frozen=True)
class QueueRow:
    entry: rows.QueueEntry
    cells: tuple[str, ...]


def parse_sets(text: str) -> dict[str, str]:
    """``"cycles=3 rest_s=60"`` (spaces or commas between) -> {"cycles": "3", "rest_s": "60"}."""
    out: dict[str, str] = {}
    for part in text.replace(",", " ").split():
        if "=" not in part:
            raise UserError(f"set {part!r}: expected NAME=VALUE (a parameter of the protocol)")
        key, _, value = part.partition("=")
        out[key.strip()] = value.strip()
    return out


class RunQueueModel:
    """The queue of a database; ``changed`` is emitted when the rows shown differ."""

    def __init__(self, store: Any = None) -> None:
        self.store = store
        self.rows: list[QueueRow] = []
        self.changed = Signal("changed")

    def set_store(self, store: Any) -> None:
        self.store = store
        self.refresh()

    def refresh(self) -> bool:
        entries = rows.entries(self.store) if self.store is not None else []
        shown = [QueueRow(e, (str(e.id), e.state + (" (stop on failure)" if e.stop_on_failure else ""),
                              Path(e.protocol).stem, e.device or "",
                              " ".join(f"{k}={v}" for k, v in e.overrides.items()),
                              "" if e.run_id is None else str(e.run_id), (e.reason or "").splitlines()[0]
                              if e.reason else ""))
                 for e in entries]
        if [r.cells for r in shown] == [r.cells for r in self.rows]:
            return False
        self.rows = shown
        self.changed.emit()
        return True

    def add(self, protocol: str, station: str, device: str | None = None, sets: str = "",
            stop_on_failure: bool = False, held: bool = False) -> int:
        """Plan ``protocol`` on ``station``'s ``device`` now (UserError: file:line: field) and queue it."""
        from nanocell_daq import yaml_input
        from nanocell_daq.engine.service import make_plan, protocol_path

        if self.store is None:
            raise UserError("no database: open or create one first (File > Open database)")
        if not protocol or not station:
            raise UserError("choose a protocol and a station file first")
        overrides = parse_sets(sets)
        make_plan(protocol, station, overrides, device or None)
        text = yaml_input.read_text(protocol_path(protocol), "protocol")
        entry_id = rows.add(self.store, protocol, text, station=station, device=device or None,
                            overrides=overrides, stop_on_failure=stop_on_failure, held=held)
        self.refresh()
        return entry_id

    def act(self, entry_ids: Sequence[int], action: str) -> list[str]:
        """``hold``, ``release`` or ``cancel`` each entry; returns why any could not be changed."""
        to, when = {"hold": ("held", ("queued",)), "release": ("queued", ("held",)),
                    "cancel": ("cancelled", rows.WAITING)}[action]
        refused = []
        for entry_id in entry_ids:
            if not rows.move(self.store, entry_id, to, when=when):
                refused.append(f"entry {entry_id} is {rows.entry(self.store, entry_id).state}")
        self.refresh()
        return refused
