"""The engine clock: seconds of experiment time, the one time axis every stored time is on.

On a real bench (``speed`` 1) it is the wall clock. On a simulated bench the emulators run ``speed`` times
faster than the wall, but the host's own work (VISA round trips, routing, database writes) does not shrink
with the speed: counting it at ``speed`` made one I-V sweep of a few seconds cost an hour of experiment
time. So in simulation the clock runs at the wall's pace, plus the instrument time steps declare with
:meth:`elapse` (settling, integration, exposures, stage moves, a step's sleeps) and, for a technique on an
instrument's own timer, up to the time of its latest stored sample (:meth:`reach`).
"""

from __future__ import annotations

import threading
import time


class EngineClock:
    """Experiment time (s) from ``start``: the wall clock, plus (simulation, ``speed`` != 1) what
    :meth:`elapse` declares and :meth:`reach` requires. Never runs backwards.

    ``start`` lets a resumed run continue the time axis of the stored data.
    """

    def __init__(self, speed: float = 1.0, start: float = 0.0) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be > 0, got {speed!r}")
        self.speed = float(speed)
        self._lock = threading.Lock()
        self._base = float(start)
        self._wall0 = time.monotonic()

    def _now(self) -> float:
        return self._base + (time.monotonic() - self._wall0)

    def now(self) -> float:
        with self._lock:
            return self._now()

    def reach(self, t: float) -> None:
        """A device stamped data at ``t`` (s, this axis) on its own timer: the clock is at least there."""
        with self._lock:
            ahead = float(t) - self._now()
            if ahead > 0 and self.speed != 1.0:
                self._base += ahead

    def elapse(self, seconds: float) -> None:
        """Instrument time (s) the wall did not see at this speed (settling, integration, exposure, a move).

        Ignored at speed 1 (the wall counts it)."""
        with self._lock:
            if self.speed != 1.0 and seconds > 0:
                self._base += float(seconds)

    def wall(self, seconds: float) -> float:
        """Wall seconds that ``seconds`` of engine time take on the bench (``speed`` times fewer)."""
        return max(0.0, seconds) / self.speed
