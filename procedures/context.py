"""What a step may ask of the engine: clock, roles, router, recorder, pause/abort checkpoints.

Steps say WHAT to measure; the engine implements this context and owns HOW (clock scaling in simulation,
storage, pausing, aborting, router switching, safe shutdown). Steps never import the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from drivers.roles import Spectrum

T = TypeVar("T")


class StepAborted(Exception):
    """The run was asked to abort; raised by :meth:`StepContext.checkpoint` between points."""


class StepFault(Exception):
    """The step cannot go on safely (instrument fault, compliance trip, bad state); the engine ends it."""


class ComplianceTrip(StepFault):
    """The source meter hit its current compliance."""


class InstrumentFault(StepFault):
    """An instrument call failed (timeout, dropped connection, garbled reply, instrument error)."""

    def __init__(self, instrument: str, call: str, cause: BaseException) -> None:
        super().__init__(f"{instrument}.{call}: {type(cause).__name__}: {cause}")
        self.instrument = instrument
        self.call = call
        self.cause = cause
        self.link_error = False
        """True for a dropped connection / VISA I/O error (a reconnect may help)."""


class Clock(Protocol):
    """The engine clock, in seconds; simulation runs it ``speed`` times faster than the wall clock."""

    speed: float

    def now(self) -> float: ...


class Recorder(Protocol):
    """Where a step's data goes (the engine forwards to the store's writer, tagged with the step)."""

    def cycling(self, t: float, E: float, I: float, Q: float) -> None:  # noqa: E741
        """t s (engine clock), E V, I A, Q C passed in this step."""
        ...

    def iv(self, V: float, I: float, direction: str, pair: str) -> None:  # noqa: E741
        ...

    def map_grid(
        self, x0_um: float, y0_um: float, dx_um: float, dy_um: float, nx: int, ny: int, z_um: float
    ) -> int: ...

    def spectrum(
        self,
        x_um: float,
        y_um: float,
        z_um: float,
        spectrum: Spectrum,
        grid_id: int | None,
        pixel: int | None,
    ) -> None: ...

    def event(self, level: str, message: str) -> None: ...


class StepContext(Protocol):
    """Injected into every step by the engine (one per running step)."""

    clock: Clock
    recorder: Recorder
    station: Any
    """A :class:`nanocell_daq.engine.stationview.StationView`: device position, wirings and the station's
    :class:`nanocell_daq.station.Limits` (``station.limits.check_*``)."""

    def role(self, name: str) -> Any:
        """The instrument filling ``name`` (see :data:`drivers.roles.ROLES`)."""
        ...

    def use_wiring(self, wiring: str) -> None:
        """Ask the engine to route the chip for ``wiring`` (all outputs off, break-before-make, read back)."""
        ...

    def checkpoint(self) -> bool:
        """Call between points. Raises :class:`StepAborted` on abort; blocks while paused. Returns True when
        the engine turned every output off since the last call (a pause): the step must re-arm."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of engine time (wakes early on abort/pause; the caller then checkpoints)."""
        ...

    def elapse(self, seconds: float) -> None:
        """The instruments spent ``seconds`` of engine time the host did not wait for (settling, integration,
        an exposure, a stage move): the engine clock counts it where the wall clock does not (simulation)."""
        ...

    def query(self, fn: Callable[..., T], *args: Any) -> T:
        """Call an instrument function that is safe to repeat (a reading, a setting, an absolute move);
        retried on a fault (reconnecting after a dropped link)."""
        ...

    def progress(self, fraction: float) -> None:
        """How far this step is, 0..1."""
        ...
