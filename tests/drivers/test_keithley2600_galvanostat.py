"""Byte-level tests of the 2600B galvanostat: the TSP script sent, the lines parsed, abort and read-back."""

from __future__ import annotations

import math

import pytest
from pymeasure.test import expected_protocol

from drivers import tsp_galvanostat as tspg
from drivers.keithley2600 import Keithley2600
from drivers.registry import missing_members, resolve
from drivers.roles import Galvanostat

IDN = "Keithley Instruments Inc., Model 2636B, 4401234, 4.0.4"


def _body(lines: list[str]) -> str:
    return "\n".join(lines)


def test_the_script_carries_every_cut_off_and_switches_off_before_it_reports():
    lines = tspg.script_lines("a", -2e-11, 2.0, 3600.0, 2.5, 3.95, capacity_C=1.5e-9, window_V=(2.4, 4.05),
                              clamp_V=4.1)
    assert lines[0] == "loadscript nc_galv" and lines[-1] == "endscript"
    body = _body(lines)
    # pA values and every bound as exact literals, sent one line at a time (no line is the terminator)
    assert "local level, interval, tmax, check, de = -2e-11, 2.0, 3600.0, 0.05, 0.01" in body
    assert "local vmin, vmax, wmin, wmax, qmax = 2.5, 3.95, 2.4, 4.05, 1.5e-09" in body
    assert "smu.source.offmode = smu.OUTPUT_HIGH_Z" in body and "smu.source.limitv = 4.1" in body
    # the limit is set before the output goes on; the output goes off before the END line
    assert body.index("smu.source.limitv") < body.index("smu.source.output = smu.OUTPUT_ON")
    last_off = body.rindex("smu.source.output = smu.OUTPUT_OFF")
    assert body.index("smu.source.output = smu.OUTPUT_ON") < last_off < body.index('print("NCGS_END"')
    assert all(line and "\n" not in line for line in lines)


def test_no_window_and_no_capacity_are_sent_as_finite_bounds_lua_50_understands():
    body = _body(tspg.script_lines("b", 1e-9, 1.0, 10.0, -math.inf, math.inf, clamp_V=20.0))
    assert "local smu = smub" in body
    assert "local vmin, vmax, wmin, wmax, qmax = -1e300, 1e300, -1e300, 1e300, 0.0" in body
    assert "math.huge" not in body and "inf" not in body.replace("interval", "")


def test_lines_are_parsed_and_garbage_is_not_a_sample():
    sample = tspg.parse_line("NCGS\t3\t4.02\t3.1\t2.0001e-11\t8.04e-11")
    assert sample == tspg.SampleLine(3, 4.02, 3.1, 2.0001e-11, 8.04e-11)
    assert tspg.parse_line("NCGS_END\tv_max\t7\t1.2e-10") == tspg.EndLine("v_max", 7, 1.2e-10)
    for junk in ("NCGS\t3\t4.0#\t3.1\t2e-11\t1e-10", "NCGS_END\tbogus\t7\t1e-10", "NCGS\t3\tnan\t1\t1\t1",
                 "1.00000e+00", ""):
        assert tspg.parse_line(junk) is None, junk


def test_connecting_to_an_idle_instrument_asks_only_its_identity():
    with expected_protocol(Keithley2600, [("*IDN?", IDN)]) as smu:
        assert smu.id == IDN
        assert smu.orphan_aborted is None


@pytest.mark.parametrize(("state", "says"), [
    ("ended max_time", "had ended by itself (max_time), switching its output off"),
    ("running", "was cut short (aborted or failed) and no host took over after it"),
    ("stopped", None),  # a host's stop() took it back
    ("nil", None),  # no script ever ran
])
def test_what_became_of_a_script_no_host_took_back_is_read_from_the_instrument(state, says):
    with expected_protocol(Keithley2600, [("print(nc_galv_state)", state)]) as smu:
        note = smu.script_left_behind()
    assert (note is None) if says is None else (says in note and note.startswith("no script running"))


def test_stop_aborts_then_switches_off_and_reads_back():
    with expected_protocol(Keithley2600, [
        ("abort", None),
        ("smua.source.output=0", None),
        ("print(smua.source.output)", "0.00000e+00"),
        # only once the output reads back off: no script is pending for a host that connects later
        ('nc_galv_state = "stopped"', None),
        ("print(smua.source.output)", "0.00000e+00"),
    ]) as smu:
        smu.stop()
        assert smu.cell_is_off() and not smu.running


def test_cell_is_off_is_false_while_the_output_reads_on():
    with expected_protocol(Keithley2600, [("print(smua.source.output)", "1.00000e+00")]) as smu:
        assert smu.cell_is_off() is False


def test_bad_arguments_send_nothing():
    with expected_protocol(Keithley2600, []) as smu:
        with pytest.raises(ValueError, match="v_min < v_max"):
            smu.start_galvanostatic(1e-11, 1.0, 10.0, 3.0, 3.0)
        with pytest.raises(ValueError, match="interval_s"):
            smu.start_galvanostatic(1e-11, 0.0, 10.0, 2.0, 3.0)
        with pytest.raises(ValueError, match="capacity_C"):
            smu.start_galvanostatic(1e-11, 1.0, 10.0, 2.0, 3.0, capacity_C=0.0)
        with pytest.raises(ValueError):
            smu.start_galvanostatic(2.0, 1.0, 10.0, 2.0, 3.0)  # beyond the 2600B's 1.5 A


def test_model_option_is_one_of_the_2600b_series():
    with expected_protocol(Keithley2600, [], model="2636B") as smu:
        assert smu.model == "2636B"
    with pytest.raises(ValueError, match="model must be one of"):
        Keithley2600("TCPIP::127.0.0.1::1::SOCKET", model="2450")


def test_fills_the_galvanostat_role_and_the_registry_says_so():
    assert missing_members(Keithley2600, Galvanostat) == []
    assert "galvanostat" in resolve("keithley2600").roles
