"""What the emulated SMU measures: the wiring path, compliance clamping, ranges, quantization and noise.

Kept apart from the SCPI state machine (``keithley2450``) so the physics of a reading is readable on its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

CURRENT_RANGES = (10e-9, 100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0)
VOLTAGE_RANGES = (20e-3, 200e-3, 2.0, 20.0, 200.0)
OVERFLOW = 9.9e37
#: leakage of an open path (terminals on nothing, or across the cell's GOhm-TOhm electrolyte), ohm
OPEN_RESISTANCE = 1e13
#: instrument current noise, rms, as a fraction of the range at NPLC 1 (10 nA range -> 200 fA; the model
#: adds its own)
CURRENT_NOISE_FRACTION = 2e-5
VOLTAGE_NOISE = 5e-6  # V rms at NPLC 1


def range_for(value: float, ranges: tuple[float, ...]) -> float:
    """The smallest range that holds ``|value|`` (with the instrument's 5 % over-range)."""
    for r in ranges:
        if abs(value) <= 1.05 * r:
            return r
    return ranges[-1]


def snap_range(requested: float, ranges: tuple[float, ...]) -> float:
    """``:SENS:CURR:RANG x`` selects the smallest range >= x."""
    for r in ranges:
        if abs(requested) <= r * (1 + 1e-9):
            return r
    return ranges[-1]


@dataclass(frozen=True)
class Reading:
    """One reading: the source value actually applied (V or A), the measured value, the trip flag."""

    source: float
    value: float
    tripped: bool
    overflow: bool


@dataclass
class SmuSettings:
    """The part of the SMU state a reading depends on."""

    source_func: str  # "VOLT" | "CURR"
    level: float
    ilim: float
    vlim: float
    sense_func: str  # "CURR" | "VOLT" | "RES"
    sense_range: float
    sense_auto: bool
    nplc: float
    output: bool
    off_mode: str  # NORM | HIMP | ZERO | GUAR


def measure(model: Any, path: tuple[str, ...], t: float, s: SmuSettings, rng: np.random.Generator, *,
            force_trip: bool = False, current_ranges: tuple[float, ...] = CURRENT_RANGES,
            voltage_ranges: tuple[float, ...] = VOLTAGE_RANGES,
            current_error: Callable[[float, float], float] | None = None) -> Reading:
    """A reading at simulated time ``t`` through ``path`` (see ``Wiring.smu_path``); the range tables are
    the instrument's (2450 by default). ``current_error(range A, current A)``, when given, returns the
    current as read on that range (its datasheet offset and noise: ``datasheets.apply_range_error``)."""
    if s.source_func == "VOLT":
        volts, amps, tripped = _source_voltage(model, path, t, s, force_trip)
    else:
        volts, amps, tripped = _source_current(model, path, t, s, force_trip)
    scale = 1.0 / math.sqrt(max(s.nplc, 0.01))
    if s.sense_func == "VOLT":
        rng_v = range_for(volts, voltage_ranges) if s.sense_auto else s.sense_range
        value = volts + rng.normal(0.0, VOLTAGE_NOISE * scale)
        res = rng_v * 1e-6
        overflow = abs(volts) > 1.05 * rng_v
        value = round(value / res) * res
    else:
        rng_i = range_for(amps, current_ranges) if s.sense_auto else s.sense_range
        value = amps + rng.normal(0.0, CURRENT_NOISE_FRACTION * rng_i * scale)
        if current_error is not None:
            value = current_error(rng_i, value)
        res = rng_i * 1e-6  # 10 nA range -> 10 fA resolution
        value = round(value / res) * res
        overflow = abs(amps) > 1.05 * rng_i
        if s.sense_func == "RES":
            value = volts / value if value else OVERFLOW
    if overflow:
        value = OVERFLOW
    source = volts if s.source_func == "VOLT" else amps
    return Reading(source, value, tripped, overflow)


def _source_voltage(model: Any, path: tuple[str, ...], t: float, s: SmuSettings,
                    force_trip: bool) -> tuple[float, float, bool]:
    if not s.output:
        if s.off_mode == "HIMP":
            return 0.0, 0.0, False
        volts = 0.0
    else:
        volts = s.level
    amps = _current_at(model, path, t, volts)
    if force_trip or abs(amps) > s.ilim:
        # the SMU becomes a current source at ILIM: the voltage falls until |I| = ILIM
        sign = math.copysign(1.0, amps if amps else (volts or 1.0))
        if amps and abs(amps) > s.ilim:
            volts = volts * s.ilim / abs(amps)
        return volts, sign * s.ilim, True
    return volts, amps, False


def _current_at(model: Any, path: tuple[str, ...], t: float, volts: float) -> float:
    if path[0] == "wire":
        return float(model.wire_current(t, volts, pad_hi=path[1], pad_lo=path[2]))
    return volts / OPEN_RESISTANCE


def _source_current(model: Any, path: tuple[str, ...], t: float, s: SmuSettings,
                    force_trip: bool) -> tuple[float, float, bool]:
    amps = s.level if s.output else 0.0
    if not s.output and s.off_mode == "HIMP":
        volts = float(model.cell_voltage(t)) if path[0] == "cell" else 0.0
        return volts, 0.0, False
    if path[0] == "cell":
        volts = float(model.cell_voltage(t))
    elif path[0] == "wire":
        g = float(model.wire_conductance(t, pad_a=path[1], pad_b=path[2]))
        volts = amps / g if g > 0 else math.copysign(OVERFLOW, amps or 1.0)
    else:
        volts = amps * OPEN_RESISTANCE
    if force_trip or abs(volts) > s.vlim:
        sign = math.copysign(1.0, volts if volts else (amps or 1.0))
        return sign * s.vlim, amps, True
    return volts, amps, False
