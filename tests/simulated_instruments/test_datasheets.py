"""The emulators' copy of the datasheet tables agrees with the drivers' (drivers.capability), and the
error an emulated range adds is the table's, seeded."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from drivers.capability import CAPABILITIES
from simulated_instruments import datasheets


@pytest.mark.parametrize("key", sorted(datasheets.TABLES))
def test_the_emulator_tables_are_the_driver_tables(key):
    model, direction, quantity = key
    capability = CAPABILITIES[model]
    table = capability.source if direction == "source" else capability.measure
    assert datasheets.TABLES[key] == tuple(dataclasses.astuple(r) for r in table[quantity])


def test_every_model_an_emulator_plays_has_its_current_tables():
    for model in ("2450", "2636B", "es4_hr", "es4_lr"):
        assert (model, "source", "current") in datasheets.TABLES
        assert (model, "measure", "current") in datasheets.TABLES


def test_the_range_error_is_a_fixed_offset_within_half_the_spec_plus_the_datasheet_noise():
    offsets = [datasheets.range_offset("2450", "source", "current", 10e-9, seed) for seed in range(200)]
    assert max(abs(o) for o in offsets) <= 50e-12 and np.std(offsets) > 20e-12  # uniform within +-50 pA
    assert datasheets.range_offset("2450", "source", "current", 10e-9, 7) == offsets[7]  # same seed, same
    rng = np.random.default_rng(0)
    values = np.array([datasheets.apply_range_error("2450", "source", "current", 10e-9, 1e-9, rng, 7)
                       for _ in range(2000)])
    assert values.mean() == pytest.approx(1e-9 + offsets[7], abs=50e-15)
    assert values.std() == pytest.approx(500e-15, rel=0.1)  # SPEC-2450: 500 fA rms on the 10 nA range
    # no noise where the datasheet gives none: only the offset
    read = datasheets.apply_range_error("2450", "measure", "current", 10e-9, 1e-9, rng, 7)
    assert read == 1e-9 + datasheets.range_offset("2450", "measure", "current", 10e-9, 7)
    with pytest.raises(KeyError, match="es4_hr has no 1e-09 measure current range"):
        datasheets.row_for("es4_hr", "measure", "current", 1e-9)
