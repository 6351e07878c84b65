"""Keithley 2450 driver against the 2450 emulator of the simulated bench (real pyvisa transport)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from drivers.errors import InstrumentError

from .conftest import wired


@pytest.fixture(scope="module")
def smu(open_driver):
    return open_driver("smu")


@pytest.fixture(scope="module")
def matrix(open_driver):
    return open_driver("matrix")


def test_iv_sweep_on_the_wire(bench, smu, matrix):
    with wired(smu, matrix, ["1C01", "1D02"]):  # SMU HI -> S, LO -> D
        smu.configure_voltage_source(1e-6, nplc=0.1)
        smu.set_voltage(0.0)
        smu.enable_output()
        assert smu.output_enabled  # a query: the writes before it have been executed
        assert bench.output_on("smu")
        voltages = np.linspace(-0.1, 0.1, 11)
        currents = smu.sweep_voltage(voltages, 0.001)
        assert currents.shape == (11,)
        assert np.all(np.diff(currents) > 0)  # a resistor-like wire: I rises with V
        assert currents[0] < 0 < currents[-1]
        irregular = smu.sweep_voltage([0.0, 0.1, -0.1, 0.05], 0.001)
        assert irregular.shape == (4,)
        assert irregular[1] > irregular[3] > irregular[0] > irregular[2]
        smu.set_voltage(0.05)
        assert smu.measure_current() == pytest.approx(irregular[3], rel=0.2)
        assert not smu.compliance_tripped
    assert not bench.output_on("smu")


def test_compliance_trip_is_reported(bench, smu, matrix):
    with wired(smu, matrix, ["1C01", "1D02"]):
        smu.configure_voltage_source(1e-9, nplc=0.1)
        smu.set_voltage(1.0)
        smu.enable_output()
        reading = smu.measure_current()
        assert abs(reading) <= 1.1e-9
        assert smu.compliance_tripped


def test_instrument_error_is_raised(bench, smu):
    bench.inject("smu", "error_next")
    with pytest.raises(InstrumentError):
        smu.configure_voltage_source(1e-6)


def test_galvanostatic_step_with_software_cutoff(bench, smu, matrix):
    with wired(smu, matrix, ["1C01", "1D04"]):  # SMU HI -> S (wire), LO -> CE (counter film)
        smu.start_galvanostatic(1e-11, interval_s=1.0, max_time_s=30.0, v_min=0.0, v_max=4.05)
        samples = []
        for _ in range(200):
            samples += smu.poll()
            if not smu.running:
                break
        assert samples, "no samples"
        assert not smu.running
        assert smu.stop_reason in ("max_time", "v_max")
        assert all(0.0 < s.potential < 4.2 for s in samples)
        assert samples[0].t == 0.0
        assert all(b.t > a.t for a, b in itertools.pairwise(samples))
        assert not bench.output_on("smu")
