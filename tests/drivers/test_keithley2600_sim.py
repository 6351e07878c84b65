"""Keithley 2600B driver against the 2636B emulator (``SimulatedBench(smu_model="2636b")``), real pyvisa."""

from __future__ import annotations

import time

import numpy as np
import pytest

from drivers import registry
from drivers.errors import InstrumentError
from drivers.keithley2600 import Keithley2600
from simulated_instruments.bench import SimulatedBench

from .conftest import wired


@pytest.fixture(scope="module")
def bench():
    with SimulatedBench(preset="si", speed=1000.0, seed=0, smu_model="2636b") as running:
        yield running


@pytest.fixture(scope="module")
def drivers(bench):
    station = bench.station_dict()
    opened = {}
    for name in ("smu", "matrix"):
        inst = station["instruments"][name]
        opened[name] = registry.open_driver(inst["driver"], inst["resource"], name, inst["options"])
    yield opened
    for driver in opened.values():
        driver.adapter.close()


@pytest.fixture
def smu(drivers) -> Keithley2600:
    return drivers["smu"]


@pytest.fixture
def matrix(drivers):
    return drivers["matrix"]


def test_station_file_names_the_2600_driver_and_identity_matches(bench, smu):
    assert bench.station_dict()["instruments"]["smu"]["driver"] == "keithley2600"
    assert isinstance(smu, Keithley2600)
    assert registry.resolve("keithley2600").identity_matches(smu.id)
    assert "Model 2636B" in smu.id


def test_one_nanoamp_compliance_round_trips_not_zero(bench, smu):
    smu.configure_voltage_source(1e-9, nplc=0.1, current_range_A=1e-10)
    assert smu.smu.compliance_current == pytest.approx(1e-9)
    assert smu.smu.current_range == pytest.approx(1e-10)  # the 2636B's 100 pA measure range
    assert smu.smu.current_autorange is False
    smu.smu.source_current = 1e-9
    assert smu.smu.source_current == pytest.approx(1e-9)
    smu.smu.measure_nplc = 25
    assert smu.smu.measure_nplc == 25  # PyMeasure's list-index bug would have sent 1
    assert smu.ask("print(smua.source.limiti)") == "1.00000e-09"
    assert smu.errors() == []


def test_iv_on_the_wire_matches_the_model_conductance(bench, smu, matrix):
    with wired(smu, matrix, ["1C01", "1D02"]):
        smu.configure_voltage_source(1e-6, nplc=1)
        smu.set_voltage(0.0)
        smu.enable_output()
        assert smu.output_enabled and bench.output_on("smu")
        volts = np.linspace(-0.02, 0.02, 9)
        currents = smu.sweep_voltage(volts, 0.001)
        g_fit = np.polyfit(volts, currents, 1)[0]
        g_model = bench.model.wire_conductance(bench.clock.now(), "S", "D")
        assert g_fit == pytest.approx(g_model, rel=0.1)
        assert not smu.compliance_tripped
        i, v = (float(x) for x in smu.ask("print(smua.measure.iv())").split("\t"))  # TAB-separated
        assert v == pytest.approx(0.02) and i == pytest.approx(g_model * 0.02, rel=0.1)
    assert not bench.output_on("smu")


def test_compliance_clamps_and_is_reported(bench, smu, matrix):
    with wired(smu, matrix, ["1C01", "1D02"]):
        smu.configure_voltage_source(1e-9, nplc=0.1)
        smu.set_voltage(1.0)
        smu.enable_output()
        assert abs(smu.measure_current()) == pytest.approx(1e-9, rel=0.05)
        assert smu.compliance_tripped


def test_cycling_wiring_is_an_open_circuit_for_the_smu(bench, smu, matrix):
    with wired(smu, matrix, ["1A01", "1B04"]):
        smu.configure_voltage_source(1e-6, nplc=0.1, current_range_A=1e-8)
        smu.enable_output()
        currents = smu.sweep_voltage([-0.1, 0.0, 0.1], 0.0)
    assert np.max(np.abs(currents)) < 5e-12


def test_errors_are_queued_and_raised(bench, smu):
    smu.write("smua.source.nosuch = 1")
    smu.write("print(smua.measure.i()")  # unbalanced: a syntax error, no reply
    found = smu.errors()
    assert [code for code, _ in found] == [-286, -285]
    assert smu.errors() == []
    with pytest.raises(InstrumentError, match="Parameter too small"):
        smu.write("smua.measure.nplc=0.0001")
        smu.raise_errors("nplc")
    assert smu.ask("print(errorqueue.next())").split("\t")[:2] == ["0.00000e+00", "Queue Is Empty"]


def test_snapshot_settings_reads_without_switching(bench, smu):
    smu.configure_voltage_source(2e-7, nplc=0.5, current_range_A=1e-8)
    smu.set_voltage(0.05)
    assert smu.ask("*OPC?").strip() == "1"  # the writes before it are logged (they are not answered)
    before = len(bench.log("smu"))
    settings = smu.snapshot_settings()
    assert settings["source_function"] == "voltage"
    assert settings["current_limit_A"] == pytest.approx(2e-7)
    assert settings["source_voltage_V"] == pytest.approx(0.05)
    assert settings["current_range_A"] == pytest.approx(1e-8)
    assert settings["nplc"] == pytest.approx(0.5)
    assert settings["off_mode"] == "high_z" and settings["output_enabled"] is False
    told = bench.log("smu")[before:]
    assert told and all(e.command.startswith("print(") and not e.output_on for e in told)


def test_a_dead_host_leaves_the_output_bound_by_the_limit_it_set(bench, smu, matrix):
    """A host sets 10 nA, turns 1 V on across the ~uS wire and dies (its link closes, nothing turns the
    output off): the 2636B keeps sourcing, clamped at 10 nA, and says so to whoever connects next."""
    conf = bench.station_dict()["instruments"]["smu"]
    with wired(smu, matrix, ["1C01", "1D02"]):  # ``smu`` is whoever connects next; it cleans up after
        host = registry.open_driver(conf["driver"], conf["resource"], "smu", conf["options"])
        host.configure_voltage_source(10e-9, nplc=0.1)
        host.set_voltage(1.0)
        host.enable_output()
        host.adapter.close()  # the host is gone
        # (the unanswered TSP writes reach the emulator's connection thread a moment later)
        deadline = time.monotonic() + 5.0
        while not bench.output_on("smu") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert bench.output_on("smu")
        assert float(smu.ask("print(smua.source.limiti)")) == pytest.approx(10e-9)
        assert abs(smu.measure_current()) == pytest.approx(10e-9, rel=0.05)  # not G * 1 V ~ 1 uA
        assert smu.compliance_tripped
    assert not bench.output_on("smu")


def test_an_instrument_reset_behind_the_hosts_back_keeps_the_output_off(bench, smu, matrix):
    with wired(smu, matrix, ["1C01", "1D02"]):
        smu.configure_voltage_source(1e-8, nplc=0.1)
        smu.write("smua.reset()")  # back to the 100 mA default limit
        with pytest.raises(InstrumentError, match=r"refusing to turn the output on: .* limit 0\.1 A"):
            smu.enable_output()
        assert not bench.output_on("smu")
