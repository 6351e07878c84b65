"""The bench's simulated clock: simulated seconds run ``speed`` times faster than the wall clock."""

from __future__ import annotations

import time


class SimClock:
    """Simulated time (s) = wall monotonic seconds since creation x ``speed``.

    Shared by every emulator of a bench, so the cell, the potentiostat stream, the SMU integration time and
    the stage moves all live on one time line.
    """

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0 (simulated s per wall s), got {speed!r}")
        self.speed = float(speed)
        self._t0 = time.monotonic()

    def now(self) -> float:
        """Simulated seconds since the clock started."""
        return (time.monotonic() - self._t0) * self.speed

    def wall_for(self, sim_s: float) -> float:
        """Wall seconds that ``sim_s`` simulated seconds take."""
        return max(0.0, sim_s) / self.speed

    def sleep(self, sim_s: float) -> None:
        """Block for ``sim_s`` simulated seconds."""
        wall = self.wall_for(sim_s)
        if wall > 0:
            time.sleep(wall)

    def sleep_until(self, t_sim: float) -> None:
        """Block until simulated time ``t_sim`` (returns at once if it has passed)."""
        self.sleep(t_sim - self.now())
