"""The SC10 driver against the emulated controller: toggles read back, and a timed exposure that closes
itself when the host stops sending."""

from __future__ import annotations

import time

import pytest

from drivers import registry
from simulated_instruments.bench import SimulatedBench


@pytest.fixture
def bench():
    with SimulatedBench(preset="si", speed=100.0, seed=0) as running:
        yield running


def _open(bench):
    inst = bench.station_dict()["instruments"]["shutter"]
    return registry.open_driver(inst["driver"], inst["resource"], "shutter", inst.get("options", {}))


def test_open_and_close_toggle_ens_and_read_back(bench):
    shutter = _open(bench)
    try:
        shutter.close()  # already closed: nothing toggled
        assert "ens" not in [e.command for e in bench.emulators["shutter"].log]
        shutter.open()
        assert shutter.enabled and bench.output_on("shutter")
        shutter.open()  # open twice: a toggle now would close it
        assert bench.output_on("shutter")
        shutter.close()
        assert not shutter.enabled and not bench.output_on("shutter")
        assert bench.errors("shutter") == []  # nothing the controller refuses was sent
    finally:
        shutter.adapter.close()


def test_a_timed_exposure_closes_the_shutter_after_the_host_stops_sending(bench):
    shutter = _open(bench)
    shutter.expose(100.0)  # 1 s of wall time at speed 100
    assert bench.output_on("shutter")
    sent = len(bench.emulators["shutter"].log)
    shutter.adapter.close()  # the host is gone: nothing more arrives
    deadline = time.monotonic() + 5.0
    while bench.output_on("shutter") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not bench.output_on("shutter")
    assert len(bench.emulators["shutter"].log) == sent  # it closed on its own
    again = _open(bench)
    try:
        assert not again.is_open and not again.enabled and again.mode == 3
        again.expose(100.0)  # the next exposure starts from a closed, disabled shutter
        assert again.is_open
        again.close()
        assert not bench.output_on("shutter")
    finally:
        again.adapter.close()


def test_an_exposure_the_shutter_cuts_short_gets_that_share_of_the_light(bench):
    """The emulated CCD integrates the light of the time the shutter was open, not its state at one
    instant: a 10 s timed exposure under a 20 s acquisition gives about half the signal."""
    station = bench.station_dict()["instruments"]
    spec = registry.open_driver("nanocell_spectrometer", station["spectrometer"]["resource"], "spectrometer",
                                station["spectrometer"]["options"])
    shutter = _open(bench)
    try:
        spec.exposure_s = 20.0
        spec.power_mW = 0.1
        shutter.open()
        full = spec.acquire().counts
        shutter.close()
        dark = spec.acquire().counts
        shutter.expose(10.0)
        half = spec.acquire().counts
        assert not shutter.is_open
        signal = (half - dark).sum() / (full - dark).sum()
        assert 0.35 < signal < 0.65
    finally:
        spec.shutdown()
        shutter.adapter.close()
        spec.adapter.close()
