"""The station file's schema (pydantic): instruments, roles, device, pads, wirings and device limits."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Positive = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    # NaN passes every range check (all comparisons are false), so no number of a station may be NaN or inf
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Simulation(_Strict):
    """Only for a simulated bench: the engine clock runs ``speed`` times faster than the wall clock;
    ``control`` is the bench's loopback control endpoint (``127.0.0.1:PORT``, for ``nanocell sim state``)."""

    speed: Positive = 1.0
    control: str | None = Field(default=None, pattern=r"^(127\.0\.0\.1|localhost):[0-9]{1,5}$")


class InstrumentConfig(_Strict):
    """One instrument: driver name (or ``package.module:Class``), VISA resource, connection options."""

    driver: str
    resource: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("options")
    @classmethod
    def _timeout_positive(cls, value: dict[str, Any]) -> dict[str, Any]:
        timeout = value.get("timeout_ms")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)
                                    or timeout <= 0):
            raise ValueError(f"timeout_ms must be a positive number of milliseconds (got {timeout!r})")
        return value


class WirePosition(_Strict):
    """Stage coordinates (um) of the wire's ends."""

    start: tuple[float, float]
    end: tuple[float, float]
    z: float = 0.0


class StagePoint(_Strict):
    """One stage position (um)."""

    x: float
    y: float
    z: float = 0.0


class Device(BaseModel):
    """The chip under test; unknown keys are kept (and stored with every run)."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    chip: str
    wire: str = ""
    materials: dict[str, str] = Field(default_factory=dict)
    dimensions: dict[str, Positive] = Field(default_factory=dict)
    nominal_capacity_Ah: Positive | None = None
    wire_position_um: WirePosition | None = None
    si_reference_um: StagePoint | None = None


class Pad(_Strict):
    """A chip pad: a contact on the wire (``along_wire_um`` from its start), the counter film, a reference."""

    kind: Literal["contact", "counter", "reference"]
    along_wire_um: float | None = None


class Wiring(_Strict):
    """A named wiring: the instrument it connects, the router channels it closes, the pads it touches."""

    instrument: str
    channels: list[str] = Field(min_length=1)
    pads: list[str] = Field(default_factory=list)


class CyclingLimits(_Strict):
    """Electrochemistry limits: max |I| (A) and the allowed voltage window (V)."""

    max_current_A: Annotated[float, Field(gt=0, le=0.1)]
    voltage_window_V: tuple[float, float]

    @field_validator("voltage_window_V")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError(f"window must be [low, high] with low < high (got [{value[0]:g}, {value[1]:g}])")
        return value


class WiringLimits(_Strict):
    """Limits of an I-V on one wiring: max |I| (A), max |V| (V)."""

    max_current_A: Annotated[float, Field(gt=0, le=0.1)]
    max_voltage_V: Annotated[float, Field(gt=0, le=200)] | None = None


class StageTravel(_Strict):
    """Allowed stage region (um) per axis as [low, high]."""

    x: tuple[float, float]
    y: tuple[float, float]
    z: tuple[float, float] | None = None

    @field_validator("x", "y", "z")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not value[0] < value[1]:
            raise ValueError(f"range must be [low, high] with low < high (got [{value[0]:g}, {value[1]:g}])")
        return value


class LimitsConfig(_Strict):
    """Device safety limits; every one is optional (a missing limit is not checked)."""

    cycling: CyclingLimits | None = None
    wirings: dict[str, WiringLimits] = Field(default_factory=dict)
    max_laser_power_mW: Annotated[float, Field(gt=0, le=1000)] | None = None
    stage_travel_um: StageTravel | None = None


class StationConfig(_Strict):
    """A whole station file (see CONVENTIONS.md, "Station file")."""

    name: str
    simulation: Simulation | None = None
    instruments: dict[str, InstrumentConfig] = Field(min_length=1)
    roles: dict[str, str] = Field(default_factory=dict)
    device: Device | None = None
    pads: dict[str, Pad] = Field(default_factory=dict)
    wirings: dict[str, Wiring] = Field(default_factory=dict)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)

    @property
    def clock_speed(self) -> float:
        return self.simulation.speed if self.simulation is not None else 1.0
