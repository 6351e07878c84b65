"""Potentiostatic hold: keep the cell at a potential until the current decays (or a time limit)."""

from __future__ import annotations

from typing import Any, ClassVar

from pymeasure.experiment import FloatParameter

from drivers.roles import Sample
from procedures.base import Problem
from procedures.electrochem import ElectrochemStep


class PotentiostaticHold(ElectrochemStep):
    """Hold ``potential_V`` until |I| < ``i_min_A`` (after ``min_time_s``) or ``max_time_s``."""

    kind = "potentiostatic_hold"
    role_name = "potentiostat"
    summary_fields = ("potential_V", "i_min_A", "max_time_s")
    DATA_COLUMNS: ClassVar[list[str]] = ["t (s)", "E (V)", "I (A)", "Q (C)"]

    potential_V = FloatParameter("Potential", units="V", minimum=-10, maximum=10, default=3.9)
    i_min_A = FloatParameter(
        "Stop when |I| below (0 = never)", units="A", minimum=0, maximum=1e-3, default=1e-13
    )
    min_time_s = FloatParameter("Minimum time", units="s", minimum=0, maximum=1e7, default=10.0)
    max_time_s = FloatParameter("Time limit", units="s", minimum=1e-3, maximum=1e8, default=3600.0)
    interval_s = FloatParameter("Sampling period", units="s", minimum=1e-3, maximum=3600, default=1.0)

    def check(self, station: Any) -> list[Problem]:
        return (super().check(station) + self.check_window(station, "potential_V", self.potential_V)
                + self.check_range(station, "potential_V", self.potential_V))

    def estimate_s(self, station: Any) -> float:
        return self.max_time_s

    def start_technique(self, role: Any, remaining_s: float) -> None:
        role.start_potentiostatic(self.potential_V, self.interval_s, remaining_s,
                                  max_current_A=self.ctx.station.limits.cycling_max_current_A)

    def cutoff(self, sample: Sample, q_C: float, elapsed_s: float) -> str | None:
        if self.i_min_A > 0 and elapsed_s >= self.min_time_s and abs(sample.current) < self.i_min_A:
            return f"|I| {abs(sample.current):.3g} A < {self.i_min_A:g} A"
        if elapsed_s >= self.max_time_s:
            return f"time limit {self.max_time_s:g} s"
        return None
