"""Roles: the small interfaces procedures use, whatever instrument model fills them.

A station maps each role to one configured instrument; ``isinstance(obj, Role)`` (runtime-checkable
protocols) is checked when a station is built, so a mismatch fails before any output turns on.

Units are SI unless the name says otherwise: V, A, s, Hz; stage positions in micrometres (``_um``),
laser power in milliwatts (``_mW``), wavenumbers in cm-1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Sample:
    """One electrochemical reading: ``t`` s since the technique started, ``potential`` V, ``current`` A."""

    t: float
    potential: float
    current: float


@dataclass(frozen=True)
class Gap:
    """Samples a streaming instrument lost: ``count`` of them (None if unknown) after the sample at
    ``t_start`` and before the one at ``t_end`` (s since the technique started; None = its start/end)."""

    t_start: float | None
    t_end: float | None
    count: int | None
    reason: str


@dataclass(frozen=True)
class Spectrum:
    """One acquired spectrum: ``wavenumbers`` (cm-1, float64) and ``counts`` (float32), same length."""

    wavenumbers: np.ndarray
    counts: np.ndarray
    exposure_s: float
    accumulations: int


@runtime_checkable
class Instrument(Protocol):
    """What every driver offers: an identity string and a ``shutdown`` that leaves outputs safe."""

    @property
    def id(self) -> str:
        """Identity as reported by the instrument (``*IDN?`` or equivalent)."""
        ...

    def shutdown(self) -> None:
        """Turn every output off / close the cell / close the shutter; safe to call twice."""
        ...


@runtime_checkable
class SourceMeter(Instrument, Protocol):
    """Source voltage, measure current (source/drain I-V of the wire)."""

    def configure_voltage_source(self, compliance_A: float, nplc: float = 1.0,
                                 current_range_A: float | None = None) -> None:
        """Source V / measure I with a current compliance (A); ``None`` range means autorange."""
        ...

    def set_voltage(self, volts: float) -> None:
        """Set the source level (V). The output state is unchanged."""
        ...

    def measure_current(self) -> float:
        """One reading of the current (A) at the present source level."""
        ...

    def sweep_voltage(self, voltages: Sequence[float], delay_s: float) -> np.ndarray:
        """Source each voltage in turn (settling ``delay_s`` instrument time), return the currents (A).

        The output must already be on; the driver may use the instrument's list/linear sweep.
        """
        ...

    def enable_output(self) -> None:
        ...

    def disable_output(self) -> None:
        ...

    @property
    def output_enabled(self) -> bool:
        ...

    @property
    def compliance_tripped(self) -> bool:
        """True when the last reading hit the current compliance."""
        ...


@runtime_checkable
class Galvanostat(Instrument, Protocol):
    """Apply a current to the cell and stream t/E/I; cut-offs are checked by the caller or the device."""

    def start_galvanostatic(self, current_A: float, interval_s: float, max_time_s: float,
                            v_min: float, v_max: float, *, capacity_C: float | None = None,
                            window_V: tuple[float, float] | None = None) -> None:
        """Apply ``current_A`` (positive = charge), sample every ``interval_s``; the device stops at
        ``max_time_s``, when E leaves the cut-offs [v_min, v_max] or the station's ``window_V`` (V, None =
        none), or when the charge passed reaches ``capacity_C`` (C, None = no limit), where it can check
        that itself.

        Optional member ``take_gaps() -> list[Gap]``: samples a streaming driver lost since the last call
        (a sample is never lost silently)."""
        ...

    def start_ocp(self, interval_s: float, max_time_s: float) -> None:
        """Cell off; record the open-circuit potential every ``interval_s``."""
        ...

    def poll(self) -> list[Sample]:
        """Samples acquired since the last call (possibly empty); never blocks for long."""
        ...

    @property
    def running(self) -> bool:
        """True while a technique is running on the device."""
        ...

    def stop(self) -> None:
        """Abort the running technique and turn the cell off."""
        ...

    def cell_is_off(self) -> bool:
        """Read back from the device that no technique runs and the cell is off (False when it is on or
        busy); raises when the device cannot answer. What the safety code trusts before opening the matrix."""
        ...


@runtime_checkable
class Potentiostat(Galvanostat, Protocol):
    """A galvanostat that can also hold a potential and run cyclic voltammetry.

    Optional attribute ``potential_range_V: tuple[float, float]``: the lowest and highest potential (V,
    working vs reference electrode) the instrument can apply. A driver that has it refuses a hold or a CV
    vertex outside it (``ValueError``; never clips), and planning refuses such a step before anything runs.
    It is not a required member (a driver without it still fills the role); read it with
    :func:`potential_range`. Planning has no instrument to ask, so a driver class also answers
    ``declared_potential_range(options) -> tuple | None`` from its station-file options (see
    ``drivers.registry.declared_potential_range``).
    """

    def start_potentiostatic(self, potential_V: float, interval_s: float, max_time_s: float, *,
                             max_current_A: float | None = None) -> None:
        """Hold ``potential_V``; stop where the device can check |I| > ``max_current_A`` (A) itself."""
        ...

    def start_cv(self, e_begin: float, vertex1: float, vertex2: float, step_V: float,
                 scan_rate_V_s: float, cycles: int, *, max_current_A: float | None = None) -> None:
        ...


@runtime_checkable
class Stage(Instrument, Protocol):
    """An XY(Z) stage in micrometres."""

    def move_to(self, x_um: float, y_um: float, z_um: float | None = None) -> None:
        """Absolute move; returns when the move has ended."""
        ...

    def move_by(self, dx_um: float, dy_um: float, dz_um: float = 0.0) -> None:
        ...

    @property
    def position(self) -> tuple[float, float, float]:
        """(x, y, z) in micrometres."""
        ...

    def stop(self) -> None:
        ...


@runtime_checkable
class Spectrometer(Instrument, Protocol):
    """A Raman spectrometer/CCD: set exposure and accumulations, acquire one spectrum."""

    exposure_s: float
    accumulations: int

    def acquire(self) -> Spectrum:
        """Acquire one spectrum with the present settings (blocks for the exposure)."""
        ...


@runtime_checkable
class Shutter(Instrument, Protocol):
    """The laser shutter; closed is the safe state."""

    def open(self) -> None:
        ...

    def close(self) -> None:
        ...

    @property
    def is_open(self) -> bool:
        ...


@runtime_checkable
class Laser(Instrument, Protocol):
    """Laser power at the sample, in milliwatts."""

    power_mW: float


@runtime_checkable
class Router(Instrument, Protocol):
    """Moves the chip's pads between instruments by named wirings ("cycling", "conductance:S-D")."""

    @property
    def wirings(self) -> dict[str, frozenset[str]]:
        """Named wiring -> the router channels it closes."""
        ...

    def connect(self, wiring: str) -> None:
        """Open everything, then close the channels of ``wiring`` (break-before-make) and read them back."""
        ...

    def open_all(self) -> None:
        ...

    def closed_channels(self) -> frozenset[str]:
        """The channels the router reports closed (read back from the device)."""
        ...

    @property
    def current_wiring(self) -> str | None:
        """The named wiring whose channels are exactly the closed ones, else None."""
        ...


def potential_range(obj: object) -> tuple[float, float] | None:
    """``obj.potential_range_V`` (V) if the driver (instance or class) declares one, else None."""
    value = getattr(obj, "potential_range_V", None)
    if value is None:
        return None
    low, high = (float(v) for v in value)
    return low, high


ROLES: dict[str, type] = {
    "source_meter": SourceMeter,
    "galvanostat": Galvanostat,
    "potentiostat": Potentiostat,
    "stage": Stage,
    "spectrometer": Spectrometer,
    "shutter": Shutter,
    "laser": Laser,
    "router": Router,
}
"""Role name as written in a station file -> the interface the instrument must fill."""
