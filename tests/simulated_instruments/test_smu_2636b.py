"""The Keithley 2636B emulator (TSP) over raw pyvisa: formats, error queue, wiring, faults, robustness."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
from conftest import connect

from simulated_instruments.bench import BenchError, SimulatedBench


@pytest.fixture
def bench() -> Iterator[SimulatedBench]:
    with SimulatedBench("si", speed=1000.0, seed=0, smu_model="2636b") as b:
        yield b


def test_identity_numbers_and_tab_separated_prints(bench, visa):
    smu = visa(bench, "smu")
    assert smu.query("*IDN?").startswith("Keithley Instruments Inc., Model 2636B,")
    assert bench.station_dict()["instruments"]["smu"]["driver"] == "keithley2600"
    smu.write("smua.source.limiti = 1e-9 smua.source.levelv=-0.25")  # two statements on one line
    assert smu.query("print(smua.source.limiti)") == "1.00000e-09"
    assert smu.query("print(smua.source.levelv, smua.source.func)") == "-2.50000e-01\t1.00000e+00"
    smu.write("smua.source.func = smua.OUTPUT_DCAMPS")
    assert smu.query("print(smua.source.func)") == "0.00000e+00"
    assert smu.query("print(smua.source.compliance)") == "false"
    smu.write("smua.measure.rangei = 3e-10")
    assert smu.query("print(smua.measure.rangei, smua.measure.autorangei)") == "1.00000e-09\t0.00000e+00"
    smu.write("reset()")
    assert smu.query("print(smua.source.func, smua.source.output)") == "1.00000e+00\t0.00000e+00"
    assert smu.query("print(errorqueue.count)") == "0.00000e+00"


def test_off_mode_takes_the_named_constants(bench, visa):
    smu = visa(bench, "smu")
    for name in ("OUTPUT_HIGH_Z", "OUTPUT_ZERO", "OUTPUT_NORMAL"):
        smu.write(f"smua.source.offmode = smua.{name}")
        mode, constant = smu.query(f"print(smua.source.offmode, smua.{name})").split("\t")
        assert mode == constant
    assert smu.query("print(errorqueue.count)") == "0.00000e+00"


def test_errors_are_queued_never_answered(bench, visa):
    smu = visa(bench, "smu", timeout_ms=300)
    smu.write("smua.source.bogus = 1")
    smu.write("print(smua.measure.i(")
    smu.write("smua.source.limiti = 10")
    smu.write("smua.source.limiti = 0")  # the manual's example of 1102 "Parameter too small"
    assert smu.query("print(errorqueue.count)") == "4.00000e+00"
    codes = [smu.query("print(errorqueue.next())").split("\t")[0] for _ in range(4)]
    assert codes == ["-2.86000e+02", "-2.85000e+02", "1.10100e+03", "1.10200e+03"]
    assert smu.query("print(errorqueue.next())") == "0.00000e+00\tQueue Is Empty\t0.00000e+00\t0.00000e+00"
    assert smu.query("print(smua.source.limiti)") == "1.00000e-01"  # the bad value changed nothing


def test_only_smua_reaches_the_wire_through_the_matrix(bench, visa):
    smu, matrix = visa(bench, "smu"), visa(bench, "matrix")
    smu.write("smua.source.levelv = 0.01 smua.source.limiti = 1e-6 smua.measure.nplc = 0.1")
    smu.write("smua.source.output = smua.OUTPUT_ON")
    assert smu.query("*OPC?") == "1"  # the writes before it have run
    assert bench.output_on("smu")
    assert abs(float(smu.query("print(smua.measure.i())"))) < 5e-12  # matrix open: nothing connected
    connect(matrix, "1C01,1D02")
    g = bench.model.wire_conductance(bench.clock.now(), "S", "D")
    assert float(smu.query("print(smua.measure.i())")) == pytest.approx(0.01 * g, rel=0.1)
    smu.write("smub.source.levelv = 0.01 smub.source.output = 1")
    assert abs(float(smu.query("print(smub.measure.i())"))) < 5e-12  # smub is wired to nothing
    smu.write("smua.source.output = 0 smub.source.output = 0")
    assert smu.query("print(smua.source.output)") == "0.00000e+00"
    log = bench.log("smu")
    assert any(e.output_on for e in log) and not log[-1].output_on


def test_faults_apply_to_the_2636b(bench, visa):
    smu = visa(bench, "smu")
    connect(visa(bench, "matrix"), "1C01,1D02")
    smu.write("smua.source.levelv = 0.001 smua.source.limiti = 1e-6 smua.source.output = 1")
    bench.inject("smu", "compliance_trip")
    assert float(smu.query("print(smua.measure.i())")) == pytest.approx(1e-6, rel=0.01)
    bench.inject("smu", "error_next")
    smu.write("smua.source.levelv = 0.002")
    assert smu.query("print(errorqueue.next())").startswith("-2.00000e+02\tExecution error")
    assert smu.query("print(smua.source.levelv)") == "1.00000e-03"  # the faulted command did not run
    smu.write("smua.source.output = 0")


def test_garbage_never_kills_the_2636b(bench, visa):
    port = int(bench.resources["smu"].split("::")[2])
    for payload in (os.urandom(2000) + b"\n", b"x" * 50_000 + b"\n", b"half"):
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(payload)
    smu = visa(bench, "smu")
    smu.write("NOSUCHCOMMAND")
    assert smu.query("*IDN?").startswith("Keithley Instruments Inc., Model 2636B")
    assert any("overrun" in e for e in bench.errors("smu"))


def test_unknown_smu_model_is_refused():
    with pytest.raises(BenchError, match="smu_model"):
        SimulatedBench(smu_model="6430")


def test_sense_mode_takes_the_2600b_constants(bench, visa):
    """2600BS-901-01 p. 7-217: SENSE_LOCAL 0, SENSE_REMOTE 1 (also with the output on), SENSE_CALA 3."""
    smu = visa(bench, "smu", timeout_ms=500)
    assert smu.query("print(smua.SENSE_LOCAL, smua.SENSE_REMOTE, smua.SENSE_CALA)") == (
        "0.00000e+00\t1.00000e+00\t3.00000e+00")
    assert smu.query("print(smua.sense)") == "0.00000e+00"  # local (2-wire) after power-on
    smu.write("smua.source.output = smua.OUTPUT_ON")
    smu.write("smua.sense = smua.SENSE_REMOTE")
    assert smu.query("print(smua.sense)") == "1.00000e+00"
    smu.write("smua.source.output = smua.OUTPUT_OFF")
    smu.write("smub.sense=1")  # what PyMeasure writes
    assert smu.query("print(smub.sense)") == "1.00000e+00"
    assert smu.query("print(errorqueue.count)") == "0.00000e+00"
    smu.write("smua.sense = smua.SENSE_LOCAL")
    assert smu.query("print(smua.sense)") == "0.00000e+00"
    smu.write("smua.sense = 1 reset()")
    assert smu.query("print(smua.sense, smub.sense)") == "0.00000e+00\t0.00000e+00"  # reset: local


def test_sense_mode_refuses_calibration_and_other_values(bench, visa):
    smu = visa(bench, "smu", timeout_ms=500)
    smu.write("smua.sense = smua.SENSE_REMOTE")
    for bad in ("smua.SENSE_CALA", "2", "7", "-1"):
        smu.write(f"smua.sense = {bad}")
    codes = [float(smu.query("print(errorqueue.next())").split("\t")[0]) for _ in range(4)]
    assert codes == [-221, 1115, 1101, 1102]
    assert smu.query("print(smua.sense)") == "1.00000e+00"  # unchanged by the refused values


def test_format_ascii_and_localnode_model(bench, visa):
    """2600BS-901-01 Rev. F p. 9-102 (format.data) and the read-only localnode.model."""
    smu = visa(bench, "smu", timeout_ms=500)
    assert smu.query("print(format.ASCII, format.REAL32, format.REAL64)") == (
        "1.00000e+00\t2.00000e+00\t3.00000e+00")
    smu.write("format.data = format.ASCII")
    assert smu.query("print(format.data)") == "1.00000e+00"
    assert smu.query("print(localnode.model)") == "2636B"
    assert smu.query("print(localnode.serialno)") == "4401234"
    assert smu.query("print(errorqueue.count)") == "0.00000e+00"
    smu.write("format.data = 9")
    smu.write('localnode.model = "2450"')
    smu.write("format.ASCII = 3")
    codes = [float(smu.query("print(errorqueue.next())").split("\t")[0]) for _ in range(3)]
    assert codes == [1101, -286, -286]
    assert smu.query("print(localnode.model, format.ASCII, format.data)") == "2636B\t1.00000e+00\t1.00000e+00"
    smu.write("format.data = format.REAL64")
    assert smu.query("print(format.data)") == "3.00000e+00"
    smu.write("reset()")
    assert smu.query("print(format.data)") == "1.00000e+00"  # "affected by instrument reset"


def test_an_open_circuit_reads_the_fixed_offset_of_the_range_in_use(bench, visa):
    """The 2636B reads a current with its measure range's offset (2600B datasheet, within +-half the spec),
    like the 2450 and EmStat emulators: on a fixed 10 nA range an open circuit reads that offset, not 0."""
    from simulated_instruments import datasheets

    smu = visa(bench, "smu")
    smu.write("smua.source.func = smua.OUTPUT_DCVOLTS smua.source.levelv = 0 smua.source.limiti = 1e-8")
    smu.write("smua.measure.rangei = 1e-8 smua.source.output = smua.OUTPUT_ON")
    offset = datasheets.range_offset("2636B", "measure", "current", 10e-9, bench.emulators["smu"].seed)
    assert 0 < abs(offset) <= 1.5e-12  # half of the 10 nA range's 3 pA offset term
    readings = [float(smu.query("print(smua.measure.i())")) for _ in range(5)]
    smu.write("smua.source.output = smua.OUTPUT_OFF")
    assert readings == pytest.approx([offset] * 5, abs=0.3 * abs(offset) + 2e-14)
