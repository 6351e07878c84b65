"""The streaming loop shared by every electrochemical step: start a technique, poll samples, cut off."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from drivers.roles import Gap, Sample
from nanocell_daq.errors import UserError
from procedures.base import Needs, Problem, Step, refused
from procedures.context import StepFault

TECHNIQUE_STARTED = "technique started: device timer 0 at t = "
"""Event text (followed by the run's time in s) each time a step starts a technique on the instrument."""

_MIN_POLL_WALL_S = 0.02
"""Poll at least this far apart on the wall clock: fast simulations must not flood the link."""
OCV_READ_S = 0.1
"""Open-circuit reading before a step passes current (s of cell-off sampling)."""
_OCV_POLL_WALL_S = 0.002
_OCV_POLLS = 1000
"""Wait for the open-circuit reading this often and at most this many times (2 s on the wall clock)."""


class ElectrochemStep(Step):
    """A technique on the cell (wiring ``cycling``, or ``cycling:<instrument>`` of its role) streaming t/E/I;
    records t, E, I and Q passed (C).

    Subclasses give ``role_name``, ``start_technique(remaining_s)``, ``max_time()`` and ``cutoff()``.
    A pause turns the cell off (the engine does it); on resume the technique restarts for what remains.
    """

    role_name = "galvanostat"
    interval_param = "interval_s"
    paced: ClassVar[bool] = True
    drives_cell: ClassVar[bool] = True
    """The technique passes current: every sample is held to the station's window and current limit."""

    def needs(self, station: Any) -> Needs:
        return Needs(roles={self.role_name, "router"}, wirings=[station.cycling_wiring(self.role_name)])

    def check(self, station: Any) -> list[Problem]:
        problems = []
        if not station.has_role(self.role_name):
            problems.append(Problem(self.kind, f"the station has no {self.role_name!r} role"))
        wiring = station.cycling_wiring(self.role_name)
        if wiring not in station.wirings:
            problems.append(Problem(self.kind, f"the station has no {wiring!r} wiring ({station.path})"))
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

    def before_start(self, role: Any) -> str | None:
        """Called before each (re)start of the technique; a reason not to pass any current, or None."""
        return None

    def cutoff(self, sample: Sample, q_C: float, elapsed_s: float) -> str | None:
        """Why to stop now (a reason string), or None to go on."""
        return None

    def device_end_reason(self) -> str:
        """Why the technique ended when the device stopped it by itself (its own cut-off or time)."""
        return "technique ended on the device"

    def fraction(self, q_C: float, elapsed_s: float) -> float:
        m = self.max_time()
        return elapsed_s / m if m and math.isfinite(m) else 0.0

    def read_ocv(self, role: Any, interval_s: float = OCV_READ_S) -> Sample | None:
        """One open-circuit reading (cell off), kept in the run's log; None if none came.

        It is not stored with the step's t/E/I data: a zero-current point before the technique's first
        sample would add charge that never passed to a capacity integrated over the step's points."""
        ctx = self.ctx
        role.start_ocp(interval_s, interval_s)  # a technique start is not repeated blindly
        samples: list[Sample] = []
        for _ in range(_OCV_POLLS):
            samples += self._poll(role)
            if samples or not role.running:
                break
            ctx.sleep(max(interval_s, _OCV_POLL_WALL_S * ctx.clock.speed))
        role.stop()
        samples += self._poll(role)
        if not samples:
            ctx.recorder.event("warning", f"{self.kind}: no open-circuit reading came before the start")
            return None
        ocv = samples[-1]
        ctx.recorder.event("info", f"{self.kind}: open-circuit {ocv.potential:.4g} V before passing current")
        return ocv

    # --- the loop ---
    def startup(self) -> None:
        self.ctx.use_wiring(self.ctx.station.cycling_wiring(self.role_name))
        self.q_C = 0.0
        self.reason = ""
        self.n_samples = 0
        self.last_E = math.nan
        self.host_window: tuple[float, float] | None = None
        """The window (V) every sample is checked against (the station's, or wider on the side a cell
        that started outside it comes from); None = the station's."""
        self.approach: tuple[float, float] | None = None
        """Bounds (V) the technique stops at; the host polls faster as E nears one."""
        self._violation: str | None = None
        self._recent: list[tuple[float, float]] = []

    def _poll(self, role: Any) -> list[Sample]:
        """The technique's new samples; every sample the driver reports lost becomes a warning event."""
        samples = self.ctx.query(role.poll)
        take_gaps = getattr(role, "take_gaps", None)
        if take_gaps is not None:
            for gap in take_gaps():
                self._gap_event(gap)
        return samples

    def _gap_event(self, gap: Gap) -> None:
        t0 = getattr(self, "_tech_t0", None)

        def at(t: float | None, edge: str) -> str:
            if t is None or t0 is None:
                return edge
            return f"t = {t0 + t:.6g} s"

        count = "an unknown number of" if gap.count is None else str(gap.count)
        self.ctx.recorder.event(
            "warning", f"{self.kind}: gap in the data: {count} sample(s) lost between "
                       f"{at(gap.t_start, 'the start')} and {at(gap.t_end, 'the end of the technique')} "
                       f"(engine clock): {gap.reason}")

    def _check_limits(self, sample: Sample) -> None:
        if self._violation is not None or not self.drives_cell:
            return
        try:
            self.ctx.station.limits.check_sample(sample.potential, sample.current, self.host_window)
        except UserError as exc:
            self._violation = f"limit overshoot at t = {self._tech_t0 + sample.t:.6g} s: {exc}"

    def _poll_period(self, interval: float) -> float:
        """Poll every ``interval`` (s), faster when E heads for a bound it would reach before the next poll
        (an instrument read by the host then samples finely near a cut-off)."""
        floor = _MIN_POLL_WALL_S * self.ctx.clock.speed
        if self.approach is None or len(self._recent) < 2:
            return max(interval, floor)
        (t1, e1), (t2, e2) = self._recent[-2:]
        if not t2 > t1 or e1 == e2 or not math.isfinite(e1 + e2):
            return max(interval, floor)
        slope = (e2 - e1) / (t2 - t1)
        bound = self.approach[1] if slope > 0 else self.approach[0]
        time_left = (bound - e2) / slope
        return max(min(interval, time_left / 4.0), floor, 1e-3)

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
                self._recent = [*self._recent[-1:], (self._tech_t0 + s.t, s.potential)]
                self._check_limits(s)
                if reason is None:
                    reason = self.cutoff(s, self.q_C, self._tech_t0 - step_t0 + s.t)
            return reason

        def arm() -> bool:
            """(Re)start the technique for what is left; False when it must not start at all."""
            record(self._poll(role))  # samples of the stopped technique, on its own time base
            refusal = self.before_start(role)
            if refusal is not None:
                self.reason = refusal
                ctx.recorder.event("warning", f"{self.kind}: not started, no current passed: {refusal}")
                return False
            t_start = ctx.clock.now()
            self.start_technique(role, max(self.max_time() - (t_start - step_t0), interval))
            # the device's timer starts while the start command is handled: counting from before it keeps
            # every sample at or before the engine's now (the next step's times come after it)
            self._tech_t0, self._prev_t = t_start, 0.0
            # where the device's timer starts on the run's time axis: data recovered from the device after
            # a crash are placed by it (nanocell_daq.engine.recovery)
            ctx.recorder.event("debug", f"{TECHNIQUE_STARTED}{self._tech_t0!r} s")
            self._recent = []
            return True

        stale = self._poll(role)  # the end of the previous step's technique, read after its stop
        if stale:
            n = len(stale)
            ctx.recorder.event("info", f"{self.kind}: dropped {n} sample(s) of the previous technique")
        if not arm():
            return
        while True:
            if ctx.checkpoint():
                if not arm():
                    return
                continue
            reason = record(self._poll(role))
            elapsed = ctx.clock.now() - step_t0
            if reason is None and elapsed >= self.max_time() + interval:
                reason = f"time limit {self.max_time():g} s"
            if reason is None and self._violation is None and not role.running:
                if ctx.checkpoint():
                    if not arm():
                        return
                    continue
                reason = record(self._poll(role)) or self.device_end_reason()
            if self._violation is not None:
                role.stop()
                record(self._poll(role))
                self.reason = self._violation
                raise StepFault(f"{self.kind}: {self._violation}; technique stopped at once")
            if reason:
                role.stop()
                record(self._poll(role))  # what came in between the last poll and the stop
                self.reason = reason
                if self._violation is not None:  # a sample after the stop overshot: still an overshoot
                    raise StepFault(f"{self.kind}: {self._violation}; technique stopped")
                ctx.recorder.event(
                    "info", f"{self.kind}: stopped: {reason}; E = {self.last_E:.4g} V, Q = {self.q_C:.4g} C"
                )
                return
            ctx.progress(min(self.fraction(self.q_C, elapsed), 1.0))
            ctx.sleep(self._poll_period(interval))

    def shutdown(self) -> None:
        ctx = getattr(self, "ctx", None)
        if ctx is not None:
            ctx.role(self.role_name).stop()
