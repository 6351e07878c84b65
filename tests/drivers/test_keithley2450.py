"""Protocol tests for the Keithley 2450 driver: the exact bytes it sends for each role call."""

from __future__ import annotations

import numpy as np
import pytest
from pymeasure.test import expected_protocol

from drivers.errors import InstrumentError
from drivers.keithley2450 import Keithley2450
from drivers.registry import missing_members
from drivers.roles import Galvanostat, Sample, SourceMeter

NO_ERROR = (":SYST:ERR?", '0,"No error;0;0 0"')


def test_configure_voltage_source_sends_compliance_with_g_format():
    with expected_protocol(Keithley2450, [
        (":SOUR:FUNC VOLT", None),
        (":OUTP:VOLT:SMOD HIMP", None),
        (":SOUR:VOLT:ILIM 1e-09", None),
        (':SENS:FUNC "CURR"', None),
        (":SENS:CURR:NPLC 1", None),
        (":SENS:CURR:RANG 1e-08", None),
        (":SYST:ERR?", '0,"No error;0;0 0"'),
    ]) as smu:
        smu.configure_voltage_source(1e-9, nplc=1, current_range_A=1e-8)


def test_configure_voltage_source_autorange_and_error_is_raised():
    with expected_protocol(Keithley2450, [
        (":SOUR:FUNC VOLT", None),
        (":OUTP:VOLT:SMOD HIMP", None),
        (":SOUR:VOLT:ILIM 1e-06", None),
        (':SENS:FUNC "CURR"', None),
        (":SENS:CURR:NPLC 0.1", None),
        (":SENS:CURR:RANG:AUTO ON", None),
        (":SYST:ERR?", '-222,"Parameter data out of range;1;2024/01/01 00:00:00.000"'),
        (":SYST:ERR?", '0,"No error;0;0 0"'),
    ]) as smu, pytest.raises(InstrumentError, match="-222"):
        smu.configure_voltage_source(1e-6, nplc=0.1)


def test_compliance_out_of_range_is_refused_not_clipped():
    with expected_protocol(Keithley2450, []) as smu:
        with pytest.raises(ValueError):
            smu.compliance_current = 2.0
        with pytest.raises(ValueError):
            smu.source_voltage = 300


def test_set_voltage_measure_current_and_output():
    with expected_protocol(Keithley2450, [
        (":SOUR:VOLT:LEV 0.125", None),
        (":OUTP ON", None),
        (":OUTP?", "1"),
        (":READ?", "-1.234e-12"),
        (":SOUR:VOLT:ILIM:TRIP?", "0"),
        (":OUTP OFF", None),
    ]) as smu:
        smu.set_voltage(0.125)
        smu.enable_output()
        assert smu.output_enabled is True
        assert smu.measure_current() == pytest.approx(-1.234e-12)
        assert smu.compliance_tripped is False
        smu.disable_output()


def test_linear_sweep_uses_native_sweep_into_defbuffer1():
    with expected_protocol(Keithley2450, [
        (':TRAC:CLE "defbuffer1"', None),
        (':SOUR:SWE:VOLT:LIN -0.1,0.1,5,0.05,1,BEST,OFF,OFF,"defbuffer1"', None),
        (":INIT", None),
        ("*OPC?", "1"),
        (':TRAC:ACT:END? "defbuffer1"', "5"),
        (':TRAC:DATA? 1,5,"defbuffer1",READ', "-2e-09,-1e-09,0,1e-09,2e-09"),
    ]) as smu:
        currents = smu.sweep_voltage(np.linspace(-0.1, 0.1, 5), 0.05)
    np.testing.assert_allclose(currents, [-2e-9, -1e-9, 0, 1e-9, 2e-9])


def test_irregular_sweep_uses_list_sweep():
    with expected_protocol(Keithley2450, [
        (':TRAC:CLE "defbuffer1"', None),
        (":SOUR:LIST:VOLT 0,0.1,0.05", None),
        (':SOUR:SWE:VOLT:LIST 1,0.01,1,OFF,"defbuffer1"', None),
        (":INIT", None),
        ("*OPC?", "1"),
        (':TRAC:ACT:END? "defbuffer1"', "3"),
        (':TRAC:DATA? 1,3,"defbuffer1",READ', "0,1e-09,5e-10"),
    ]) as smu:
        currents = smu.sweep_voltage([0, 0.1, 0.05], 0.01)
    assert currents.shape == (3,)


