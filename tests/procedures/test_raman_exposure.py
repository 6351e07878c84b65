"""The Raman map's exposures: the shutter's own timer where it has one, a read-back after every acquisition,
and a spectrum taken again when the shutter was found closed (a pause, or a timer margin too short)."""

from __future__ import annotations

import pytest

from procedures import RamanMap
from procedures.context import StepFault
from tests.procedures import fakes


class TimedShutter(fakes.Shutter):
    """An SC10-like shutter: ``expose(seconds)`` opens it on its own timer; the first ``closes_early``
    exposures have already closed when the host reads it back."""

    timed_exposure = True
    MAX_EXPOSURE_S = 999.999

    def __init__(self, closes_early: int = 0) -> None:
        super().__init__()
        self.exposures: list[float] = []
        self.closes_early = closes_early
        self.reads = 0

    def expose(self, seconds: float) -> None:
        self.exposures.append(seconds)
        self.is_open = True
        self.history.append("expose")

    def acquired(self) -> None:
        """Called by the spectrometer fake once an acquisition ends."""
        if self.closes_early > 0 and self.history[-1] == "expose":
            self.closes_early -= 1
            self.is_open = False


class Spectrometer(fakes.Spectrometer):
    """Records the laser power of each acquisition; a pause (``disable_output``) turns the laser off."""

    def __init__(self, shutter: fakes.Shutter) -> None:
        super().__init__(shutter)
        self.power_seen: list[float] = []

    def acquire(self):
        spectrum = super().acquire()
        self.power_seen.append(self.power_mW)
        if isinstance(self.shutter, TimedShutter):
            self.shutter.acquired()
        return spectrum

    def disable_output(self) -> None:
        self.power_mW = 0.0


def _map(shutter, nx=3, pause_at=None, **params):
    spec = Spectrometer(shutter)
    ctx = fakes.Context({"stage": fakes.Stage(), "spectrometer": spec, "laser": spec, "shutter": shutter},
                        pause_at=pause_at)
    step = RamanMap.from_params({"mode": "line", "nx": nx, "exposure_s": 2, "accumulations": 2,
                                 "laser_power_mW": 0.1, **params})
    step.bind(ctx)
    step.startup()
    try:
        step.execute()
    finally:
        step.shutdown()
    return step, ctx, spec


def test_each_spectrum_is_a_timed_exposure_of_the_acquisition_plus_a_margin():
    shutter = TimedShutter()
    _, ctx, spec = _map(shutter)
    assert shutter.exposures == [5.0, 5.0, 5.0]  # 2 s x 2 accumulations + 1 s
    assert spec.shutter_seen == [True] * 3 and not shutter.is_open
    assert len(ctx.recorder.spectra) == 3 and ctx.recorder.events == []


def test_an_exposure_that_closed_early_is_taken_again_with_twice_the_margin():
    shutter = TimedShutter(closes_early=1)
    step, ctx, _ = _map(shutter)
    assert shutter.exposures == [5.0, 6.0, 6.0, 6.0]
    assert len(ctx.recorder.spectra) == 3 and step.margin_s == 2.0
    assert ctx.recorder.events == ["the shutter closed itself before the 4 s acquisition was read back; "
                                   "margin now 2 s; taking the spectrum again"]


def test_a_pause_during_the_exposure_rearms_the_laser_and_takes_it_again():
    """The pixel's own checkpoint is the 1st; the read-back finds the shutter closed and checkpoints again
    (the 2nd, a pause: the engine turned the laser off)."""
    shutter = TimedShutter(closes_early=1)
    step, ctx, spec = _map(shutter, pause_at=2)
    assert spec.power_seen == [0.1, 0.1, 0.1, 0.1]  # re-armed before the retake
    assert shutter.exposures == [5.0] * 4 and step.margin_s == 1.0  # a pause is not a short margin
    assert ctx.recorder.events == [
        "a pause closed the shutter during the acquisition; taking the spectrum again"]
    assert len(ctx.recorder.spectra) == 3


def test_a_shutter_that_keeps_closing_early_ends_the_step():
    with pytest.raises(StepFault, match="closed at the end of the acquisition 4 times"):
        _map(TimedShutter(closes_early=10))


def test_manual_exposure_when_the_timer_is_off_or_too_short():
    off = TimedShutter()
    off.timed_exposure = False
    _, _, spec = _map(off)
    assert off.exposures == [] and off.history.count("open") == 3 and spec.shutter_seen == [True] * 3
    long = TimedShutter()
    _map(long, nx=1, exposure_s=500)  # 1000 s + margin: more than the controller's 999.999 s
    assert long.exposures == [] and long.history.count("open") == 1
    plain = fakes.Shutter()  # a shutter without a timer
    _, ctx, _ = _map(plain)
    assert plain.history.count("open") == 3 and len(ctx.recorder.spectra) == 3


def test_the_first_margin_covers_the_link_latency_at_the_simulation_speed():
    shutter = TimedShutter()
    spec = Spectrometer(shutter)
    ctx = fakes.Context({"stage": fakes.Stage(), "spectrometer": spec, "laser": spec, "shutter": shutter})
    ctx.clock.speed = 400.0  # 0.2 s of wall-clock latency is 80 s of bench time
    step = RamanMap.from_params({"mode": "point", "exposure_s": 2, "laser_power_mW": 0.1})
    step.bind(ctx)
    step.startup()
    step.execute()
    assert shutter.exposures == [82.0]
