"""Making the station safe: every source off, even when two instruments fill the cell roles."""

from __future__ import annotations

from nanocell_daq.engine.guard import Instruments
from nanocell_daq.engine.safety import all_safe, outputs_off


class _Cell:
    def __init__(self) -> None:
        self.stops = 0

    def stop(self) -> None:
        self.stops += 1

    def cell_is_off(self) -> bool:
        return self.stops > 0


class _Router:
    opened = False

    def open_all(self) -> None:
        self.opened = True

    def closed_channels(self) -> frozenset[str]:
        return frozenset() if self.opened else frozenset({"1C01", "1D02"})


class _Smu:
    """An SMU whose output-off command is lost: it reads back on (or, ``unreadable``, not at all)."""

    def __init__(self, unreadable: bool = False) -> None:
        self.unreadable = unreadable

    def disable_output(self) -> None:
        pass

    @property
    def output_enabled(self) -> bool:
        if self.unreadable:
            raise TimeoutError("VI_ERROR_TMO")
        return True


def test_a_separate_galvanostat_and_potentiostat_are_both_stopped():
    galv, pot = _Cell(), _Cell()
    assert outputs_off(Instruments({"galvanostat": galv, "potentiostat": pot}, {})) == []
    assert (galv.stops, pot.stops) == (1, 1)


def test_one_instrument_filling_both_roles_is_stopped_once_and_the_matrix_opens():
    cell, router = _Cell(), _Router()
    roles = {"galvanostat": cell, "potentiostat": cell, "router": router}
    assert all_safe(Instruments(roles, {})) == []
    assert cell.stops == 1 and router.opened


def test_a_failing_instrument_is_reported_and_the_others_still_switched_off():
    class Broken(_Cell):
        def stop(self) -> None:
            raise OSError("link down")

    pot = _Cell()
    failures = outputs_off(Instruments({"galvanostat": Broken(), "potentiostat": pot}, {"galvanostat": "g"}))
    assert len(failures) == 1 and "galvanostat stop" in failures[0] and "link down" in failures[0]
    assert pot.stops == 1


def test_a_source_reading_back_on_is_named_and_the_matrix_stays_closed():
    router = _Router()
    problems = all_safe(Instruments({"source_meter": _Smu(), "router": router}, {"source_meter": "smu"}))
    assert not router.opened
    assert any("source_meter (smu) output reads back on" in p for p in problems)
    assert any("left closed on 1C01, 1D02" in p for p in problems)


def test_an_output_that_cannot_be_read_counts_as_not_off():
    router = _Router()
    problems = all_safe(Instruments({"source_meter": _Smu(unreadable=True), "router": router}, {}))
    assert not router.opened
    assert any("source_meter output could not be read back" in p and "VI_ERROR_TMO" in p for p in problems)
