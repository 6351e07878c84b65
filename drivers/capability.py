"""What an instrument model can do: its source and measure ranges with the datasheet's accuracy.

A :class:`Capability` per model (Keithley 2450; 2636B, 2635B, 2602B of the 2600B series; PalmSens EmStat4 LR
and HR) lists, per quantity, the ranges it sources and measures: full scale, resolution, accuracy as
``gain`` (fraction of the setting or reading) + ``offset`` (A or V), and rms noise where the datasheet gives
it. Planning asks a driver class for the capability its station-file options declare
(``declared_capability(options)``, see :func:`for_driver`) and judges each current a step asks for
(:meth:`Capability.judge_source`). Every table names its datasheet; a number that could not be checked
against a retrievable copy of it is marked so (``None`` where no number is known: never guessed).

Units: A and V. ``simulated_instruments.datasheets`` holds a copy of the tables the emulators need (the
emulators must not import drivers); ``tests/simulated_instruments/test_datasheets.py`` checks they agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

WARN_FRACTION = 0.05
"""Warn when the expected error of a sourced value exceeds this fraction of the setting."""
REFUSE_FRACTION = 1.0
"""Refuse when the expected error reaches this fraction of the setting: the instrument may then deliver
zero or the opposite sign. A setting below the range's programming resolution is refused too."""


@dataclass(frozen=True)
class Range:
    """One range: full scale, resolution, accuracy ``+-(gain * |value| + offset)``, rms noise (None:
    the datasheet gives none, or it could not be checked)."""

    full_scale: float
    resolution: float | None
    gain: float | None
    offset: float | None
    noise_rms: float | None = None

    def error(self, value: float) -> float | None:
        """Expected worst-case error (same unit) of ``value`` on this range; None when unknown."""
        if self.gain is None or self.offset is None:
            return None
        return self.gain * abs(value) + self.offset


@dataclass(frozen=True)
class Verdict:
    """What planning makes of one sourced value: ``level`` is ``ok``, ``warn`` or ``refuse``."""

    level: str
    value: float
    range: Range | None
    error: float | None
    reason: str

    def delivers(self, unit: str = "A") -> str:
        """``20 pA +- 100 pA`` (what the instrument would actually deliver)."""
        err = "unknown error" if self.error is None else f"+- {si(self.error, unit)}"
        return f"{si(self.value, unit)} {err}"


@dataclass(frozen=True)
class Capability:
    """Ranges of one instrument model. ``source``/``measure`` map ``"current"``/``"voltage"`` to ranges,
    smallest first; ``limit`` maps the quantity a compliance limits to (min, max) settable values."""

    model: str
    datasheet: str
    source: dict[str, tuple[Range, ...]]
    measure: dict[str, tuple[Range, ...]]
    limit: dict[str, tuple[float, float]] = field(default_factory=dict)
    potential_range_V: tuple[float, float] | None = None
    unverified: str = ""
    """What in this table could not be checked against the datasheet (empty: all of it was)."""

    def smallest_source_range(self, quantity: str = "current") -> Range:
        return self.source[quantity][0]

    def source_range_for(self, quantity: str, value: float) -> Range | None:
        """The smallest source range that holds ``|value|``; None when none does."""
        return _range_for(self.source[quantity], value)

    def measure_range_for(self, quantity: str, value: float) -> Range | None:
        return _range_for(self.measure[quantity], value)

    def judge_source(self, quantity: str, value: float) -> Verdict:
        """Refuse a value no range holds, one below the range's resolution, or one whose expected error is
        at least :data:`REFUSE_FRACTION` of it; warn above :data:`WARN_FRACTION`; else ok."""
        unit = "A" if quantity == "current" else "V"
        rng = self.source_range_for(quantity, value)
        if rng is None:
            top = self.source[quantity][-1].full_scale
            return Verdict("refuse", value, None, None, f"beyond its largest source range {si(top, unit)}")
        err = rng.error(value)
        where = f"on its {si(rng.full_scale, unit)} range"
        if rng.resolution is not None and abs(value) < rng.resolution:
            return Verdict("refuse", value, rng, err,
                           f"below the {si(rng.resolution, unit)} programming resolution {where}")
        if err is None:
            return Verdict("ok", value, rng, None, f"{where} (accuracy not known from the datasheet)")
        share = err / abs(value) if value else math.inf
        if share >= REFUSE_FRACTION:
            return Verdict("refuse", value, rng, err, f"{share:.0%} of the setting {where}")
        if share > WARN_FRACTION:
            return Verdict("warn", value, rng, err, f"{share:.0%} of the setting {where}")
        return Verdict("ok", value, rng, err, where)


