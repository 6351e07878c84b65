"""Protocol tests for the Keithley 2600B (TSP) driver: nA values must never be sent as 0."""

from __future__ import annotations

import numpy as np
import pytest
from pymeasure.test import expected_protocol

from drivers.errors import InstrumentError
from drivers.keithley2600 import Keithley2600
from drivers.registry import missing_members
from drivers.roles import SourceMeter


def test_one_nanoamp_is_sent_as_1e_09():
    with expected_protocol(Keithley2600, [
        ("smua.source.leveli=1e-09", None),
        ("smua.measure.rangei=1e-10", None),
    ]) as smu:
        smu.smua.source_current = 1e-9
        smu.smua.current_range = 1e-10


def test_nplc_is_sent_as_value_not_list_index():
    pairs = [("smua.measure.nplc=25", None), ("smua.measure.nplc=1", None)]
    with expected_protocol(Keithley2600, pairs) as smu:
        smu.smua.measure_nplc = 25
        smu.smua.measure_nplc = 1


CONFIGURE = [
    ("smua.source.func=1", None),
    ("smua.source.offmode=smua.OUTPUT_HIGH_Z", None),
    ("smua.source.limiti=1e-07", None),
    ("smua.measure.nplc=1", None),
    ("smua.measure.autorangei=1", None),
    ("print(errorqueue.count)", "0.00000e+00"),
]
READ_LIMIT = "print(smua.source.func, smua.source.limiti)"
"""The on-instrument limit is read back after it is set and again before the output goes on."""


def test_configure_voltage_source_reads_the_limit_back():
    with expected_protocol(Keithley2600, [*CONFIGURE, (READ_LIMIT, "1.00000e+00\t1.00000e-07")]) as smu:
        smu.configure_voltage_source(1e-7)


def test_a_limit_the_instrument_did_not_take_is_an_error():
    with expected_protocol(Keithley2600, [*CONFIGURE, (READ_LIMIT, "1.00000e+00\t1.00000e-01")]) as smu, \
            pytest.raises(InstrumentError, match=r"current limit 0\.1 A; expected 1 \(volts\) and 1e-07 A"):
        smu.configure_voltage_source(1e-7)


def test_the_output_goes_on_only_under_the_configured_limit():
    with expected_protocol(Keithley2600, []) as smu, \
            pytest.raises(InstrumentError, match="before a current limit is configured"):
        smu.enable_output()  # nothing sent
    with expected_protocol(Keithley2600, [
        *CONFIGURE, (READ_LIMIT, "1.00000e+00\t1.00000e-07"),
        (READ_LIMIT, "1.00000e+00\t1.00000e-07"), ("smua.source.output=1", None),
        (READ_LIMIT, "1.00000e+00\t1.00000e-01"),  # reset behind the host's back: 100 mA default
    ]) as smu:
        smu.configure_voltage_source(1e-7)
        smu.enable_output()
        with pytest.raises(InstrumentError, match=r"refusing to turn the output on: .* limit 0\.1 A"):
            smu.enable_output()  # smua.source.output=1 is never sent


def test_errors_are_raised_with_the_message():
    with expected_protocol(Keithley2600, [
        ("smub.source.func=1", None),
        ("smub.source.offmode=smub.OUTPUT_HIGH_Z", None),
        ("smub.source.limiti=1e-07", None),
        ("smub.measure.nplc=1", None),
        ("smub.measure.rangei=1e-08", None),
        ("print(errorqueue.count)", "1.00000e+00"),
        ("print(errorqueue.next())", "-2.85000e+02\tProgram syntax error\t2.00000e+00\t0.00000e+00"),
    ], channel="b") as smu, pytest.raises(InstrumentError, match="Program syntax error"):
        smu.configure_voltage_source(1e-7, current_range_A=1e-8)


def test_off_mode_is_read_back_by_name_whatever_the_numbers():
    query = "print(smua.source.offmode, smua.OUTPUT_NORMAL, smua.OUTPUT_ZERO, smua.OUTPUT_HIGH_Z)"
    with expected_protocol(Keithley2600, [
        (query, "1.00000e+00\t0.00000e+00\t2.00000e+00\t1.00000e+00"),
        (query, "2.00000e+00\t0.00000e+00\t2.00000e+00\t1.00000e+00"),
        (query, "7.00000e+00\t0.00000e+00\t2.00000e+00\t1.00000e+00"),
    ]) as smu:
        assert smu.smua.off_mode == "high_z"
        assert smu.smua.off_mode == "zero"
        with pytest.raises(ValueError, match="output-off mode 7"):
            smu.smua.off_mode  # noqa: B018


def test_measure_sweep_and_output():
    with expected_protocol(Keithley2600, [
        *CONFIGURE, (READ_LIMIT, "1.00000e+00\t1.00000e-07"),
        (READ_LIMIT, "1.00000e+00\t1.00000e-07"),
        ("smua.source.output=1", None),
        ("print(smua.source.output)", "1.00000e+00"),
        ("smua.source.levelv=-0.1", None),
        ("delay(0.05)", None),
        ("print(smua.measure.i())", "-1.00000e-09"),
        ("smua.source.levelv=0.1", None),
        ("delay(0.05)", None),
        ("print(smua.measure.i())", "1.00000e-09"),
        ("print(smua.source.compliance)", "false"),
        ("abort", None),  # shutdown aborts any script first (ours or one a dead host left)
        ("smua.source.output=0", None),
        ("print(smua.source.output)", "0.00000e+00"),
        ('nc_galv_state = "stopped"', None),  # read back off: the host took the instrument back
    ]) as smu:
        smu.configure_voltage_source(1e-7)
        smu.enable_output()
        assert smu.output_enabled
        np.testing.assert_allclose(smu.sweep_voltage([-0.1, 0.1], 0.05), [-1e-9, 1e-9])
        assert smu.compliance_tripped is False
        smu.shutdown()


def test_out_of_range_is_refused():
    with expected_protocol(Keithley2600, []) as smu, pytest.raises(ValueError):
        smu.smua.source_voltage = 500


def test_fills_source_meter():
    assert missing_members(Keithley2600, SourceMeter) == []
