"""Time left in a run, in wall seconds: the plan's estimate first, refined by the wall time each kind of
step really takes.

The plan estimates each step in engine seconds. The engine clock (``engine.clock``) runs at the wall's pace
plus the instrument time steps declare, so on a simulated bench at ``speed`` N a step's wall time is its
host round trips (``Step.host_s``: they do not shrink with the speed) plus the rest of its estimate / N,
plus its set-up (routing with read-backs, an open-circuit check, starting a technique). That is the plan's
wall estimate (:func:`planned_wall_s`, :func:`plan_wall_s`): what ``nanocell check`` prints and the first
ETA a run reports. Once a step of a kind has finished, the ratio of its measured to its planned wall time
corrects the steps of that kind still to come; a running step extrapolates its own pace once it is 5 %
along.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

_MIN_FRACTION = 0.05
"""A running step's own pace counts once it is this far along (earlier it is mostly set-up time)."""

STEP_SETUP_S = 0.5
"""Wall s of set-up per step on a simulated bench (routing and read-backs, an OCV check, starting a
technique, the first flush): measured 0.1-1 s per step at speed 2000 (the demo). At speed 1 the
estimate is wall time and hours long; set-up is within its error."""


def planned_wall_s(estimate_s: float, host_s: float, speed: float) -> float:
    """Wall s a step of ``estimate_s`` engine s (``host_s`` of them host round trips) takes at ``speed``."""
    if not math.isfinite(estimate_s):
        return math.inf
    if speed == 1.0:
        return max(estimate_s, 0.0)
    host = min(max(host_s, 0.0), max(estimate_s, 0.0))
    return host + (max(estimate_s, 0.0) - host) / speed + STEP_SETUP_S


def step_wall_s(step: Any, station: Any, estimate_s: float, speed: float) -> float:
    """:func:`planned_wall_s` of a plan's step (``estimate_s``: what is left of it, for a resumed step)."""
    host = getattr(step, "host_s", None)
    full = step.estimate_s(station) if host is not None else 0.0
    host_s = host(station) * (estimate_s / full) if host is not None and full > 0 else 0.0
    return planned_wall_s(estimate_s, host_s, speed)


def plan_wall_s(plan: Any) -> float:
    """The plan's wall estimate: each group lasts as long as its slowest step (they run in parallel)."""
    speed = plan.station.speed
    return sum(
        max((step_wall_s(i.step, plan.station, i.estimate_s, speed) for i in group), default=0.0)
        for group in plan.groups()
    )


class EtaModel:
    """Measured wall s per planned wall s, per step kind, while the run goes (1 before a kind is seen)."""

    def __init__(self) -> None:
        self._measured: dict[str, float] = {}
        self._planned: dict[str, float] = {}

    def observe(self, kind: str, planned_s: float, wall_s: float) -> None:
        """A finished step of ``kind``, planned at ``planned_s`` wall s, took ``wall_s``."""
        if planned_s > 0 and math.isfinite(planned_s) and wall_s >= 0:
            self._planned[kind] = self._planned.get(kind, 0.0) + planned_s
            self._measured[kind] = self._measured.get(kind, 0.0) + wall_s

    def rate(self, kind: str) -> float:
        """Measured over planned wall time of the finished steps of ``kind`` (1.0 before any)."""
        planned = self._planned.get(kind, 0.0)
        return self._measured[kind] / planned if planned > 0 else 1.0

    def running_left_s(self, kind: str, planned_s: float, fraction: float, wall_s: float) -> float:
        """Wall s left of a running step ``fraction`` done after ``wall_s``: its own pace once it has one,
        else its plan (corrected by its kind's measured rate) minus what has passed."""
        if not math.isfinite(planned_s):
            return math.inf
        if fraction >= _MIN_FRACTION:
            return wall_s / fraction * (1.0 - fraction)
        return max(planned_s * self.rate(kind) - wall_s, 0.0)

    def pending_s(self, groups: Iterable[Iterable[tuple[str, float]]]) -> float:
        """Wall s of groups not started yet, each ``(kind, planned wall s)`` per step; a group lasts as long
        as its slowest step (they run in parallel)."""
        return sum(max((planned * self.rate(kind) for kind, planned in group), default=0.0)
                   for group in groups)
