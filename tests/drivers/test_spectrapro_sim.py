"""The SpectraPro driver against its emulator over a loopback socket (pyvisa-py): moves read back, the
limits of the grating in use, refusals, identity and resync."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers import registry
from drivers.errors import InstrumentError
from drivers.spectrapro import SpectraPro
from simulated_instruments.clock import SimClock
from simulated_instruments.faults import FaultBox
from simulated_instruments.server import InstrumentServer
from simulated_instruments.spectrapro import SpectraPro as SpectraProEmulator


@pytest.fixture
def served() -> Iterator[tuple[SpectraProEmulator, SpectraPro]]:
    emulator = SpectraProEmulator("mono", SimClock(1.0), FaultBox("mono"))
    server = InstrumentServer(emulator)
    server.start()
    driver = registry.open_driver("spectrapro", server.resource, "mono")
    try:
        yield emulator, driver
    finally:
        driver.adapter.close()
        server.stop()


def test_identity_and_resync(served):
    _, mono = served
    assert isinstance(mono, SpectraPro)
    assert registry.resolve("spectrapro").identity_matches(mono.id)
    mono.resync()


def test_goto_and_grating_read_back_through_the_emulator(served):
    emulator, mono = served
    assert mono.goto(546.7) == pytest.approx(546.7)
    assert emulator.wavelength_nm == pytest.approx(546.7)
    mono.grating = 3
    assert mono.grating == 3 and emulator.grating == 3
    assert mono.wavelength_limit_nm() == pytest.approx(11200.0)  # the cache was refreshed
    mono.goto(5000.0)
    assert mono.wavelength_nm == pytest.approx(5000.0)
    assert [g.position for g in mono.gratings() if g.installed] == [1, 2, 3]
    assert emulator.errors == []  # nothing the controller refuses was sent


def test_driver_refuses_before_the_controller_would(served):
    emulator, mono = served
    with pytest.raises(ValueError, match="1400"):
        mono.goto(2000.0)  # 1200 g/mm grating in use
    with pytest.raises(ValueError, match="position 5"):
        mono.select_grating(5)
    assert emulator.wavelength_nm == 0.0 and emulator.grating == 1 and emulator.errors == []


def test_a_refusal_from_the_controller_is_an_instrument_error_and_the_link_stays_in_step(served):
    emulator, mono = served
    with pytest.raises(InstrumentError, match="refused"):
        mono.command("FOO")
    assert emulator.errors
    assert mono.wavelength_nm == 0.0  # the next exchange is not confused by the error reply
