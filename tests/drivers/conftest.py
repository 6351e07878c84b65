"""Fixtures for the driver integration tests: one simulated bench per test module (skipped without it)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import pytest

from drivers import registry

HAVE_BENCH = importlib.util.find_spec("simulated_instruments.bench") is not None


@pytest.fixture(scope="module")
def bench():
    if not HAVE_BENCH:
        pytest.skip("simulated_instruments.bench is not there yet")
    from simulated_instruments.bench import SimulatedBench

    with SimulatedBench(preset="si", speed=1000.0, seed=0) as running:
        yield running


@pytest.fixture(scope="module")
def open_driver(bench) -> Callable[[str], Any]:
    """Open the bench instrument ``name`` with the driver and options the bench's station file names."""
    opened: list[Any] = []
    station = bench.station_dict()

    def _open(name: str) -> Any:
        inst = station["instruments"][name]
        driver = registry.open_driver(inst["driver"], inst["resource"], name, inst.get("options", {}))
        opened.append(driver)
        return driver

    yield _open
    for driver in opened:
        driver.adapter.close()
