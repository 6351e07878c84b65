"""Which outputs read back on: the names the engine reports, retries, and unreadable outputs counted as on."""

from __future__ import annotations

from nanocell_daq.engine.guard import Instruments
from nanocell_daq.engine.readback import outputs_on


class _Smu:
    def __init__(self, on: bool) -> None:
        self.output_enabled = on


class _Cell:
    def __init__(self, running: bool) -> None:
        self.running = running
        self.reads = 0


class _Shutter:
    def __init__(self, is_open: bool) -> None:
        self.is_open = is_open


class _Laser:
    def __init__(self, power: float) -> None:
        self.power_mW = power


def _roles(smu=False, cell=False, shutter=False, laser=0.0):
    return {"source_meter": _Smu(smu), "galvanostat": _Cell(cell), "shutter": _Shutter(shutter),
            "laser": _Laser(laser)}


def test_everything_off_reads_back_nothing():
    assert outputs_on(Instruments(_roles(), {})) == []


def test_each_live_output_is_named_in_a_fixed_order():
    on = outputs_on(Instruments(_roles(smu=True, cell=True, shutter=True, laser=0.1), {}))
    assert on == ["source_meter output", "galvanostat technique", "shutter open", "laser"]
    assert outputs_on(Instruments(_roles(laser=0.1), {})) == ["laser"]
    assert outputs_on(Instruments(_roles(shutter=True), {})) == ["shutter open"]
    assert outputs_on(Instruments(_roles(smu=True), {})) == ["source_meter output"]


def test_one_cell_filling_both_roles_is_named_once_and_two_cells_each():
    cell = _Cell(True)
    both = Instruments({"galvanostat": cell, "potentiostat": cell}, {})
    assert outputs_on(both) == ["galvanostat technique"]
    two = {"galvanostat": _Cell(False), "potentiostat": _Cell(True)}
    assert outputs_on(Instruments(two, {})) == ["potentiostat technique"]


class _Flaky:
    """``output_enabled`` fails ``fails`` times, then reads ``on``."""

    def __init__(self, fails: int, on: bool) -> None:
        self.fails, self.on, self.reads = fails, on, 0

    @property
    def output_enabled(self) -> bool:
        self.reads += 1
        if self.reads <= self.fails:
            raise TimeoutError("no reply")
        return self.on


def test_a_read_that_fails_twice_is_retried_and_an_output_that_never_reads_back_counts_as_on():
    twice = _Flaky(2, False)
    assert outputs_on(Instruments({"source_meter": twice}, {"source_meter": "smu"})) == []
    assert twice.reads == 3
    dead = _Flaky(99, False)
    on = outputs_on(Instruments({"source_meter": dead}, {"source_meter": "smu"}))
    assert dead.reads == 3
    assert on == ["source_meter output (read-back failed: smu.output_enabled: TimeoutError: no reply)"]
