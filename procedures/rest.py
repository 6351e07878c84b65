"""OCV rest: cell off, record the open-circuit potential for a time or until it settles."""

from __future__ import annotations

from typing import Any, ClassVar

from pymeasure.experiment import FloatParameter

from drivers.roles import Sample
from procedures.electrochem import ElectrochemStep


class OCVRest(ElectrochemStep):
    """Record E at open circuit for ``time_s``, or until |dE/dt| < ``dEdt_V_s`` (if > 0) after
    ``min_time_s``. Records t, E, I (~0) and Q (0)."""

    kind = "rest"
    role_name = "galvanostat"
    drives_cell = False  # the cell is off: where it relaxes to is not an overshoot of the window
    summary_fields = ("time_s", "dEdt_V_s")
    DATA_COLUMNS: ClassVar[list[str]] = ["t (s)", "E (V)", "I (A)", "Q (C)"]

    time_s = FloatParameter("Duration", units="s", minimum=1e-3, maximum=1e7, default=600.0)
    dEdt_V_s = FloatParameter(
        "Stop when |dE/dt| below (0 = never)", units="V/s", minimum=0, maximum=1, default=0.0
    )
    min_time_s = FloatParameter(
        "Minimum time before the dE/dt test", units="s", minimum=0, maximum=1e7, default=10.0
    )
    interval_s = FloatParameter("Sampling period", units="s", minimum=1e-3, maximum=3600, default=1.0)

    def max_time(self) -> float:
        return self.time_s

    def estimate_s(self, station: Any) -> float:
        return self.time_s

    _prev: Sample | None = None

    def start_technique(self, role: Any, remaining_s: float) -> None:
        self._prev = None
        role.start_ocp(self.interval_s, remaining_s)

    def cutoff(self, sample: Sample, q_C: float, elapsed_s: float) -> str | None:
        prev, self._prev = self._prev, sample
        if elapsed_s >= self.time_s:
            return f"time {self.time_s:g} s"
        if self.dEdt_V_s > 0 and prev is not None and elapsed_s >= self.min_time_s and sample.t > prev.t:
            slope = abs(sample.potential - prev.potential) / (sample.t - prev.t)
            if slope < self.dEdt_V_s:
                return f"|dE/dt| {slope:.3g} V/s < {self.dEdt_V_s:g} V/s"
        return None
