"""Fixtures for the driver integration tests: one simulated bench per test module; ``wired`` SMU tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from drivers import registry
from simulated_instruments.bench import SimulatedBench


@pytest.fixture(scope="module")
def bench():
    with SimulatedBench(preset="si", speed=1000.0, seed=0, smu_model="2450") as running:
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


@contextmanager
def wired(smu: Any, matrix: Any, channels: Sequence[str]) -> Iterator[None]:
    """Close exactly ``channels`` on the matrix; afterwards (also on failure) the SMU is off and all open."""
    matrix.exclusive_close(channels)
    assert matrix.closed() == set(channels)  # a query: the close has run before the SMU drives anything
    try:
        yield
    finally:
        smu.shutdown()
        matrix.shutdown()
