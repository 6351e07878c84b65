"""Galvanostatic charge/discharge with voltage, capacity (Ah or fraction of nominal) and time cut-offs."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pymeasure.experiment import FloatParameter

from drivers.roles import Sample
from procedures.base import Problem, refused
from procedures.electrochem import OCV_READ_S, ElectrochemStep

_OPEN_LIMIT_V = (-10.0, 10.0)
"""Device window bound used for the side a step does not cut off on (V), when the station sets none."""
VOLTAGE_CUTOFF_FRACTION = 0.6
"""Share of the nominal capacity a step passes before its voltage cut-off, for estimates: at the tens of C
a single wire is cycled at, overpotentials and Li transport along the wire end it early."""
START_MARGIN_V = 0.05
"""A cell that starts outside the station window may go this far (V) beyond where it started."""


class GalvanostaticStep(ElectrochemStep):
    """Apply ``current_A`` (positive = charge) until E reaches ``v_max_V`` (charge) or ``v_min_V``
    (discharge), the charge passed reaches the capacity cut-off, or ``max_time_s`` elapses.

    Records t (s), E (V), I (A) and Q (C, signed like the current).
    """

    kind = "galvanostatic"
    role_name = "galvanostat"
    summary_fields = ("current_A", "v_min_V", "v_max_V", "capacity_Ah", "capacity_fraction", "max_time_s")
    DATA_COLUMNS: ClassVar[list[str]] = ["t (s)", "E (V)", "I (A)", "Q (C)"]

    current_A = FloatParameter("Current", units="A", minimum=-1e-3, maximum=1e-3, default=1e-11)
    v_min_V = FloatParameter("Lower voltage cut-off", units="V", minimum=-10, maximum=10, default=2.5)
    v_max_V = FloatParameter("Upper voltage cut-off", units="V", minimum=-10, maximum=10, default=3.95)
    capacity_Ah = FloatParameter("Capacity cut-off (0 = none)", units="Ah", minimum=0, maximum=1, default=0.0)
    capacity_fraction = FloatParameter(
        "Capacity cut-off as fraction of nominal (0 = none)", minimum=0, maximum=10, default=0.0
    )
    max_time_s = FloatParameter("Time limit", units="s", minimum=1e-3, maximum=1e8, default=36000.0)
    interval_s = FloatParameter("Sampling period", units="s", minimum=1e-3, maximum=3600, default=1.0)

    def capacity_limit_Ah(self, nominal_Ah: float | None) -> float:
        """The tightest capacity cut-off (Ah), ``inf`` when none is set."""
        limits = []
        if self.capacity_Ah > 0:
            limits.append(self.capacity_Ah)
        if self.capacity_fraction > 0 and nominal_Ah:
            limits.append(self.capacity_fraction * nominal_Ah)
        return min(limits) if limits else math.inf

    @property
    def direction(self) -> str:
        return "charge" if self.current_A > 0 else "discharge"

    def check(self, station: Any) -> list[Problem]:
        problems = super().check(station)
        if self.current_A == 0:
            problems.append(Problem("current_A", "must not be 0 (positive = charge, negative = discharge)"))
        if self.v_min_V >= self.v_max_V:
            problems.append(
                Problem("v_min_V", f"{self.v_min_V:g} V must be below v_max_V {self.v_max_V:g} V")
            )
        window = self.check_window(station, "v_min_V", self.v_min_V)
        window += self.check_window(station, "v_max_V", self.v_max_V)
        problems += window
        if not problems:  # cut-offs fine: what check_cycling can still refuse is the current
            problems += refused(
                "current_A", station.limits.check_cycling, self.current_A, self.v_min_V, self.v_max_V
            )
        if self.capacity_fraction > 0 and not station.nominal_capacity_Ah:
            problems.append(Problem("capacity_fraction", "the station's device has no nominal_capacity_Ah"))
        return problems

    def estimate_s(self, station: Any) -> float:
        cap = self.capacity_limit_Ah(station.nominal_capacity_Ah)
        if station.nominal_capacity_Ah:
            # a voltage cut-off comes before a looser capacity guard, short of the nominal capacity
            cap = min(cap, VOLTAGE_CUTOFF_FRACTION * station.nominal_capacity_Ah)
        t = cap * 3600.0 / abs(self.current_A) if self.current_A and math.isfinite(cap) else math.inf
        return min(t, self.max_time_s)

    def startup(self) -> None:
        super().startup()
        self.limit_C = self.capacity_limit_Ah(self.ctx.station.nominal_capacity_Ah) * 3600.0

    def before_start(self, role: Any) -> str | None:
        """Read the cell at open circuit first: a step already at or beyond its cut-off passes no current.

        Also sets the window every sample is held to: the station's, except that a cell starting outside
        it (a pristine cell below it) may move back in but never further out than where it started (less
        :data:`START_MARGIN_V` of noise).
        """
        ocv = self.read_ocv(role, min(self.interval_s, OCV_READ_S))
        window = self.ctx.station.limits.cycling_window_V
        low, high = window if window is not None else _OPEN_LIMIT_V
        if ocv is None or not math.isfinite(ocv.potential):
            # the side the step moves away from stays open: the cell may start outside the window there
            low, high = (_OPEN_LIMIT_V[0], high) if self.current_A > 0 else (low, _OPEN_LIMIT_V[1])
        else:
            e = ocv.potential
            if self.current_A > 0 and e >= self.v_max_V:
                return (f"the cell reads {e:.4g} V at open circuit, at or above the charge cut-off "
                        f"{self.v_max_V:g} V")
            if self.current_A < 0 and e <= self.v_min_V:
                return (f"the cell reads {e:.4g} V at open circuit, at or below the discharge cut-off "
                        f"{self.v_min_V:g} V")
            if e < low:  # started outside the window: it may come back in, never go further out
                low = e - START_MARGIN_V
            if e > high:
                high = e + START_MARGIN_V
        widened = window is not None and (low, high) != tuple(window)
        self.host_window = (low, high) if widened else None
        self.device_window = (low, high) if window is not None else None
        self.approach = (max(low, self.v_min_V) if self.current_A < 0 else low,
                         min(high, self.v_max_V) if self.current_A > 0 else high)
        return None

    def start_technique(self, role: Any, remaining_s: float) -> None:
        # The device breaks at the cut-off in the direction of travel and at the window on the other
        # side (see before_start: a pristine cell may start below the discharge cut-off and must charge).
        v_min, v_max = self.approach if self.approach is not None else _OPEN_LIMIT_V
        capacity_C = None
        if math.isfinite(self.limit_C):
            # the device counts the charge it passes and stops at what is left of the capacity cut-off
            capacity_C = max(self.limit_C - abs(self.q_C), 1e-18)
        role.start_galvanostatic(self.current_A, self.interval_s, remaining_s, v_min, v_max,
                                 capacity_C=capacity_C, window_V=getattr(self, "device_window", None))

    def device_end_reason(self) -> str:
        if math.isfinite(self.limit_C) and abs(self.q_C) >= 0.97 * self.limit_C:
            return f"capacity cut-off {self.limit_C / 3600.0:.4g} Ah (counted on the device)"
        return super().device_end_reason()

    def cutoff(self, sample: Sample, q_C: float, elapsed_s: float) -> str | None:
        if self.current_A > 0 and sample.potential >= self.v_max_V:
            return f"voltage cut-off {self.v_max_V:g} V"
        if self.current_A < 0 and sample.potential <= self.v_min_V:
            return f"voltage cut-off {self.v_min_V:g} V"
        if abs(q_C) >= self.limit_C:
            return f"capacity cut-off {self.limit_C / 3600.0:.4g} Ah"
        if elapsed_s >= self.max_time_s:
            return f"time limit {self.max_time_s:g} s"
        return None

    def fraction(self, q_C: float, elapsed_s: float) -> float:
        by_time = elapsed_s / self.max_time_s
        by_q = abs(q_C) / self.limit_C if math.isfinite(self.limit_C) else 0.0
        return max(by_time, by_q)
