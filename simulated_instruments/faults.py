"""Fault injection: per-instrument pending faults the server and the emulators consume.

Kinds (``bench.inject(instrument, kind, **params)``):

- ``delay``: every reply waits ``seconds`` (wall) before it is sent; persistent unless ``count`` is given.
- ``timeout``: the next reply is swallowed (the client's read times out).
- ``drop``: the server closes the connection when the next command arrives (not executed).
- ``garble``: the next reply is corrupted (same length, terminator kept).
- ``late``: the next reply is held back ``seconds`` (wall, default 2) and sent then, while the connection goes
  on reading and answering commands: it arrives after the client gave up on it, among later replies.
- ``error_next``: the next command is not executed; the instrument reports its own execution error instead.
- ``compliance_trip``: (SMU) the next reading hits the compliance limit and sets the trip flag.
- ``stage_limit``: (stage) the next move stops half-way at a limit switch (see ``proscan``).

Every kind but ``delay`` defaults to ``count=1`` (one occurrence); ``count=None`` keeps it until cleared.
``match="TEXT"`` (kinds the server applies: delay, timeout, drop, garble, late, error_next) aims the fault at
the first command containing TEXT (case-insensitive), e.g. ``bench.inject("smu", "drop", match="TRIP?")``;
a reply-side fault looks at the last command received on that connection.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = ("delay", "timeout", "drop", "garble", "late", "error_next", "compliance_trip", "stage_limit")
MATCHABLE = ("delay", "timeout", "drop", "garble", "late", "error_next")
"""Kinds the server applies to a command line, so they can be aimed with ``match``."""


class FaultError(ValueError):
    """An unknown fault kind or bad parameters."""


@dataclass
class _Pending:
    params: dict[str, Any]
    remaining: int | None  # None = until cleared
    match: str | None = None  # upper-cased text a command must contain


@dataclass
class FaultBox:
    """The pending faults of one instrument (thread-safe)."""

    instrument: str
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, count: int | str | None = "default", match: str | None = None,
            **params: Any) -> None:
        if kind not in FAULT_KINDS:
            known = ", ".join(FAULT_KINDS)
            raise FaultError(f"unknown fault {kind!r} for {self.instrument!r}; known: {known}")
        if match is not None and (kind not in MATCHABLE or not str(match)):
            raise FaultError(f"match needs a non-empty text and one of {', '.join(MATCHABLE)} (got {kind!r})")
        if count == "default":
            count = None if kind == "delay" else 1
        if kind in ("delay", "late"):
            seconds = float(params.get("seconds", params.get("s", 0.5 if kind == "delay" else 2.0)))
            if not 0 <= seconds <= 3600:
                raise FaultError(f"{kind} seconds must be 0 to 3600, got {seconds}")
            params = {"seconds": seconds}
        if count is not None and int(count) < 1:
            raise FaultError(f"count must be >= 1 or None, got {count}")
        with self._lock:
            self._pending[kind] = _Pending(dict(params), None if count is None else int(count),
                                           None if match is None else str(match).upper())

    def take(self, kind: str, line: str | None = None) -> dict[str, Any] | None:
        """Consume one occurrence of ``kind`` (aimed at ``line``: a ``match`` fault waits for a line that
        contains its text); its params, or None when none is pending."""
        with self._lock:
            pending = self._pending.get(kind)
            if pending is None:
                return None
            if pending.match is not None and (line is None or pending.match not in line.upper()):
                return None
            if pending.remaining is not None:
                pending.remaining -= 1
                if pending.remaining <= 0:
                    del self._pending[kind]
            return pending.params

    def pending(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(p.params) for k, p in self._pending.items()}

    def clear(self, kind: str | None = None) -> None:
        with self._lock:
            if kind is None:
                self._pending.clear()
            else:
                self._pending.pop(kind, None)
