"""Emulators with an instrument error queue: an overlong line queues -363, the ``error_next`` fault -200."""

from __future__ import annotations

from collections import deque
from typing import Any

from simulated_instruments.emulator import Emulator, Reply


class QueuedErrors(Emulator):
    """Base of the SCPI and TSP emulators; ``_queue(code, message)`` adds to the instrument's queue."""

    def _queue(self, code: int, message: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def overlong(self, conn: Reply) -> None:
        self._queue(-363, "Input buffer overrun")

    def injected_error(self, line: str, conn: Reply) -> None:
        self._queue(-200, "Execution error")


class TspErrorQueue(QueuedErrors):
    """The TSP ``errorqueue``: ``(code, message)`` pairs, the oldest dropped past 100."""

    def __init__(self, name: str, clock: Any, faults: Any) -> None:
        super().__init__(name, clock, faults)
        self.queue: deque[tuple[int, str]] = deque(maxlen=100)

    def _queue(self, code: int, message: str) -> None:
        self.queue.append((code, message))
        self.record_error(f"{code} {message}")
