"""Cyclic voltammetry between two vertices at a scan rate, for a number of cycles."""

from __future__ import annotations

from typing import Any, ClassVar

from pymeasure.experiment import FloatParameter, IntegerParameter

from procedures.base import Problem
from procedures.electrochem import ElectrochemStep


class CyclicVoltammetry(ElectrochemStep):
    """CV from ``e_begin_V`` between ``vertex1_V`` and ``vertex2_V`` at ``scan_rate_V_s`` (V/s)."""

    kind = "cv"
    role_name = "potentiostat"
    summary_fields = ("vertex1_V", "vertex2_V", "scan_rate_V_s", "cycles")
    DATA_COLUMNS: ClassVar[list[str]] = ["t (s)", "E (V)", "I (A)", "Q (C)"]
    interval_param = "poll_s"

    e_begin_V = FloatParameter("Start potential", units="V", minimum=-10, maximum=10, default=3.4)
    vertex1_V = FloatParameter("Vertex 1", units="V", minimum=-10, maximum=10, default=3.9)
    vertex2_V = FloatParameter("Vertex 2", units="V", minimum=-10, maximum=10, default=3.0)
    step_V = FloatParameter("Potential step", units="V", minimum=1e-6, maximum=1, default=0.001)
    scan_rate_V_s = FloatParameter("Scan rate", units="V/s", minimum=1e-6, maximum=10, default=0.001)
    cycles = IntegerParameter("Cycles", minimum=1, maximum=1000, default=1)
    poll_s = FloatParameter("Polling period", units="s", minimum=1e-3, maximum=3600, default=1.0)

    def sweep_s(self) -> float:
        span = (
            abs(self.vertex1_V - self.e_begin_V)
            + abs(self.vertex2_V - self.vertex1_V) * (2 * self.cycles - 1)
            + abs(self.e_begin_V - self.vertex2_V)
        )
        return span / self.scan_rate_V_s

    def max_time(self) -> float:
        return self.sweep_s() * 1.2 + 10.0

    def check(self, station: Any) -> list[Problem]:
        problems = super().check(station)
        for name in ("e_begin_V", "vertex1_V", "vertex2_V"):
            problems += self.check_window(station, name, getattr(self, name))
            problems += self.check_range(station, name, getattr(self, name))
        return problems

    def estimate_s(self, station: Any) -> float:
        return self.sweep_s()

    def start_technique(self, role: Any, remaining_s: float) -> None:
        role.start_cv(
            self.e_begin_V, self.vertex1_V, self.vertex2_V, self.step_V, self.scan_rate_V_s, self.cycles,
            max_current_A=self.ctx.station.limits.cycling_max_current_A,
        )
