"""The streaming loop shared by every electrochemical step: start a technique, poll samples, cut off."""

from __future__ import annotations

import math
from typing import Any

from drivers.roles import Sample
from procedures.base import Needs, Problem, Step, refused

TECHNIQUE_STARTED = "technique started: device timer 0 at t = "
"""Event text (followed by the run's time in s) each time a step starts a technique on the instrument."""

_MIN_POLL_WALL_S = 0.02
"""Poll at least this far apart on the wall clock: fast simulations must not flood the link."""


class ElectrochemStep(Step):
    """A technique on the cell (wiring ``cycling``) streaming t/E/I; records t, E, I and Q passed (C).

    Subclasses give ``role_name``, ``start_technique(remaining_s)``, ``max_time()`` and ``cutoff()``.
    A pause turns the cell off (the engine does it); on resume the technique restarts for what remains.
    """

    role_name = "galvanostat"
    interval_param = "interval_s"

    def needs(self, station: Any) -> Needs:
        return Needs(roles={self.role_name, "router"}, wirings=["cycling"])

    def check(self, station: Any) -> list[Problem]:
        problems = []
        if not station.has_role(self.role_name):
            problems.append(Problem(self.kind, f"the station has no {self.role_name!r} role"))
        if "cycling" not in station.wirings:
            problems.append(Problem(self.kind, f"the station has no 'cycling' wiring ({station.path})"))
        return problems

    def check_window(self, station: Any, name: str, value: float) -> list[Problem]:
        """``value`` (V) inside the device's cycling voltage window."""
        return refused(name, station.limits.check_potential, value)

    def check_range(self, station: Any, name: str, value: float) -> list[Problem]:
        """``value`` (V) inside the potential range the ``role_name`` instrument can apply, when known."""
        declared = station.potential_range(self.role_name)
        if declared is None:
            return []
        low, high, who = declared
        if low <= value <= high:
            return []
        return [Problem(name, f"{value:g} V is outside the potential range {low:g}..{high:g} V of the "
                              f"{self.role_name}: {who}")]

    # --- hooks ---
    def max_time(self) -> float:
        return float(getattr(self, "max_time_s", math.inf))

    def start_technique(self, role: Any, remaining_s: float) -> None:
        raise NotImplementedError

    def cutoff(self, sample: Sample, q_C: float, elapsed_s: float) -> str | None:
        """Why to stop now (a reason string), or None to go on."""
        return None

    def device_end_reason(self) -> str:
        """Why the technique ended when the device stopped it by itself (its own cut-off or time)."""
        return "technique ended on the device"

    def fraction(self, q_C: float, elapsed_s: float) -> float:
        m = self.max_time()
        return elapsed_s / m if m and math.isfinite(m) else 0.0

    # --- the loop ---
    def startup(self) -> None:
        self.ctx.use_wiring("cycling")
        self.q_C = 0.0
        self.reason = ""
        self.n_samples = 0
        self.last_E = math.nan

    def execute(self) -> None:
        ctx = self.ctx
        role = ctx.role(self.role_name)
        interval = float(getattr(self, self.interval_param, 1.0))
        step_t0 = ctx.clock.now()
        self._tech_t0, self._prev_t = step_t0, 0.0

        def record(samples: list[Sample]) -> str | None:
            # Every sample is stored, also those after a cut-off: they are what the cell really went through
            # until the technique stopped; the first cut-off met is the reason.
            reason = None
            for s in samples:
                self.q_C += s.current * max(s.t - self._prev_t, 0.0)
                self._prev_t = s.t
                self.n_samples += 1
                self.last_E = s.potential
                ctx.recorder.cycling(self._tech_t0 + s.t, s.potential, s.current, self.q_C)
                if reason is None:
                    reason = self.cutoff(s, self.q_C, self._tech_t0 - step_t0 + s.t)
            return reason

        def arm() -> None:
            record(ctx.query(role.poll))  # samples of the stopped technique, on its own time base
            ran_s = ctx.clock.now() - step_t0
            self.start_technique(role, max(self.max_time() - ran_s, interval))
            self._tech_t0, self._prev_t = ctx.clock.now(), 0.0
            # where the device's timer starts on the run's time axis: data recovered from the device after
            # a crash are placed by it (nanocell_daq.engine.recovery)
            ctx.recorder.event("debug", f"{TECHNIQUE_STARTED}{self._tech_t0!r} s")

        stale = ctx.query(role.poll)  # the end of the previous step's technique, read after its stop
        if stale:
            n = len(stale)
            ctx.recorder.event("info", f"{self.kind}: dropped {n} sample(s) of the previous technique")
        arm()
        while True:
            if ctx.checkpoint():
                arm()
                continue
            reason = record(ctx.query(role.poll))
            elapsed = ctx.clock.now() - step_t0
            if reason is None and elapsed >= self.max_time() + interval:
                reason = f"time limit {self.max_time():g} s"
            if reason is None and not role.running:
                if ctx.checkpoint():
                    arm()
                    continue
                reason = record(ctx.query(role.poll)) or self.device_end_reason()
            if reason:
                role.stop()
                record(ctx.query(role.poll))  # what came in between the last poll and the stop
                self.reason = reason
                ctx.recorder.event(
                    "info", f"{self.kind}: stopped: {reason}; E = {self.last_E:.4g} V, Q = {self.q_C:.4g} C"
                )
                return
            ctx.progress(min(self.fraction(self.q_C, elapsed), 1.0))
            ctx.sleep(max(interval, _MIN_POLL_WALL_S * ctx.clock.speed))

    def shutdown(self) -> None:
        ctx = getattr(self, "ctx", None)
        if ctx is not None:
            ctx.role(self.role_name).stop()
