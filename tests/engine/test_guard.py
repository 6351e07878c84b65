"""The guard around instruments: property reads and writes fault like calls (a dropped link is a link error),
and a link that may still hold a reply is flushed before anything else talks to the instrument."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from drivers import registry
from drivers.errors import InstrumentError, ReplyError
from nanocell_daq.engine.guard import Guarded
from procedures.context import InstrumentFault
from simulated_instruments.bench import SimulatedBench


class _Flaky:
    """A driver whose every exchange fails with ``error``; counts the resyncs it gets."""

    def __init__(self, error: Exception, can_resync: bool = True) -> None:
        object.__setattr__(self, "error", error)
        object.__setattr__(self, "resyncs", 0)
        if can_resync:
            object.__setattr__(self, "resync", self._resync)

    def _resync(self) -> None:
        object.__setattr__(self, "resyncs", self.resyncs + 1)

    @property
    def reading(self) -> float:
        raise self.error

    @reading.setter
    def reading(self, value: float) -> None:
        raise self.error

    def measure(self) -> float:
        raise self.error


def _guard(obj: object, name: str = "smu") -> Guarded:
    return Guarded(obj, threading.RLock(), name)


@pytest.mark.parametrize("access", ["call", "property read", "property write"])
def test_a_dropped_link_is_a_link_error_whatever_the_access(access):
    guarded = _guard(_Flaky(ConnectionResetError("peer reset")), "smu")
    with pytest.raises(InstrumentFault) as caught:
        if access == "call":
            guarded.measure()
        elif access == "property read":
            _ = guarded.reading
        else:
            guarded.reading = 1.0
    fault = caught.value
    assert fault.link_error and fault.instrument == "smu"
    assert fault.call.startswith("measure" if access == "call" else "reading")
    assert fault.flushed  # the driver can resync: it was flushed before the fault was raised


@pytest.mark.parametrize(("error", "flushed"), [
    (ValueError("could not convert '#?!' to float"), True),  # a torn reply: the rest may still be pending
    (ReplyError("block is 10 of 4096 bytes"), True),
    (InstrumentError("-222 Data out of range"), False),  # answered cleanly: the link is in step
])
def test_only_a_link_that_may_hold_stale_bytes_is_flushed(error, flushed):
    driver = _Flaky(error)
    with pytest.raises(InstrumentFault) as caught:
        _ = _guard(driver).reading
    assert caught.value.flushed is flushed and driver.resyncs == int(flushed)
    assert caught.value.link_error is False


def test_a_driver_that_cannot_resync_is_left_alone():
    """The potentiostat's reader thread owns its link: the guard never drains it."""
    driver = _Flaky(ValueError("junk"), can_resync=False)
    with pytest.raises(InstrumentFault) as caught:
        _guard(driver).measure()
    assert caught.value.flushed is False


@pytest.fixture
def bench():
    with SimulatedBench(preset="si", speed=1000.0, seed=0, smu_model="2450", ideal_pstat=True) as running:
        yield running


@pytest.fixture
def spectrometer(bench):
    inst = bench.station_dict()["instruments"]["spectrometer"]
    driver = registry.open_driver(inst["driver"], inst["resource"], "spectrometer",
                                  {**inst.get("options", {}), "timeout_ms": 1000})
    driver.exposure_s = 0.01
    yield _guard(driver, "spectrometer")
    driver.adapter.close()


IDN = "NANOCELL,SIMSPEC-532,SIM00001,1.0"


def test_a_garbled_spectrum_leaves_nothing_for_the_next_query(bench, spectrometer):
    """The torn block's payload stays unread by the driver; the guard's flush removes it, so the next
    queries and the next spectrum are the instrument's real answers."""
    reference = spectrometer.acquire()
    bench.inject("spectrometer", "garble", match="ACQ")
    with pytest.raises(InstrumentFault, match="binary block") as caught:
        spectrometer.acquire()
    assert caught.value.flushed
    assert spectrometer.ask("*IDN?").strip() == IDN
    assert float(spectrometer.exposure_s) == pytest.approx(0.01)
    again = spectrometer.acquire()
    np.testing.assert_array_equal(again.wavenumbers, reference.wavenumbers)
    assert again.counts.shape == reference.counts.shape


def test_a_late_spectrum_is_never_read_as_a_later_answer(bench, spectrometer):
    """The reply comes 2 s after the 1 s timeout, while later queries run: the new session never sees it."""
    bench.inject("spectrometer", "late", match="ACQ", seconds=2.0)
    with pytest.raises(InstrumentFault, match="VisaIOError") as caught:
        spectrometer.acquire()
    assert caught.value.link_error and caught.value.flushed
    answers = []
    deadline = time.monotonic() + 1.5  # past the late reply: it lands 2 s after the ACQ?, 1 s after the flush
    while time.monotonic() < deadline:  # ask on, before and after the late reply lands
        answers.append(spectrometer.ask("LASER:STAT?").strip())
        time.sleep(0.05)
    assert set(answers) == {"0"}
    assert spectrometer.ask("*IDN?").strip() == IDN
    assert spectrometer.acquire().counts.size == int(spectrometer.points)
