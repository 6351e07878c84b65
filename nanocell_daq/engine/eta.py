"""Time left in a run: the plan's estimates, calibrated by the wall time each kind of step really takes."""

from __future__ import annotations

import math
from collections.abc import Iterable

_MIN_FRACTION = 0.05
"""A running step's own pace counts once it is this far along (earlier it is mostly set-up time)."""


class EtaModel:
    """Wall seconds per estimated engine second, measured per step kind while the run goes.

    A step's estimate is proportional to its work (I-V points, map pixels, seconds of cycling), so this
    ratio is the measured wall time per point, per pixel or per second of cycling. Before a kind has been
    seen, the clock's ratio (1 / speed) stands in: right for steps the clock times (rest, cycling), low
    for I-V points and pixels whose instrument round trips do not shrink with the simulation speed.
    """

    def __init__(self, speed: float) -> None:
        self.default = 1.0 / speed
        self._wall: dict[str, float] = {}
        self._est: dict[str, float] = {}

    def observe(self, kind: str, estimate_s: float, wall_s: float) -> None:
        """A finished step of ``kind``: ``estimate_s`` (engine s) took ``wall_s`` (wall s)."""
        if estimate_s > 0 and math.isfinite(estimate_s) and wall_s >= 0:
            self._est[kind] = self._est.get(kind, 0.0) + estimate_s
            self._wall[kind] = self._wall.get(kind, 0.0) + wall_s

    def rate(self, kind: str) -> float:
        """Wall s per estimated engine s for ``kind``."""
        est = self._est.get(kind, 0.0)
        return self._wall[kind] / est if est > 0 else self.default

    def running_left_s(self, kind: str, estimate_s: float, fraction: float, wall_s: float) -> float:
        """Wall s left of a running step ``fraction`` done after ``wall_s``: its own pace once it has one."""
        if not math.isfinite(estimate_s):
            return math.inf
        if fraction >= _MIN_FRACTION:
            return wall_s / fraction * (1.0 - fraction)
        return max(estimate_s * self.rate(kind) - wall_s, 0.0)

    def pending_s(self, groups: Iterable[Iterable[tuple[str, float]]]) -> float:
        """Wall s of groups not started yet, each ``(kind, estimate_s)`` per step; a group lasts as long
        as its slowest step (they run in parallel)."""
        return sum(max((est * self.rate(kind) for kind, est in group), default=0.0) for group in groups)
