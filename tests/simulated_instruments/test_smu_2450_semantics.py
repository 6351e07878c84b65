"""2450 emulator semantics a driver relies on: failed queries answer nothing but queue their error; a sweep
run by ``:INIT`` is complete when ``*OPC?`` answers, ``:ABOR`` after it is harmless, and the log shows that
the sweep had the output on."""

from __future__ import annotations

import pytest
from conftest import connect
from pyvisa.errors import VisaIOError


def test_a_failed_query_answers_nothing_and_queues_its_error(bench, visa):
    smu = visa(bench, "smu", timeout_ms=300)
    smu.write("*CLS")
    for query in (':TRAC:DATA? 1,5,"defbuffer1"', ":NOSUCH:THING?", ':TRAC:ACT? "nosuchbuf"'):
        with pytest.raises(VisaIOError):
            smu.query(query)  # like a real 2450: no reply, the client times out
    assert smu.query(":SYST:ERR:COUN?") == "3"
    codes = [int(smu.query(":SYST:ERR?").split(",")[0]) for _ in range(3)]
    assert codes == [-222, -113, -224]  # data out of range, undefined header, illegal parameter value
    assert smu.query(":SYST:ERR?") == '0,"No error;0;0 0"'
    # a compound message answers the queries before the failing one, then stops
    assert smu.query("*IDN?;:NOSUCH?;*OPC?").startswith("KEITHLEY INSTRUMENTS,MODEL 2450")
    assert smu.query(":SYST:ERR?").startswith('-113,"Undefined header')


def test_init_sweep_is_done_when_opc_answers_and_abort_after_it_is_harmless(bench, visa):
    smu, matrix = visa(bench, "smu"), visa(bench, "matrix")
    connect(matrix, "1C01,1D02")
    smu.write(':SOUR:FUNC VOLT;:SOUR:VOLT:ILIM 1e-6;:SENS:FUNC "CURR";:SENS:CURR:NPLC 0.1')
    smu.write(':TRAC:CLE "defbuffer1"')
    smu.write(':SOUR:SWE:VOLT:LIN -0.05,0.05,11,0.01,1,BEST,OFF,OFF,"defbuffer1"')
    assert smu.query(":INIT;*OPC?") == "1"  # one message: the reply comes after the sweep
    assert smu.query(':TRAC:ACT:END? "defbuffer1"') == "11"
    smu.write(":ABOR")
    assert smu.query(':TRAC:ACT:END? "defbuffer1"') == "11"  # nothing lost
    assert smu.query(":OUTP?") == "0"  # the output was off before the sweep and is off after it
    init = next(e for e in reversed(bench.log("smu")) if e.command.startswith(":INIT"))
    assert init.output_on  # but the log records that the sweep drove the wire
    assert smu.query(":SYST:ERR?") == '0,"No error;0;0 0"'


def test_status_enable_registers_are_accepted_like_a_2450(bench, visa):
    """2450-901-01 pp. 6-89..6-93: :STAT:OPER:ENAB and :STAT:QUES:ENAB set and read their registers
    (decimal, #b or #h); :STAT:PRES clears them, *RST does not."""
    smu = visa(bench, "smu", timeout_ms=300)
    smu.write("*CLS")
    smu.write(":STAT:OPER:ENAB 20480;:STATus:QUEStionable:ENABle 8")
    assert smu.query(":STAT:OPER:ENAB?") == "20480"
    assert smu.query(":STAT:QUES:ENAB?") == "8"
    smu.write(":STAT:OPER:ENAB #b0101000000000000")  # the manual's example, in binary
    smu.write(":STAT:QUES:ENAB #h10")
    assert smu.query(":STAT:OPER:ENAB?;:STAT:QUES:ENAB?") == "20480;16"
    assert smu.query(":STAT:OPER?;:STAT:QUES:COND?") == "0;0"
    smu.write("*RST")
    assert smu.query(":STAT:OPER:ENAB?") == "20480"
    smu.write(":STAT:PRES")
    assert smu.query(":STAT:OPER:ENAB?;:STAT:QUES:ENAB?") == "0;0"
    assert smu.query(":SYST:ERR:COUN?") == "0"


def test_status_enable_refuses_bad_values_and_2400_only_registers(bench, visa):
    smu = visa(bench, "smu", timeout_ms=300)
    smu.write("*CLS")
    smu.write(":STAT:OPER:ENAB 65536")
    smu.write(":STAT:QUES:ENAB -1")
    smu.write(":STAT:QUES:ENAB #b102")
    smu.write(":STAT:MEAS:ENAB 512")  # 2400-only (section 8 of the protocol notes)
    codes = [int(smu.query(":SYST:ERR?").split(",")[0]) for _ in range(4)]
    assert codes == [-222, -222, -104, -113]
    assert smu.query(":STAT:OPER:ENAB?;:STAT:QUES:ENAB?") == "0;0"
