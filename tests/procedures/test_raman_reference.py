"""The Si reference step: measures the station's reference spot and logs the Raman axis offset; maps can take
two frames per pixel (every frame stored)."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.roles import Spectrum
from nanocell_daq.engine.stationview import StationView
from procedures import STEPS, RamanMap, RamanReference
from tests.procedures import fakes

AXIS = np.linspace(100.0, 1800.0, 1024)


class SiSpectrometer(fakes.Spectrometer):
    """Bulk c-Si at 520.7 cm-1 seen on an axis that reads ``error`` cm-1 too high; records where it was."""

    def __init__(self, shutter, stage, error: float) -> None:
        super().__init__(shutter)
        self.stage, self.error, self.where = stage, error, []
        self.rng = np.random.default_rng(7)

    def acquire(self):
        self.where.append(self.stage.position)
        rate = 2000.0 / (1.0 + ((AXIS - 520.7) / 1.75) ** 2) + 20.0
        counts = self.rng.poisson(rate) + self.rng.normal(0.0, 4.0, AXIS.size)
        return Spectrum(AXIS + self.error, counts.astype(np.float32), self.exposure_s, self.accumulations)


def _station(ref: str = "si_reference_um: {x: -50.0, y: 20.0, z: 2.0}, ") -> StationView:
    text = fakes.STATION.replace("device: {chip: FAKE, ", "device: {chip: FAKE, " + ref)
    return StationView.from_text(text, "fake.yaml")


def _run(step, error=1.2):
    shutter, stage = fakes.Shutter(), fakes.Stage()
    spec = SiSpectrometer(shutter, stage, error)
    ctx = fakes.Context({"stage": stage, "spectrometer": spec, "laser": spec, "shutter": shutter})
    ctx.station = _station()
    step.bind(ctx)
    step.startup()
    try:
        step.execute()
    finally:
        step.shutdown()
    return ctx, spec


def test_the_reference_step_measures_the_reference_spot_and_logs_the_axis_offset():
    assert STEPS["raman_reference"] is RamanReference
    step = RamanReference.from_params({"exposure_s": 1, "laser_power_mW": 0.1})
    assert step.check(_station()) == []
    ctx, spec = _run(step, error=1.2)
    assert spec.where == [(-50.0, 20.0, 2.0)] * 2  # two frames at the station's reference position
    assert len(ctx.recorder.spectra) == 2
    assert step.offset_cm1 == pytest.approx(-1.2, abs=0.1)
    (message,) = ctx.recorder.events
    assert "axis offset -1.2" in message and "520.7" in message


def test_without_a_reference_in_the_station_the_step_is_refused_before_the_run():
    problems = RamanReference.from_params({}).check(_station(ref=""))
    (problem,) = problems
    assert problem.message.startswith("the station's device has no si_reference_um (fake.yaml): give")


def test_a_map_with_two_frames_stores_both_for_each_pixel_and_counts_their_time():
    step = RamanMap.from_params({"mode": "line", "nx": 3, "exposure_s": 2, "frames": 2})
    one = RamanMap.from_params({"mode": "line", "nx": 3, "exposure_s": 2})
    assert step.estimate_s(_station()) - one.estimate_s(_station()) == pytest.approx(3 * 2.0)
    ctx, spec = _run(step)
    pixels = [p for *_, p in ctx.recorder.spectra]
    assert pixels == [0, 0, 1, 1, 2, 2] and len(spec.where) == 6
