"""PyMeasure's own Keithley2450 driver, unchanged, against the emulated SMU through the matrix."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from conftest import connect
from pymeasure.instruments.keithley import Keithley2450

from simulated_instruments import datasheets
from simulated_instruments.bench import SimulatedBench


@pytest.fixture
def smu(bench: SimulatedBench) -> Iterator[Keithley2450]:
    k = Keithley2450(bench.resources["smu"], visa_library="@py", read_termination="\n",
                     write_termination="\n", timeout=5000)
    yield k
    k.adapter.close()


def _sweep(smu: Keithley2450, volts: np.ndarray) -> np.ndarray:
    smu.reset()
    smu.apply_voltage(compliance_current=1e-6)
    smu.measure_current(nplc=1)
    smu.enable_source()
    currents = []
    for v in volts:
        smu.source_voltage = v
        currents.append(smu.current)
    smu.disable_source()
    return np.array(currents)


def test_sweep_on_s_d_matches_the_wire_conductance(bench, visa, smu):
    connect(visa(bench, "matrix"), "1C01,1D02")
    volts = np.linspace(-0.02, 0.02, 9)
    currents = _sweep(smu, volts)
    g_fit = np.polyfit(volts, currents, 1)[0]
    g_model = bench.model.wire_conductance(bench.clock.now(), "S", "D")
    assert g_model > 1e-8  # a pristine Si wire conducts
    assert g_fit == pytest.approx(g_model, rel=0.1)
    assert smu.check_errors() == []


def test_same_sweep_with_cycling_wiring_sees_an_open_circuit(bench, visa, smu):
    connect(visa(bench, "matrix"), "1A01,1B04")
    currents = _sweep(smu, np.linspace(-0.1, 0.1, 11))
    # no wire: the 10 nA range's fixed offset (within +-25 pA, half of SPEC-2450's 50 pA) and its noise
    offset = datasheets.range_offset("2450", "measure", "current", 10e-9, bench.emulators["smu"].seed)
    assert 1e-12 < abs(offset) <= 25e-12
    assert np.max(np.abs(currents - offset)) < 5e-12


def test_compliance_clamps_current_and_sets_the_trip_flag(bench, visa, smu):
    connect(visa(bench, "matrix"), "1C01,1D02")
    smu.reset()
    smu.apply_voltage(compliance_current=1e-8)
    smu.measure_current()
    smu.enable_source()
    smu.source_voltage = 0.5
    assert abs(smu.current) == pytest.approx(1e-8, rel=0.01)
    assert smu.ask(":SOUR:VOLT:ILIM:TRIP?").strip() == "1"
    smu.source_voltage = 0.001
    assert abs(smu.current) < 1e-8
    assert smu.ask(":SOUR:VOLT:ILIM:TRIP?").strip() == "0"


def test_ranges_round_trip_down_to_10nA_and_errors_queue(bench, smu):
    smu.reset()
    smu.current_range = 10e-9
    assert smu.current_range == pytest.approx(10e-9)
    smu.compliance_current = 10e-9
    assert smu.compliance_current == pytest.approx(10e-9)
    assert smu.source_mode == "voltage"
    smu.write(":BOGUS:CMD 1")
    code, message = smu.next_error
    assert int(code) == -113 and "Undefined header" in message
    assert smu.next_error[0] == 0
    assert smu.ask(":SYST:ERR:COUN?").strip() == "0"


def test_native_linear_sweep_into_the_buffer(bench, visa):
    connect(visa(bench, "matrix"), "1C01,1D02")
    smu = visa(bench, "smu", timeout_ms=10000)
    smu.write('*RST;:SOUR:FUNC VOLT;:SENS:FUNC "CURR";:SENS:CURR:RANG:AUTO ON;:SOUR:VOLT:ILIM 1e-6')
    smu.write(':SOUR:SWE:VOLT:LIN -0.02,0.02,5,0.05,1,BEST,ON,OFF,"defbuffer1"')
    smu.write(":INIT")
    smu.write("*WAI")
    assert smu.query(':TRAC:ACT:END? "defbuffer1"') == "5"
    values = [float(x) for x in smu.query(':TRAC:DATA? 1,5,"defbuffer1",SOUR,READ,REL').split(",")]
    source, current, rel = (np.array(values[i::3]) for i in range(3))
    assert source == pytest.approx(np.linspace(-0.02, 0.02, 5))
    assert np.all(np.diff(rel) > 0)  # readings take simulated time
    g = bench.model.wire_conductance(bench.clock.now(), "S", "D")
    assert current == pytest.approx(source * g, rel=0.15, abs=2e-11)
    assert smu.query(":SYST:ERR?") == '0,"No error;0;0 0"'


def test_list_sweep_and_nplc_sets_integration_time(bench, visa):
    smu = visa(bench, "smu", timeout_ms=10000)
    smu.write(":SOUR:LIST:VOLT 0.01,0.02,0.03")
    smu.write(':SOUR:SWE:VOLT:LIST 1,0,1,OFF,"defbuffer1";:SENS:CURR:NPLC 10')
    smu.write(":INIT;*WAI")
    rel = [float(x) for x in smu.query(':TRAC:DATA? 1,3,"defbuffer1",REL').split(",")]
    # 10 PLC at 50 Hz = 0.2 s of simulated time per reading (plus a little host overhead)
    assert np.all((np.diff(rel) >= 0.2) & (np.diff(rel) < 1.0))
    assert smu.query(":SOUR:LIST:VOLT?").count(",") == 2


def test_galvanostat_mode_charges_the_cell_through_s_and_ce(bench, visa):
    connect(visa(bench, "matrix"), "1C01,1D04")
    smu = visa(bench, "smu")
    smu.write(':SOUR:FUNC CURR;:SOUR:CURR:VLIM 5;:SOUR:CURR 20e-12;:SENS:FUNC "VOLT";:OUTP ON')
    v0 = float(smu.query(":READ?"))
    bench.clock.sleep(20.0)
    v1 = float(smu.query(":READ?"))
    smu.write(":OUTP OFF")
    smu.query("*OPC?")
    assert 0.5 < v0 < 5 and v1 > v0  # the cell charges under positive current
    assert bench.log("smu")[-2].command == ":OUTP OFF" and not bench.output_on("smu")
