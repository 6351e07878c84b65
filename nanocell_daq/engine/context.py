"""The context each running step gets: clock, guarded roles, router requests, recorder, checkpoints."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from drivers.roles import Spectrum
from procedures.context import InstrumentFault

if TYPE_CHECKING:
    from nanocell_daq.engine.runner import Engine

T = TypeVar("T")

QUERY_ATTEMPTS = 3


class StepRecorder:
    """Forwards a step's data to the store's writer, tagged with its step id."""

    def __init__(self, engine: Engine, step_id: int, label: str) -> None:
        self.engine, self.step_id, self.label = engine, step_id, label
        self.writer = engine.writer
        self.n_points = 0

    def cycling(self, t: float, E: float, I: float, Q: float) -> None:  # noqa: E741
        self.writer.cycling_point(self.step_id, t, E, I, Q)
        self.engine.clock.reach(t)
        self.n_points += 1

    def iv(self, V: float, I: float, direction: str, pair: str) -> None:  # noqa: E741
        self.writer.iv_point(self.step_id, V, I, direction, pair, t=self.engine.clock.now())
        self.n_points += 1

    def map_grid(
        self, x0_um: float, y0_um: float, dx_um: float, dy_um: float, nx: int, ny: int, z_um: float
    ) -> int:
        return self.engine.store.add_map_grid(
            self.engine.run_id,
            x0_um,
            y0_um,
            dx_um,
            dy_um,
            nx,
            ny,
            z_um=z_um,
            step_id=self.step_id,
            label=self.label,
        )

    def spectrum(
        self,
        x_um: float,
        y_um: float,
        z_um: float,
        spectrum: Spectrum,
        grid_id: int | None,
        pixel: int | None,
    ) -> None:
        axis_id = self.engine.axis_id(spectrum.wavenumbers)
        self.writer.spectrum(
            self.step_id,
            x_um,
            y_um,
            z_um,
            spectrum.exposure_s,
            spectrum.counts,
            axis_id,
            grid_id,
            pixel,
            t=self.engine.clock.now(),
        )
        self.n_points += 1

    def event(self, level: str, message: str) -> None:
        self.engine.log(level, message, self.step_id)


class EngineStepContext:
    """Implements :class:`procedures.context.StepContext` for one running step (one lane)."""

    def __init__(self, engine: Engine, step_id: int, label: str, lane: int, paced: bool = False) -> None:
        self.engine = engine
        self.paced = paced
        """The step's instrument paces the time (its samples move the clock): sleeps add no engine time."""
        self.clock = engine.clock
        self.station = engine.view
        self.recorder = StepRecorder(engine, step_id, label)
        self.lane = lane
        self.fraction = 0.0
        self.wall0 = time.monotonic()
        """Wall clock (monotonic s) when the step started, for the ETA."""
        self.estimate_s = 0.0
        """Estimated duration of the step (engine s), for the ETA."""
        self.planned_wall_s = 0.0
        """The plan's wall time of the step (``engine.eta.step_wall_s``), for the ETA."""
        self._seen_generation = engine.control.safe_generation

    def role(self, name: str) -> Any:
        return self.engine.instruments.role(name)

    def use_wiring(self, wiring: str) -> None:
        self.engine.route(wiring)

    def checkpoint(self) -> bool:
        engine = self.engine
        engine.wait_if_paused()
        if engine.control.safe_generation != self._seen_generation:
            self._seen_generation = engine.control.safe_generation
            return True
        return False

    def sleep(self, seconds: float) -> None:
        self.engine.control.wait(self.clock.wall(seconds))
        if not self.paced:
            self.clock.elapse(seconds)

    def elapse(self, seconds: float) -> None:
        self.clock.elapse(seconds)

    def query(self, fn: Callable[..., T], *args: Any) -> T:
        last: InstrumentFault | None = None
        for attempt in range(QUERY_ATTEMPTS):
            try:
                return fn(*args)
            except InstrumentFault as exc:
                last = exc
                if getattr(exc, "link_error", False):
                    self.engine.reconnect(exc.instrument)
                self.engine.log(
                    "warning",
                    f"query failed (attempt {attempt + 1}/{QUERY_ATTEMPTS}), retrying: {exc}",
                    self.recorder.step_id,
                )
                self.engine.control.raise_if_aborted()
        assert last is not None
        raise last

    def progress(self, fraction: float) -> None:
        self.fraction = min(max(fraction, 0.0), 1.0)


def digest(array: Any) -> str:
    return hashlib.sha1(memoryview(array).tobytes()).hexdigest()
