"""The step base class: a pymeasure ``Procedure`` that runs inside an engine-provided context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pymeasure.experiment import Procedure

from nanocell_daq.errors import UserError
from procedures.context import StepContext
from procedures.param_messages import in_our_words


@dataclass
class Needs:
    """What a step uses: roles, router wirings (in order of use) and chip pads (from the wirings)."""

    roles: set[str] = field(default_factory=set)
    wirings: list[str] = field(default_factory=list)


@dataclass
class Problem:
    """A reason a step cannot run on a station: the parameter concerned and a talkative message."""

    field: str
    message: str


def refused(field_name: str, check: Callable[..., None], *args: Any) -> list[Problem]:
    """Run one of the station's limit checks (``station.limits.check_*``); its refusal as a Problem.

    The message is the station package's own (requested value, limit, station file line).
    """
    try:
        check(*args)
    except UserError as exc:
        return [Problem(field_name, str(exc))]
    return []


class Step(Procedure):
    """Base of every step: ``kind`` is its name in protocol files.

    Class methods work from plain parameter dicts so a whole protocol can be checked and timed before any
    instrument is touched; ``startup/execute/shutdown`` run with a :class:`StepContext` bound by the engine.
    """

    kind: ClassVar[str] = ""
    summary_fields: ClassVar[tuple[str, ...]] = ()
    """Parameters shown in the plan table."""
    paced: ClassVar[bool] = False
    """True when an instrument's own timer paces ``execute`` (a technique streaming timed samples): its
    samples move the engine clock and the step's sleeps add nothing. Other steps declare their instrument
    time with ``ctx.elapse`` (in simulation, round trips to an emulator do not shrink with the speed)."""

    ctx: StepContext

    def bind(self, ctx: StepContext) -> Step:
        self.ctx = ctx
        return self

    def should_stop(self) -> bool:
        """pymeasure's hook; our engine raises StepAborted from checkpoints instead."""
        return False

    def emit(self, topic: str, record: Any) -> None:
        """pymeasure's hook; data goes through ``ctx.recorder`` instead."""

    # --- planning (no instruments) ---
    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Step:
        """A step with these parameters; ``ValueError``/``NameError`` name the bad parameter."""
        step = cls()
        for name, value in params.items():
            if name not in step._parameters:
                raise NameError(name)
            try:
                step.set_parameters({name: value})
            except ValueError as exc:
                raise ValueError(f"{name}: {in_our_words(step._parameters[name], exc, value)}") from None
        return step

    @classmethod
    def parameter_names(cls) -> list[str]:
        return sorted(cls()._parameters)

    def needs(self, station: Any) -> Needs:
        return Needs()

    def check(self, station: Any) -> list[Problem]:
        """Problems of these parameters against the station's roles and limits (empty when fine)."""
        return []

    def estimate_s(self, station: Any) -> float:
        """Expected duration in engine seconds."""
        return 0.0

    def host_s(self, station: Any) -> float:
        """The part of :meth:`estimate_s` spent on host round trips (s): it passes at the wall's pace at
        any speed, while the rest (instrument time) runs ``speed`` times faster on a simulated bench."""
        return 0.0

    def describe(self) -> str:
        """Key parameters, for the plan table."""
        parts = []
        for name in self.summary_fields:
            value = getattr(self, name, None)
            if value in (None, "", 0, 0.0, []):
                continue
            parts.append(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}")
        return " ".join(parts)

    def parameters_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._parameters}

    def shutdown(self) -> None:
        """Steps make their own instruments safe; the engine makes everything safe again after it."""
