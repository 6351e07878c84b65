"""The datasheet ranges the emulators need, copied from ``drivers.capability`` (emulators never import
drivers; ``tests/simulated_instruments/test_datasheets.py`` checks the copies agree), and the error an
emulated instrument adds on the range in use.

Rows are ``(full scale, resolution, gain, offset, rms noise)`` in A or V, smallest range first; ``None``
where the datasheet gives no number (see ``drivers.capability`` for the datasheets and what is unverified).

What an emulator adds to a value on a range (:func:`apply_range_error`): a fixed offset, drawn once per
instrument, quantity and range uniformly within +-half the datasheet's offset bound (a typical instrument
is inside its specification; the draw is seeded, so a bench with the same seed has the same offsets), plus
Gaussian noise of the datasheet's rms where it gives one.
"""

from __future__ import annotations

import functools
import zlib

import numpy as np

Row = tuple[float, float | None, float | None, float | None, float | None]

K2450_SOURCE_CURRENT: tuple[Row, ...] = (
    (10e-9, 500e-15, 0.00100, 100e-12, 500e-15), (100e-9, 5e-12, 0.00060, 150e-12, 500e-15),
    (1e-6, 50e-12, 0.00025, 400e-12, 5e-12), (10e-6, 500e-12, 0.00025, 1.5e-9, 40e-12),
    (100e-6, 5e-9, 0.00020, 15e-9, 400e-12), (1e-3, 50e-9, 0.00020, 150e-9, 5e-9),
    (10e-3, 500e-9, 0.00020, 1.5e-6, 40e-9), (100e-3, 5e-6, 0.00025, 15e-6, 100e-9),
    (1.0, 50e-6, 0.00067, 900e-6, 3e-6))
K2450_MEASURE_CURRENT: tuple[Row, ...] = (
    (10e-9, 10e-15, 0.0010, 50e-12, None), (100e-9, 100e-15, 0.00060, 100e-12, None),
    (1e-6, 1e-12, 0.00025, 300e-12, None), (10e-6, 10e-12, 0.00025, 700e-12, None),
    (100e-6, 100e-12, 0.00020, 6e-9, None), (1e-3, 1e-9, 0.00020, 60e-9, None),
    (10e-3, 10e-9, 0.00020, 600e-9, None), (100e-3, 100e-9, 0.00025, 6e-6, None),
    (1.0, 1e-6, 0.00030, 500e-6, None))
K2636B_SOURCE_CURRENT: tuple[Row, ...] = (
    (1e-9, 20e-15, 0.0015, 2e-12, 800e-15), (10e-9, 200e-15, 0.0015, 5e-12, 2e-12),
    (100e-9, 2e-12, 0.0006, 50e-12, 5e-12), (1e-6, 20e-12, 0.0003, 700e-12, 25e-12),
    (10e-6, 200e-12, 0.0003, 5e-9, 60e-12), (100e-6, 2e-9, 0.0003, 60e-9, 3e-9),
    (1e-3, 20e-9, 0.0003, 300e-9, 6e-9), (10e-3, 200e-9, 0.0003, 6e-6, 200e-9),
    (100e-3, 2e-6, 0.0003, 30e-6, 600e-9), (1.0, 20e-6, 0.0005, 1.8e-3, 70e-6),
    (1.5, 50e-6, 0.0006, 4e-3, 150e-6))
K2636B_MEASURE_CURRENT: tuple[Row, ...] = (
    (100e-12, 1e-15, 0.0015, 120e-15, None), (1e-9, 10e-15, 0.0015, 240e-15, None),
    (10e-9, 100e-15, 0.0015, 3e-12, None), (100e-9, 1e-12, 0.0006, 40e-12, None),
    (1e-6, 10e-12, 0.00025, 400e-12, None), (10e-6, 100e-12, 0.00025, 1.5e-9, None),
    (100e-6, 1e-9, 0.0002, 25e-9, None), (1e-3, 10e-9, 0.0002, 200e-9, None),
    (10e-3, 100e-9, 0.0002, 2.5e-6, None), (100e-3, 1e-6, 0.0002, 20e-6, None),
    (1.0, 10e-6, 0.0003, 1.5e-3, None), (1.5, 100e-6, 0.0005, 3.5e-3, None))


def _emstat(*full_scales: float) -> tuple[Row, ...]:
    return tuple((fs, None, 0.002, 0.002 * fs, None) for fs in full_scales)


EMSTAT4_LR_CURRENT = _emstat(1e-9, 10e-9, 100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3)
EMSTAT4_HR_CURRENT = _emstat(100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3)

TABLES: dict[tuple[str, str, str], tuple[Row, ...]] = {
    ("2450", "source", "current"): K2450_SOURCE_CURRENT,
    ("2450", "measure", "current"): K2450_MEASURE_CURRENT,
    ("2636B", "source", "current"): K2636B_SOURCE_CURRENT,
    ("2636B", "measure", "current"): K2636B_MEASURE_CURRENT,
    ("es4_lr", "source", "current"): EMSTAT4_LR_CURRENT,
    ("es4_lr", "measure", "current"): EMSTAT4_LR_CURRENT,
    ("es4_hr", "source", "current"): EMSTAT4_HR_CURRENT,
    ("es4_hr", "measure", "current"): EMSTAT4_HR_CURRENT,
}
"""(model key as ``drivers.capability.CAPABILITIES`` names it, source|measure, quantity) -> rows."""


@functools.lru_cache(maxsize=64)
def ranges(model: str, direction: str, quantity: str = "current") -> tuple[float, ...]:
    """The full scales of a model's ranges, smallest first."""
    return tuple(row[0] for row in TABLES[(model, direction, quantity)])


@functools.lru_cache(maxsize=1024)
def row_for(model: str, direction: str, quantity: str, range_full_scale: float) -> Row:
    """The row of the range with this full scale (KeyError naming it when the model has no such range)."""
    for row in TABLES[(model, direction, quantity)]:
        if abs(row[0] - range_full_scale) <= 1e-9 * row[0]:
            return row
    raise KeyError(f"{model} has no {range_full_scale:g} {direction} {quantity} range")


@functools.lru_cache(maxsize=1024)
def range_offset(model: str, direction: str, quantity: str, range_full_scale: float, seed: int) -> float:
    """The fixed offset this emulated instrument has on a range: uniform within +-half the datasheet's
    bound, the same for the same seed (0 where the datasheet gives no offset)."""
    offset = row_for(model, direction, quantity, range_full_scale)[3]
    if not offset:
        return 0.0
    key = zlib.crc32(f"{model}/{direction}/{quantity}/{range_full_scale:.6g}".encode())
    return float(np.random.default_rng([seed, key]).uniform(-0.5, 0.5)) * offset


def apply_range_error(model: str, direction: str, quantity: str, range_full_scale: float, value: float,
                      rng: np.random.Generator, seed: int) -> float:
    """``value`` as the instrument would source or read it on this range: plus the range's fixed offset
    (:func:`range_offset`) and Gaussian noise of the datasheet's rms (none where it gives none), drawn
    from ``rng`` (the emulator's seeded generator)."""
    noise = row_for(model, direction, quantity, range_full_scale)[4]
    out = value + range_offset(model, direction, quantity, range_full_scale, seed)
    return out + float(rng.normal(0.0, noise)) if noise else out
