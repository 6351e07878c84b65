"""The engine clock: seconds of experiment time, ``speed`` times faster than the wall in simulation."""

from __future__ import annotations

import time


class EngineClock:
    """Experiment time (s) = ``start`` + wall seconds since creation x ``speed``.

    ``start`` lets a resumed run continue the time axis of the stored data.
    """

    def __init__(self, speed: float = 1.0, start: float = 0.0) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be > 0, got {speed!r}")
        self.speed = float(speed)
        self._start = float(start)
        self._wall0 = time.monotonic()

    def now(self) -> float:
        return self._start + (time.monotonic() - self._wall0) * self.speed

    def wall(self, seconds: float) -> float:
        """Wall seconds that ``seconds`` of engine time take."""
        return max(0.0, seconds) / self.speed