def test_reset_has_no_colon_before_common_command():
    with expected_protocol(Keithley2450, [("*RST;:STAT:PRES;*CLS", None)]) as smu:
        smu.reset()


def test_mean_current_reads_the_single_native_statistic():
    with expected_protocol(Keithley2450, [(':TRAC:STAT:AVER? "defbuffer1"', "3.5e-12")]) as smu:
        assert smu.mean_current == pytest.approx(3.5e-12)


GALVANO_START = [
    (":OUTP OFF", None),
    (":SOUR:FUNC CURR", None),
    (":OUTP:CURR:SMOD HIMP", None),
    (":SOUR:CURR:VLIM 4.1", None),
    (":SOUR:CURR:LEV 1e-11", None),
    (':SENS:FUNC "VOLT"', None),
    (":SENS:VOLT:NPLC 1", None),
    (":SENS:VOLT:RANG:AUTO ON", None),
    (':TRAC:CLE "defbuffer1"', None),
    NO_ERROR,
    (":OUTP ON", None),
]


def test_galvanostatic_cutoff_in_software_turns_output_off():
    with expected_protocol(Keithley2450, [
        *GALVANO_START,
        (':READ? "defbuffer1",REL,SOUR,READ', "0.5,1e-11,3.90"),
        (':READ? "defbuffer1",REL,SOUR,READ', "1.0,1e-11,3.95"),
        (':READ? "defbuffer1",REL,SOUR,READ', "1.6,1e-11,3.97"),
        (':READ? "defbuffer1",REL,SOUR,READ', "2.2,1e-11,4.06"),
        (":OUTP OFF", None),
        (":OUTP?", "0"),
    ]) as smu:
        smu.start_galvanostatic(1e-11, interval_s=1.0, max_time_s=100, v_min=2.5, v_max=4.05)
        assert smu.running
        # start took the t=0 reading; the 0.5 s reading is below the 1 s interval and is dropped
        assert smu.poll() == [Sample(0.0, 3.90, 1e-11)]
        assert smu.poll() == [Sample(pytest.approx(1.1), 3.97, 1e-11)]
        last = smu.poll()
        assert last[-1].potential == pytest.approx(4.06)
        assert not smu.running
        assert smu.stop_reason == "v_max"
        assert smu.poll() == []


def test_galvanostatic_max_time_stops():
    with expected_protocol(Keithley2450, [
        *GALVANO_START,
        (':READ? "defbuffer1",REL,SOUR,READ', "0,1e-11,3.0"),
        (':READ? "defbuffer1",REL,SOUR,READ', "10.5,1e-11,3.1"),
        (":OUTP OFF", None),
        (":OUTP?", "0"),
    ]) as smu:
        smu.start_galvanostatic(1e-11, interval_s=1.0, max_time_s=10, v_min=2.5, v_max=4.05)
        assert smu.poll()[-1].t == pytest.approx(10.5)
        assert smu.stop_reason == "max_time"


def test_galvanostatic_capacity_is_counted_on_every_reading():
    with expected_protocol(Keithley2450, [
        *GALVANO_START,
        (':READ? "defbuffer1",REL,SOUR,READ', "0,1e-11,3.0"),
        (':READ? "defbuffer1",REL,SOUR,READ', "4.0,1e-11,3.1"),  # 4e-11 C
        (':READ? "defbuffer1",REL,SOUR,READ', "5.5,1e-11,3.1"),  # 5.5e-11 C >= 5e-11 C
        (":OUTP OFF", None),
        (":OUTP?", "0"),
    ]) as smu:
        smu.start_galvanostatic(1e-11, 1.0, 100, v_min=2.5, v_max=4.05, capacity_C=5e-11)
        assert smu.poll()[-1].t == pytest.approx(4.0)
        assert smu.poll()[-1].t == pytest.approx(5.5)
        assert smu.stop_reason == "capacity" and not smu.running


