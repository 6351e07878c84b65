"""GUI tests run offscreen; widget tests are skipped (with the reason) where Qt cannot start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import nanocell_daq.gui  # noqa: F401 - first: guards None/True/False before any Qt call (see refcount_guard)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _qt_problem() -> str | None:
    """Why Qt cannot start here (None if it can); probed in a subprocess so a crash cannot kill pytest."""
    code = "from PySide6.QtWidgets import QApplication; app = QApplication([]); import pyqtgraph"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "QT_QPA_PLATFORM": os.environ["QT_QPA_PLATFORM"]},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"Qt could not be probed: {exc}"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return f"Qt cannot load its platform plugin here ({last}); install libegl1 libgl1 libxkbcommon0 ..."
    return None


_PROBLEM: list[str | None] = []


@pytest.fixture
def qt_ok() -> None:
    """Skip the test with a clear reason when Qt cannot start on this machine."""
    if not _PROBLEM:
        _PROBLEM.append(_qt_problem())
    if _PROBLEM[0]:
        pytest.skip(_PROBLEM[0])


@pytest.fixture
def store(tmp_path: Path):
    from nanocell_daq.storage import Store

    s = Store.open(tmp_path / "runs.db")
    yield s
    s.close()


@pytest.fixture
def sim_station(tmp_path: Path) -> Path:
    """A station file in the team's format (the simulated bench's, not started: no instrument is touched)."""
    text = """\
name: simulated bench (si)
simulation: {speed: 1000.0}
instruments:
  smu: {driver: keithley2450, resource: "TCPIP::127.0.0.1::41001::SOCKET"}
  pstat: {driver: emstat4, resource: "TCPIP::127.0.0.1::41002::SOCKET"}
  stage: {driver: proscan3, resource: "TCPIP::127.0.0.1::41003::SOCKET"}
  spectrometer: {driver: nanocell_spectrometer, resource: "TCPIP::127.0.0.1::41004::SOCKET"}
  shutter: {driver: sc10, resource: "TCPIP::127.0.0.1::41005::SOCKET"}
  matrix: {driver: keithley707b, resource: "TCPIP::127.0.0.1::41006::SOCKET"}
roles: {source_meter: smu, galvanostat: pstat, potentiostat: pstat, stage: stage, spectrometer: spectrometer,
        laser: spectrometer, shutter: shutter, router: matrix}
device:
  chip: SIM-SI-01
  wire: Si/a-Si core/shell nanowire
  nominal_capacity_Ah: 3.0e-16
  wire_position_um: {start: [100.0, 200.0], end: [110.0, 200.0], z: 0.0}
pads:
  S: {kind: contact, along_wire_um: 0.0}
  D: {kind: contact, along_wire_um: 10.0}
  CE: {kind: counter}
wirings:
  cycling: {instrument: pstat, channels: ["1A01", "1B04"], pads: [S, CE]}
  "conductance:S-D": {instrument: smu, channels: ["1C01", "1D02"], pads: [S, D]}
limits:
  cycling: {max_current_A: 1.0e-9, voltage_window_V: [2.4, 4.05]}
  wirings: {"conductance:S-D": {max_current_A: 1.0e-6, max_voltage_V: 1.0}}
  max_laser_power_mW: 0.5
  stage_travel_um: {x: [0, 1000], y: [0, 1000], z: [-50, 50]}
"""
    path = tmp_path / "station.yaml"
    path.write_text(text)
    return path
