"""``nanocell sim state`` and ``nanocell sim fault`` against a running simulated bench's control endpoint."""

from __future__ import annotations

import json

import pytest
import yaml

from drivers.keithley707b import Keithley707B
from drivers.keithley2450 import Keithley2450
from nanocell_daq.cli import main
from simulated_instruments.bench import SimulatedBench


@pytest.fixture
def bench(tmp_path):
    with SimulatedBench(preset="si", speed=1000.0, seed=0, smu_model="2450") as b:
        b.station_path = b.write_station(tmp_path / "station.yaml")
        yield b


def _state(bench, capsys) -> dict:
    assert main(["sim", "state", "--station", str(bench.station_path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_state_names_live_outputs_closed_channels_and_the_wire_current(bench, capsys):
    assert _state(bench, capsys)["outputs_on"] == []
    smu = Keithley2450(bench.resources["smu"])
    matrix = Keithley707B(bench.resources["matrix"])
    try:
        matrix.close(["1C01", "1D02"])  # the SMU across the wire (S-D)
        smu.configure_voltage_source(1e-6)
        smu.set_voltage(0.2)
        smu.enable_output()
        assert smu.measure_current() > 0
        state = _state(bench, capsys)
        assert state["outputs_on"] == ["smu"]
        assert state["matrix_closed"] == ["1C01", "1D02"]
        assert state["damage_events"] == 0
        assert state["max_wire_current_A"] == pytest.approx(bench.max_wire_current_A) and state[
            "max_wire_current_A"] > 1e-9
        matrix.open_all()  # under bias: the bench counts it
        assert _state(bench, capsys)["switched_under_bias"] == 1
        smu.disable_output()
    finally:
        smu.adapter.close()
        matrix.adapter.close()
    assert main(["sim", "state", "--station", str(bench.station_path)]) == 0
    assert "outputs on: none" in capsys.readouterr().out


def test_fault_is_injected_into_the_running_bench(bench, capsys):
    station = str(bench.station_path)
    assert main(["sim", "fault", "smu", "error_next", "--count", "2", "--station", station]) == 0
    assert "error_next" in capsys.readouterr().out
    assert "error_next" in bench.pending_faults("smu")
    assert main(["sim", "fault", "stage", "delay", "--seconds", "0.01", "--station",
                 str(bench.station_path)]) == 0
    assert bench.pending_faults("stage")["delay"] == {"seconds": 0.01}
    assert main(["sim", "fault", "smu", "clear", "--station", str(bench.station_path)]) == 0
    assert bench.pending_faults("smu") == {}
    assert main(["sim", "fault", "pstat", "drop", "--persistent", "--station", str(bench.station_path)]) == 0
    capsys.readouterr()
    assert _state(bench, capsys)["faults"]["pstat"] == {"drop": {}}


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["smux", "timeout"], "unknown instrument 'smux'; valid: smu, pstat, stage, spectrometer, shutter, "
                              "matrix"),
        (["smu", "boom"], "unknown fault kind 'boom'; valid: delay, timeout, drop, garble, late, error_next"),
        (["pstat", "stage_limit"], "stage_limit applies to the stage only"),
        (["smu", "timeout", "--count", "0"], "--count: must be >= 1"),
    ],
)
def test_a_bad_fault_is_one_line_naming_the_valid_ones(bench, capsys, args, said):
    assert main(["sim", "fault", *args, "--station", str(bench.station_path)]) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1
    assert all(not kinds for kinds in (bench.pending_faults(n) for n in bench.emulators))


def test_a_station_without_a_running_bench_is_a_one_line_error(bench, tmp_path, capsys):
    data = yaml.safe_load(bench.station_path.read_text())
    del data["simulation"]["control"]
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump(data))
    assert main(["sim", "state", "--station", str(plain), "--json"]) == 2
    assert "simulation.control: missing" in capsys.readouterr().err
    data["simulation"]["control"] = "10.0.0.5:80"  # never anything but loopback
    plain.write_text(yaml.safe_dump(data))
    assert main(["sim", "state", "--station", str(plain)]) == 2
    assert "control" in capsys.readouterr().err
    bench.stop()
    assert main(["sim", "state", "--station", str(bench.station_path)]) == 2
    assert "no simulated bench answers" in capsys.readouterr().err
