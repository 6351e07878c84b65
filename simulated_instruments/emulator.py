"""What every instrument emulator shares: the command log, the error record and the handler interface."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulated_instruments.clock import SimClock
    from simulated_instruments.faults import FaultBox


@dataclass(frozen=True)
class LogEntry:
    """One command an emulator was told: simulated time (s), wall time (epoch s), the command line, the
    immediate reply (``None`` when it answered nothing) and whether its output was on after the command (or at
    any time during it, e.g. a sweep that ends with the output off again)."""

    t_sim: float
    wall: float
    command: str
    reply: str | None
    output_on: bool


class Reply:
    """A connection's writer as seen by an emulator (async replies: Prior ``R``, MethodSCRIPT packages)."""

    def send(self, data: str | bytes) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def closed(self) -> bool:  # pragma: no cover - interface
        raise NotImplementedError


class Emulator:
    """Base of the protocol state machines. Subclasses implement ``handle`` and ``output_on``.

    ``handle(line, conn)`` runs under ``lock`` (the server serializes each emulator) and returns the reply
    to send at once (``None`` for none); background work (moves, scripts) replies later via ``conn.send``.
    """

    #: bytes that end a command line; an empty line is skipped unless ``keep_empty_lines``
    terminators: bytes = b"\n"
    keep_empty_lines: bool = False
    max_line: int = 4096

    def __init__(self, name: str, clock: SimClock, faults: FaultBox) -> None:
        self.name = name
        self.clock = clock
        self.faults = faults
        self.lock = threading.RLock()
        self.log: list[LogEntry] = []
        self.errors: list[str] = []
        #: set by a command that turned the output on and off again before it returned (a 2450 sweep), so
        #: its log entry still says the output was on
        self.output_was_on = False

    def handle(self, line: str, conn: Reply) -> str | bytes | None:  # pragma: no cover - interface
        raise NotImplementedError

    def output_on(self) -> bool:
        return False

    def overlong(self, conn: Reply) -> str | bytes | None:
        """A line longer than ``max_line`` arrived (and was discarded)."""
        self.record_error("input line too long")
        return None

    def injected_error(self, line: str, conn: Reply) -> str | bytes | None:
        """The ``error_next`` fault: answer ``line`` with this instrument's execution error."""
        self.record_error(f"injected error on {line!r}")
        return None

    def record_error(self, text: str) -> None:
        """Remember an error for the bench (``bench.errors(name)``); the protocol queue is the subclass's."""
        self.errors.append(text)

    def record(self, command: str, reply: Any) -> None:
        if isinstance(reply, bytes):
            shown = reply.decode("latin-1") if len(reply) < 200 else f"<{len(reply)} bytes>"
        else:
            shown = reply
        self.log.append(LogEntry(self.clock.now(), time.time(), command, shown,
                                 self.output_on() or self.output_was_on))
        self.output_was_on = False

    def stop(self) -> None:
        """Stop background activity (bench shutdown)."""
