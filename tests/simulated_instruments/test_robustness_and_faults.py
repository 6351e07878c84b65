"""Garbage never kills a server; each fault is observable through pyvisa; the log records commands."""

from __future__ import annotations

import os
import socket
import time

import pytest
import pyvisa
from pyvisa.errors import VisaIOError

IDENTIFY = {"smu": ("*IDN?", "KEITHLEY"), "spectrometer": ("*IDN?", "NANOCELL"), "matrix": ("*IDN?", "707B"),
            "stage": ("VERSION", "100"), "pstat": ("i", "iES4"), "shutter": ("id?", "id?")}


def _raw(bench, name: str, payload: bytes, half_close: bool = False) -> None:
    port = int(bench.resources[name].split("::")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(payload)
        if half_close:
            s.shutdown(socket.SHUT_WR)


@pytest.mark.parametrize("name", list(IDENTIFY))
def test_random_bytes_overlong_lines_and_unknown_commands_never_kill_the_server(bench, visa, name):
    rng = __import__("random").Random(1)
    _raw(bench, name, bytes(rng.randrange(256) for _ in range(3000)) + b"\n\r")
    _raw(bench, name, b"A" * 100_000 + b"\n\r", half_close=True)
    _raw(bench, name, b"half", half_close=True)
    _raw(bench, name, os.urandom(64))
    inst = visa(bench, name)
    inst.write("NOSUCHCOMMAND")
    if name == "shutter":
        inst.read(), inst.read(), inst.read_bytes(2)
    elif name in ("stage", "pstat"):
        inst.read()
    query, expected = IDENTIFY[name]
    assert expected in inst.query(query)
    deadline = time.monotonic() + 5  # the raw connections are served by their own threads
    while len(bench.errors(name)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    errors = bench.errors(name)
    assert any("long" in e or "overrun" in e.lower() or "0003" in e or "Input" in e for e in errors)
    assert any("NOSUCHCOMMAND" in e or "-113" in e or "-285" in e for e in errors)


def test_smu_error_queue_has_the_overrun(bench, visa):
    _raw(bench, "smu", b":SOUR:VOLT " + b"9" * 10_000 + b"\n")
    # the raw connection is served by its own thread: wait until it has been handled
    deadline = time.monotonic() + 5
    while not any("overrun" in e for e in bench.errors("smu")) and time.monotonic() < deadline:
        time.sleep(0.01)
    smu = visa(bench, "smu")
    assert smu.query(":SYST:ERR?").startswith('-363,"Input buffer overrun')


def test_timeout_fault_raises_visa_timeout(bench, visa):
    smu = visa(bench, "smu", timeout_ms=300)
    bench.inject("smu", "timeout")
    with pytest.raises(VisaIOError) as err:
        smu.query("*IDN?")
    assert err.value.error_code == pyvisa.constants.StatusCode.error_timeout
    assert smu.query("*IDN?").startswith("KEITHLEY")


def test_drop_fault_closes_the_connection(bench, visa):
    stage = visa(bench, "stage", timeout_ms=500)
    bench.inject("stage", "drop")
    with pytest.raises(VisaIOError):
        stage.query("P")
    assert visa(bench, "stage").query("P") == "0,0,0"  # a new connection works


def test_garble_fault_corrupts_one_reply(bench, visa):
    spec = visa(bench, "spectrometer")
    bench.inject("spectrometer", "garble")
    bad = spec.query("*IDN?")
    assert bad != "NANOCELL,SIMSPEC-532,SIM00001,1.0" and len(bad) == 33
    assert spec.query("*IDN?").startswith("NANOCELL")


def test_delay_fault_delays_replies(bench, visa):
    import time

    mx = visa(bench, "matrix", timeout_ms=5000)
    bench.inject("matrix", "delay", seconds=1.5)
    t0 = time.monotonic()
    assert mx.query("*IDN?").startswith("KEITHLEY")
    assert time.monotonic() - t0 >= 1.5  # the reply waited for the injected delay
    bench.clear_faults("matrix")
    mx.timeout = 1000  # cleared: answered within a timeout shorter than the delay (its speed: a benchmark)
    assert mx.query("*IDN?").startswith("KEITHLEY")


def test_error_next_fault_gives_an_instrument_error(bench, visa):
    smu = visa(bench, "smu")
    bench.inject("smu", "error_next")
    smu.write(":SOUR:VOLT 0.5")
    assert smu.query(":SYST:ERR?").startswith("-200,")
    assert float(smu.query(":SOUR:VOLT?")) == 0.0  # the command was not executed
    stage = visa(bench, "stage")
    bench.inject("stage", "error_next")
    assert stage.query("P") == "E,2"


def test_compliance_trip_fault(bench, visa):
    smu = visa(bench, "smu")
    smu.write(":SOUR:VOLT:ILIM 1e-7;:OUTP ON")
    bench.inject("smu", "compliance_trip")
    assert abs(float(smu.query(":READ?"))) == pytest.approx(1e-7, rel=0.01)
    assert smu.query(":SOUR:VOLT:ILIM:TRIP?") == "1"
    float(smu.query(":READ?"))
    assert smu.query(":SOUR:VOLT:ILIM:TRIP?") == "0"


def test_stage_limit_fault_stops_the_move_short(bench, visa):
    stage = visa(bench, "stage")
    bench.inject("stage", "stage_limit")
    stage.write("G 100,0")
    assert stage.read() == "R"
    assert stage.query("P") == "50,0,0"
    assert stage.query("=") == "1"


def test_faults_given_at_start(visa):
    from fake_model import FakeCell

    from simulated_instruments.bench import SimulatedBench

    with SimulatedBench(model=FakeCell(), faults={"smu": {"timeout": {}}}) as b:
        smu = visa(b, "smu", timeout_ms=300)
        with pytest.raises(VisaIOError):
            smu.query("*IDN?")


def test_unknown_fault_is_refused(bench):
    from simulated_instruments.faults import FaultError

    with pytest.raises(FaultError):
        bench.inject("smu", "meteor")
    with pytest.raises(FaultError):
        bench.inject("smu", "stage_limit")


def test_log_records_commands_and_output_state(bench, visa):
    smu = visa(bench, "smu")
    smu.write(":OUTP ON")
    assert smu.query(":OUTP?") == "1"
    smu.write(":OUTP OFF")
    smu.query("*OPC?")
    log = bench.log("smu")
    assert [(e.command, e.output_on) for e in log[:3]] == [(":OUTP ON", True), (":OUTP?", True),
                                                              (":OUTP OFF", False)]
    assert log[1].reply == "1\n" and log[0].t_sim <= log[2].t_sim