def _range_for(ranges: tuple[Range, ...], value: float) -> Range | None:
    for rng in ranges:
        if abs(value) <= rng.full_scale * (1 + 1e-9):
            return rng
    return None


def si(value: float, unit: str) -> str:
    """``2e-11, "A"`` -> ``20 pA``."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {unit}"
    for factor, prefix in ((1, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f"),
                           (1e-18, "a")):
        if abs(value) >= factor * (1 - 1e-9):
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:g} {unit}"


def _ranges(*rows: tuple[float, float | None, float | None, float | None, float | None]) -> tuple[Range, ...]:
    return tuple(Range(*row) for row in rows)


# --- Keithley 2450 ---
K2450 = Capability(
    model="Keithley 2450",
    datasheet="Keithley Model 2450 Interactive SourceMeter datasheet, SPEC-2450 Rev. A (July 2013), "
              "current and voltage specifications, 23 C +-5 C, 1 year, 1 PLC",
    source={
        # full scale, programming resolution, +-(% setting + amps), noise rms (<10 Hz)
        "current": _ranges((10e-9, 500e-15, 0.00100, 100e-12, 500e-15),
                           (100e-9, 5e-12, 0.00060, 150e-12, 500e-15),
                           (1e-6, 50e-12, 0.00025, 400e-12, 5e-12),
                           (10e-6, 500e-12, 0.00025, 1.5e-9, 40e-12),
                           (100e-6, 5e-9, 0.00020, 15e-9, 400e-12),
                           (1e-3, 50e-9, 0.00020, 150e-9, 5e-9),
                           (10e-3, 500e-9, 0.00020, 1.5e-6, 40e-9),
                           (100e-3, 5e-6, 0.00025, 15e-6, 100e-9),
                           (1.0, 50e-6, 0.00067, 900e-6, 3e-6)),
        "voltage": _ranges((20e-3, 500e-9, 0.00100, 200e-6, 1e-6),
                           (200e-3, 5e-6, 0.00015, 200e-6, 1e-6),
                           (2.0, 50e-6, 0.00020, 300e-6, 10e-6),
                           (20.0, 500e-6, 0.00015, 2.4e-3, 100e-6),
                           (200.0, 5e-3, 0.00015, 24e-3, 1e-3)),
    },
    measure={
        # full scale, display resolution, +-(% reading + amps); the datasheet gives no measure noise
        "current": _ranges((10e-9, 10e-15, 0.0010, 50e-12, None),
                           (100e-9, 100e-15, 0.00060, 100e-12, None),
                           (1e-6, 1e-12, 0.00025, 300e-12, None),
                           (10e-6, 10e-12, 0.00025, 700e-12, None),
                           (100e-6, 100e-12, 0.00020, 6e-9, None),
                           (1e-3, 1e-9, 0.00020, 60e-9, None),
                           (10e-3, 10e-9, 0.00020, 600e-9, None),
                           (100e-3, 100e-9, 0.00025, 6e-6, None),
                           (1.0, 1e-6, 0.00030, 500e-6, None)),
        "voltage": _ranges((20e-3, 10e-9, 0.00100, 150e-6, None),
                           (200e-3, 100e-9, 0.00012, 200e-6, None),
                           (2.0, 1e-6, 0.00012, 300e-6, None),
                           (20.0, 10e-6, 0.00015, 1e-3, None),
                           (200.0, 100e-6, 0.00015, 10e-3, None)),
    },
    # limit (compliance) settings: the 2450 Reference Manual (2450-901-01) ILIMit/VLIMit parameter ranges as
    # the project's 2450 emulator accepts them (1 nA..1.05 A, 20 mV..210 V); not re-checked here
    limit={"current": (1e-9, 1.05), "voltage": (0.02, 210.0)},
    unverified="the limit (compliance) setting ranges",
)

# --- Keithley 2600B series ---
_2600B_DATASHEET = (
    "Keithley Series 2600B System SourceMeter SMU Instruments datasheet (2634B/2635B/2636B and "
    "2601B/2602B/2604B specification tables, 23 C +-5 C, 1 year); range lists from the Series 2600B "
    "Reference Manual 2600BS-901-01 Rev. F (August 2021), calibration chapter")
_2600B_UNVERIFIED = (
    "accuracy, resolution and noise: the datasheet tables were not retrievable while this was written; the "
    "numbers are as remembered from it and must be checked against the printed datasheet before relying on "
    "them. The range lists (1 nA lowest source range, 100 pA measure-only range on the 2635B/2636B, 100 nA "
    "lowest on the 2601B/2602B) are verified")
_LOW_CURRENT_SOURCE = _ranges(  # 2634B/2635B/2636B: 1 nA .. 1.5 A
    (1e-9, 20e-15, 0.0015, 2e-12, 800e-15),
    (10e-9, 200e-15, 0.0015, 5e-12, 2e-12),
    (100e-9, 2e-12, 0.0006, 50e-12, 5e-12),
    (1e-6, 20e-12, 0.0003, 700e-12, 25e-12),
    (10e-6, 200e-12, 0.0003, 5e-9, 60e-12),
    (100e-6, 2e-9, 0.0003, 60e-9, 3e-9),
    (1e-3, 20e-9, 0.0003, 300e-9, 6e-9),
    (10e-3, 200e-9, 0.0003, 6e-6, 200e-9),
    (100e-3, 2e-6, 0.0003, 30e-6, 600e-9),
    (1.0, 20e-6, 0.0005, 1.8e-3, 70e-6),
    (1.5, 50e-6, 0.0006, 4e-3, 150e-6),
)
_LOW_CURRENT_MEASURE = _ranges(  # 2635B/2636B: 100 pA (measure only) .. 1.5 A
    (100e-12, 1e-15, 0.0015, 120e-15, None),
    (1e-9, 10e-15, 0.0015, 240e-15, None),
    (10e-9, 100e-15, 0.0015, 3e-12, None),
    (100e-9, 1e-12, 0.0006, 40e-12, None),
    (1e-6, 10e-12, 0.00025, 400e-12, None),
    (10e-6, 100e-12, 0.00025, 1.5e-9, None),
    (100e-6, 1e-9, 0.0002, 25e-9, None),
    (1e-3, 10e-9, 0.0002, 200e-9, None),
    (10e-3, 100e-9, 0.0002, 2.5e-6, None),
    (100e-3, 1e-6, 0.0002, 20e-6, None),
    (1.0, 10e-6, 0.0003, 1.5e-3, None),
    (1.5, 100e-6, 0.0005, 3.5e-3, None),
)
_200V_SOURCE = _ranges((200e-3, 5e-6, 0.0002, 375e-6, 20e-6), (2.0, 50e-6, 0.0002, 600e-6, 50e-6),
                       (20.0, 500e-6, 0.0002, 5e-3, 300e-6), (200.0, 5e-3, 0.0002, 50e-3, 2e-3))
_200V_MEASURE = _ranges((200e-3, 1e-6, 0.00015, 225e-6, None), (2.0, 10e-6, 0.0002, 350e-6, None),
                        (20.0, 100e-6, 0.00015, 5e-3, None), (200.0, 1e-3, 0.00015, 50e-3, None))

K2636B = Capability(
    model="Keithley 2636B", datasheet=_2600B_DATASHEET,
    source={"current": _LOW_CURRENT_SOURCE, "voltage": _200V_SOURCE},
    measure={"current": _LOW_CURRENT_MEASURE, "voltage": _200V_MEASURE},
    limit={"current": (100e-12, 1.5), "voltage": (20e-3, 200.0)},
    unverified=_2600B_UNVERIFIED,
)
K2635B = Capability(  # one channel of the same low-current SMU as the 2636B
    model="Keithley 2635B", datasheet=_2600B_DATASHEET,
    source={"current": _LOW_CURRENT_SOURCE, "voltage": _200V_SOURCE},
    measure={"current": _LOW_CURRENT_MEASURE, "voltage": _200V_MEASURE},
    limit={"current": (100e-12, 1.5), "voltage": (20e-3, 200.0)},
    unverified=_2600B_UNVERIFIED,
)
K2602B = Capability(  # 2601B/2602B/2604B: 100 nA .. 3 A, 100 mV .. 40 V
    model="Keithley 2602B", datasheet=_2600B_DATASHEET,
    source={
        "current": _ranges((100e-9, 2e-12, 0.0006, 100e-12, 5e-12), (1e-6, 20e-12, 0.0003, 800e-12, 25e-12),
                           (10e-6, 200e-12, 0.0003, 5e-9, 60e-12), (100e-6, 2e-9, 0.0003, 60e-9, 3e-9),
                           (1e-3, 20e-9, 0.0003, 300e-9, 6e-9), (10e-3, 200e-9, 0.0003, 6e-6, 200e-9),
                           (100e-3, 2e-6, 0.0003, 30e-6, 600e-9), (1.0, 20e-6, 0.0005, 1.8e-3, 70e-6),
                           (3.0, 50e-6, 0.0006, 4e-3, 150e-6)),
        "voltage": _ranges((100e-3, 5e-6, 0.0002, 250e-6, 20e-6), (1.0, 50e-6, 0.0002, 400e-6, 50e-6),
                           (6.0, 50e-6, 0.0002, 1.8e-3, 100e-6), (40.0, 500e-6, 0.0002, 12e-3, 500e-6)),
    },
    measure={
        "current": _ranges((100e-9, 1e-12, 0.0005, 100e-12, None), (1e-6, 10e-12, 0.00025, 500e-12, None),
                           (10e-6, 100e-12, 0.00025, 1.5e-9, None), (100e-6, 1e-9, 0.0002, 25e-9, None),
                           (1e-3, 10e-9, 0.0002, 200e-9, None), (10e-3, 100e-9, 0.0002, 2.5e-6, None),
                           (100e-3, 1e-6, 0.0002, 20e-6, None), (1.0, 10e-6, 0.0003, 1.5e-3, None),
                           (3.0, 10e-6, 0.0005, 3.5e-3, None)),
        "voltage": _ranges((100e-3, 1e-6, 0.00015, 150e-6, None), (1.0, 10e-6, 0.00015, 200e-6, None),
                           (6.0, 10e-6, 0.00015, 1e-3, None), (40.0, 100e-6, 0.00015, 8e-3, None)),
    },
    limit={"current": (10e-9, 3.0), "voltage": (10e-3, 40.0)},
    unverified=_2600B_UNVERIFIED + "; the limit setting ranges",
)

# --- PalmSens EmStat4 ---
_EMSTAT4_DATASHEET = (
    "PalmSens EmStat4 series specifications (EmStat4 LR / EmStat4 HR); current range lists and potential "
    "ranges as in PalmSens' MethodSCRIPT example code (MethodSCRIPT_Examples, mscript.py range table)")
_EMSTAT4_UNVERIFIED = (
    "accuracy: the specification sheet was not retrievable; +-(0.2 % of setting + 0.2 % of range) is as "
    "remembered from it and must be checked. Resolution and noise: unknown (None). The range lists and "
    "potential ranges are verified")


def _emstat_current(*full_scales: float) -> tuple[Range, ...]:
    return tuple(Range(fs, None, 0.002, 0.002 * fs, None) for fs in full_scales)


EMSTAT4_LR = Capability(
    model="EmStat4 LR", datasheet=_EMSTAT4_DATASHEET,
    source={"current": _emstat_current(1e-9, 10e-9, 100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3),
            "voltage": (Range(3.0, None, None, None),)},
    measure={"current": _emstat_current(1e-9, 10e-9, 100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3),
             "voltage": (Range(3.0, None, None, None),)},
    potential_range_V=(-3.0, 3.0),
    unverified=_EMSTAT4_UNVERIFIED,
)
EMSTAT4_HR = Capability(
    model="EmStat4 HR", datasheet=_EMSTAT4_DATASHEET,
    source={"current": _emstat_current(100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3),
            "voltage": (Range(6.0, None, None, None),)},
    measure={"current": _emstat_current(100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3),
             "voltage": (Range(6.0, None, None, None),)},
    potential_range_V=(-6.0, 6.0),
    unverified=_EMSTAT4_UNVERIFIED,
)

CAPABILITIES: dict[str, Capability] = {
    "2450": K2450, "2636B": K2636B, "2635B": K2635B, "2602B": K2602B,
    "es4_lr": EMSTAT4_LR, "es4_hr": EMSTAT4_HR,
}
"""Model key (as a station file's ``options: {model: ...}`` names it) -> capability."""

KEITHLEY2600_MODELS = ("2636B", "2635B", "2602B")
"""Models the ``keithley2600`` driver family declares with ``options: {model: ...}``."""


def keithley2600_capability(options: dict[str, Any]) -> Capability | None:
    """The capability of a ``keithley2600`` station entry: its ``model`` option; None when it names none.
    ValueError for a model without a table. (For the driver's ``declared_capability`` classmethod.)"""
    model = options.get("model")
    if model is None:
        return None
    key = str(model).upper()
    if key not in KEITHLEY2600_MODELS:
        raise ValueError(f"model must be one of {', '.join(KEITHLEY2600_MODELS)} (got {model!r})")
    return CAPABILITIES[key]


FALLBACK_DECLARATIONS = {"keithley2600": keithley2600_capability}
"""Drivers whose class does not (yet) answer ``declared_capability``: the function that does."""


def model_in_identity(capability: Capability, identity: str) -> bool:
    """True when an instrument's identity names this capability's model (``MODEL 2636B``, ``es4_hr``)."""
    text = identity.lower().replace(" ", "")
    if capability.model.startswith("Keithley"):
        return capability.model.split()[-1].lower() in text
    return ("es4_" + capability.model.split()[-1].lower()) in text or (
        "mes4" + capability.model.split()[-1].lower()) in text
