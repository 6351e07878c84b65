"""Fixtures for the station tests: the example station text and a simulated bench."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulated_instruments.bench import SimulatedBench

EXAMPLE = """\
name: test bench
simulation: {speed: 1000.0}
instruments:
  smu:          {driver: keithley2450, resource: "TCPIP::127.0.0.1::41001::SOCKET",
                 options: {timeout_ms: 5000, read_termination: "\\n", write_termination: "\\n"}}
  pstat:        {driver: emstat4, resource: "TCPIP::127.0.0.1::41002::SOCKET"}
  stage:        {driver: proscan3, resource: "TCPIP::127.0.0.1::41003::SOCKET"}
  spectrometer: {driver: nanocell_spectrometer, resource: "TCPIP::127.0.0.1::41004::SOCKET"}
  shutter:      {driver: sc10, resource: "TCPIP::127.0.0.1::41005::SOCKET"}
  matrix:       {driver: keithley707b, resource: "TCPIP::127.0.0.1::41006::SOCKET"}
roles:
  source_meter: smu
  galvanostat: pstat
  potentiostat: pstat
  stage: stage
  spectrometer: spectrometer
  laser: spectrometer
  shutter: shutter
  router: matrix
device:
  chip: SIM-SI-01
  wire: Si/a-Si core/shell nanowire
  nominal_capacity_Ah: 3.0e-16
  wire_position_um: {start: [100.0, 200.0], end: [110.0, 200.0], z: 0.0}
pads:
  S:  {kind: contact, along_wire_um: 0.0}
  D:  {kind: contact, along_wire_um: 10.0}
  CE: {kind: counter}
wirings:
  cycling:           {instrument: pstat, channels: ["1A01", "1B04"], pads: [S, CE]}
  "conductance:S-D": {instrument: smu,   channels: ["1C01", "1D02"], pads: [S, D]}
limits:
  cycling: {max_current_A: 1.0e-9, voltage_window_V: [2.4, 4.05]}
  wirings:
    "conductance:S-D": {max_current_A: 1.0e-6, max_voltage_V: 1.0}
  max_laser_power_mW: 0.5
  stage_travel_um: {x: [0, 1000], y: [0, 1000], z: [-50, 50]}
"""

@pytest.fixture
def example_text() -> str:
    return EXAMPLE


@pytest.fixture
def example_file(tmp_path: Path) -> Path:
    path = tmp_path / "station.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bench():
    with SimulatedBench(preset="si", speed=1000.0, seed=0, smu_model="2450") as running:
        yield running


@pytest.fixture
def bench_station(bench, tmp_path: Path) -> Path:
    return bench.write_station(tmp_path / "station.yaml")
