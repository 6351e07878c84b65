"""The station file's schema (pydantic): instruments, roles, device, pads, wirings and device limits.

A chip with several nanowire devices lists them under ``devices:`` (each with its own pads, wirings and
limits); :meth:`StationConfig.for_device` gives the single-device station one run uses. A file without
``devices:`` is one implicit device.
"""

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


class ChipDevice(_Strict):
    """One nanowire device of a chip: what it is (as ``device:``), its own pads, wirings and limits.

    ``chip`` defaults to the top-level ``device.chip`` (else the station's name); ``limits`` to the
    top-level ``limits``. Pads under the top-level ``pads:`` are shared by every device (a common counter
    film); a device's own pad may not reuse a shared pad's name."""

    chip: str | None = None
    wire: str = ""
    materials: dict[str, str] = Field(default_factory=dict)
    dimensions: dict[str, Positive] = Field(default_factory=dict)
    nominal_capacity_Ah: Positive | None = None
    wire_position_um: WirePosition | None = None
    si_reference_um: StagePoint | None = None
    pads: dict[str, Pad] = Field(default_factory=dict)
    wirings: dict[str, Wiring] = Field(min_length=1)
    limits: LimitsConfig | None = None


class Notify(_Strict):
    """Where notifications go: apprise URLs (``mailto://``, ``slack://``, ``ntfy://``, ``json://``...)."""

    urls: list[str] = Field(min_length=1)


class StationConfig(_Strict):
    """A whole station file (see docs/station-file.md)."""

    name: str
    simulation: Simulation | None = None
    instruments: dict[str, InstrumentConfig] = Field(min_length=1)
    roles: dict[str, str] = Field(default_factory=dict)
    device: Device | None = None
    pads: dict[str, Pad] = Field(default_factory=dict)
    wirings: dict[str, Wiring] = Field(default_factory=dict)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    devices: dict[str, ChipDevice] = Field(default_factory=dict)
    notify: Notify | None = None

    @property
    def clock_speed(self) -> float:
        return self.simulation.speed if self.simulation is not None else 1.0

    @property
    def device_name(self) -> str | None:
        """The device of the chip this (single-device) station is for, when it was chosen by name."""
        chosen = getattr(self, "_device_name", None)
        if chosen is None and self.device is not None:
            chosen = (self.device.model_extra or {}).get("device")  # a stored snapshot of a chosen device
        return None if chosen is None else str(chosen)

    @property
    def all_wirings(self) -> dict[str, Wiring]:
        """Every wiring of the file: ``wirings:``, or with ``devices:`` each as ``DEVICE/WIRING``."""
        if not self.devices:
            return dict(self.wirings)
        return {f"{d}/{w}": wiring for d, entry in self.devices.items()
                for w, wiring in entry.wirings.items()}

    def for_device(self, name: str) -> StationConfig:
        """The station one device's run sees: its pads (and the shared ones), wirings and limits in the
        top-level fields, no ``devices:``. KeyError when the chip has no such device."""
        entry = self.devices[name]
        described = self.device.model_dump(exclude_none=True) if self.device is not None else {}
        own = entry.model_dump(exclude_none=True, exclude={"pads", "wirings", "limits", "chip"})
        described.update({k: v for k, v in own.items() if v not in ("", {}, None)})
        described["chip"] = entry.chip or described.get("chip") or self.name
        described["device"] = name
        data = self.model_dump(exclude={"devices", "device", "pads", "wirings", "limits"}, exclude_none=True)
        data.update(
            device=described,
            pads={**{k: v.model_dump(exclude_none=True) for k, v in self.pads.items()},
                  **{k: v.model_dump(exclude_none=True) for k, v in entry.pads.items()}},
            wirings={k: v.model_dump() for k, v in entry.wirings.items()},
            limits=(entry.limits or self.limits).model_dump(exclude_none=True),
        )
        config = StationConfig.model_validate(data)
        config._device_name = name  # type: ignore[attr-defined]
        return config
