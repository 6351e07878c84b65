"""Fault kinds added for link-fault tests: ``late`` replies and faults aimed at one command with ``match``."""

from __future__ import annotations

import time

import pytest
import pyvisa

from simulated_instruments.faults import FaultBox, FaultError


def test_a_late_reply_arrives_among_later_replies(bench, visa):
    spec = visa(bench, "spectrometer", timeout_ms=300)
    bench.inject("spectrometer", "late", match="POIN?", seconds=0.6)
    spec.write("POIN?")
    with pytest.raises(pyvisa.errors.VisaIOError):
        spec.read()  # nothing within the timeout
    assert spec.query("LASER:WAV?") == "532.0"  # the connection goes on answering meanwhile
    time.sleep(0.7)
    assert spec.query("*IDN?") == "1024"  # the late reply comes first: what a client must never decode
    assert spec.read().startswith("NANOCELL,")


def test_match_aims_a_fault_at_the_first_command_containing_it(bench, visa):
    smu = visa(bench, "smu", timeout_ms=500)
    bench.inject("smu", "garble", match=":sour:volt:ilim:trip?")
    assert smu.query("*IDN?").startswith("KEITHLEY")  # not aimed at: untouched, still pending
    assert bench.emulators["smu"].faults.pending() == {"garble": {}}
    assert smu.query(":SOUR:VOLT:ILIM:TRIP?") != "0"
    assert bench.emulators["smu"].faults.pending() == {}
    assert smu.query(":SOUR:VOLT:ILIM:TRIP?") == "0"


def test_match_on_a_dropped_connection(bench, visa):
    sc10 = visa(bench, "shutter", timeout_ms=300)
    bench.inject("shutter", "drop", match="closed?")
    sc10.write("ens?")
    assert sc10.read() == "ens?" and sc10.read() == "0" and sc10.read_bytes(2) == b"> "
    sc10.write("closed?")
    with pytest.raises(pyvisa.errors.VisaIOError):
        sc10.read()
    assert [e.reply for e in bench.emulators["shutter"].log][-1] == "<connection dropped>"


@pytest.mark.parametrize(("kind", "params", "message"), [
    ("compliance_trip", {"match": "READ?"}, "match needs"),  # the emulator consumes it, not the server
    ("garble", {"match": ""}, "match needs"),
    ("late", {"seconds": -1}, "late seconds"),
    ("late", {"seconds": 1e6}, "late seconds"),
])
def test_bad_fault_parameters_are_refused(kind, params, message):
    with pytest.raises(FaultError, match=message):
        FaultBox("smu").add(kind, **params)
