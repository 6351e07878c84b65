"""GUI tests run offscreen. Where Qt cannot start, widget tests fail in CI and skip (with the reason)
elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import nanocell_daq.gui  # noqa: F401 - first: guards None/True/False before any Qt call (see refcount_guard)
from tests.parts import require

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
    """Qt must start here: a missing Qt fails the test in CI and skips it (with the reason) elsewhere."""
    if not _PROBLEM:
        _PROBLEM.append(_qt_problem())
    if _PROBLEM[0]:
        require("Qt", _PROBLEM[0])


@pytest.fixture
def store(tmp_path: Path):
    from nanocell_daq.storage import Store

    s = Store.open(tmp_path / "runs.db")
    yield s
    s.close()


@pytest.fixture
def sim_station(tmp_path: Path) -> Path:
    """A station file in the team's format (the station tests' example; no instrument is touched)."""
    from tests.station.conftest import EXAMPLE

    path = tmp_path / "station.yaml"
    wire = "  wire_position_um: {start: [100.0, 200.0], end: [110.0, 200.0], z: 0.0}\n"
    assert wire in EXAMPLE  # si_seed starts with a Si reference spectrum
    path.write_text(EXAMPLE.replace(wire, wire + "  si_reference_um: {x: 60.0, y: 200.0, z: 0.0}\n"))
    return path