def test_galvanostatic_station_window_is_checked_like_a_cut_off():
    with expected_protocol(Keithley2450, [
        *GALVANO_START,
        (':READ? "defbuffer1",REL,SOUR,READ', "0,1e-11,3.4"),
        (':READ? "defbuffer1",REL,SOUR,READ', "1.0,1e-11,3.61"),  # inside the cut-offs, above the window
        (":OUTP OFF", None),
        (":OUTP?", "0"),
    ]) as smu:
        smu.start_galvanostatic(1e-11, 1.0, 100, v_min=2.5, v_max=4.05, window_V=(3.0, 3.6))
        assert smu.poll()[-1].potential == pytest.approx(3.61)
        assert not smu.running and smu.stop_reason == "v_max"


def test_window_must_be_ordered():
    with expected_protocol(Keithley2450, []) as smu, pytest.raises(ValueError, match="v_min < v_max"):
        smu.start_galvanostatic(1e-11, 1, 10, v_min=4, v_max=3)


def test_shutdown_aborts_and_turns_output_off():
    with expected_protocol(Keithley2450, [(":ABOR", None), (":OUTP OFF", None), (":OUTP?", "0")]) as smu:
        smu.shutdown()
    with expected_protocol(Keithley2450, [(":ABOR", None), (":OUTP OFF", None), (":OUTP?", "1")]) as smu, \
            pytest.raises(InstrumentError, match="still on"):
        smu.shutdown()


def test_fills_source_meter_and_galvanostat_roles():
    assert missing_members(Keithley2450, SourceMeter) == []
    assert missing_members(Keithley2450, Galvanostat) == []


def test_snapshot_settings_only_queries():
    with expected_protocol(Keithley2450, [
        (":SOUR:FUNC?", "VOLT"),
        (":SOUR:VOLT?", "1.000000E-02"),
        (":SOUR:CURR?", "0.000000E+00"),
        (":SOUR:VOLT:ILIM?", "1.000000E-07"),
        (":SOUR:CURR:VLIM?", "2.100000E+01"),
        (":SENS:FUNC?", '"CURR:DC"'),
        (":SENS:CURR:RANG?", "1.000000E-08"),
        (":SENS:CURR:RANG:AUTO?", "0"),
        (":SENS:CURR:NPLC?", "1.000000E+00"),
        (":SENS:VOLT:NPLC?", "1.000000E+00"),
        (":OUTP?", "0"),
        (":OUTP:VOLT:SMOD?", "HIMP"),
        (":OUTP:CURR:SMOD?", "NORM"),
    ]) as smu:
        settings = smu.snapshot_settings()
    assert settings["sense_function"] == "CURR:DC"
    assert settings["current_limit_A"] == 1e-7 and settings["current_autorange"] is False
    assert settings["output_off_state"] == {"voltage": "HIMP", "current": "NORM"}


def test_galvanostatic_cutoffs_beyond_the_voltage_range_are_refused_not_clipped():
    with expected_protocol(Keithley2450, []) as smu:
        assert smu.potential_range_V == (-210.0, 210.0)
        with pytest.raises(ValueError, match=r"outside the 2450's -210\.\.210 V"):
            smu.start_galvanostatic(1e-9, 1.0, 10.0, v_min=0.0, v_max=250.0)


IDN_2450 = "KEITHLEY INSTRUMENTS,MODEL 2450,04470001,1.7.12b"


def test_identity_checks_the_scpi_command_set():
    with expected_protocol(Keithley2450, [("*IDN?", IDN_2450), ("*LANG?", "SCPI")]) as smu:
        assert smu.id == IDN_2450


@pytest.mark.parametrize("language", ["TSP", "SCPI2400"])
def test_a_2450_in_another_command_set_is_refused_with_how_to_switch(language):
    with expected_protocol(Keithley2450, [("*IDN?", IDN_2450), ("*LANG?", language)]) as smu, \
            pytest.raises(InstrumentError) as info:
        _ = smu.id
    message = str(info.value)
    assert "\n" not in message
    assert f"uses the {language} command set" in message
    assert "front panel" in message and "*LANG SCPI" in message and "reboot" in message


def test_another_instrument_is_not_asked_for_its_command_set():
    """The station reports a wrong identity itself; *LANG? is not a query every instrument knows."""
    with expected_protocol(Keithley2450, [("*IDN?", "KEITHLEY INSTRUMENTS INC.,MODEL 2401,1,C32")]) as smu:
        assert "2401" in smu.id
