"""Fixtures: a simulated bench (real cell model or the tiny fake) and pyvisa-py resources that get closed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pyvisa

sys.path.insert(0, str(Path(__file__).parent))

from fake_model import FakeCell

from simulated_instruments.bench import SimulatedBench

TERMS = {"smu": "\n", "pstat": "\n", "stage": "\r", "spectrometer": "\n", "shutter": "\r", "matrix": "\n"}


@pytest.fixture(scope="session")
def rm() -> Iterator[pyvisa.ResourceManager]:
    manager = pyvisa.ResourceManager("@py")
    yield manager
    manager.close()


# These emulator tests speak the 2450's SCPI to "smu"; the shipped bench serves a 2636B (test_smu_2636b.py).
@pytest.fixture
def bench() -> Iterator[SimulatedBench]:
    with SimulatedBench("si", speed=1000.0, seed=0, smu_model="2450") as b:
        yield b


@pytest.fixture
def fake_bench() -> Iterator[SimulatedBench]:
    with SimulatedBench(model=FakeCell(), speed=1000.0, seed=0, smu_model="2450") as b:
        yield b


class Opener:
    """Opens pyvisa-py SOCKET resources on a bench with the right terminations; closes them afterwards."""

    def __init__(self, rm: pyvisa.ResourceManager) -> None:
        self.rm = rm
        self.opened: list[Any] = []

    def __call__(self, bench: SimulatedBench, name: str, timeout_ms: int = 3000) -> Any:
        inst = self.rm.open_resource(bench.resources[name], read_termination=TERMS[name],
                                     write_termination=TERMS[name], timeout=timeout_ms)
        self.opened.append(inst)
        return inst

    def close(self) -> None:
        for inst in self.opened:
            try:
                inst.close()
            except (pyvisa.errors.VisaIOError, OSError):
                pass  # a dropped connection may already be gone


@pytest.fixture
def visa(rm: pyvisa.ResourceManager) -> Iterator[Opener]:
    opener = Opener(rm)
    yield opener
    opener.close()


def connect(matrix: Any, channels: str) -> None:
    """Open everything, close ``channels`` and wait until the matrix reports them (as a driver would)."""
    matrix.write('channel.open("allslots")')
    if channels:
        matrix.write(f'channel.close("{channels}")')
    expected = ";".join(sorted(channels.split(","))) if channels else "nil"
    assert matrix.query('print(channel.getclose("allslots"))') == expected
