"""Shared fixtures of the engine tests: an example station file (no instruments needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nanocell_daq.engine.stationview import StationView

HERE = Path(__file__).parent


@pytest.fixture
def station_path() -> Path:
    return HERE / "station_si.yaml"


@pytest.fixture
def station(station_path: Path) -> StationView:
    return StationView.from_file(station_path)
