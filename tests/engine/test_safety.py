"""Making the station safe: every source off, even when two instruments fill the cell roles."""

from __future__ import annotations

from nanocell_daq.engine.guard import Instruments
from nanocell_daq.engine.safety import all_safe, outputs_off


class _Cell:
    def __init__(self) -> None:
        self.stops = 0

    def stop(self) -> None:
        self.stops += 1


class _Router:
    opened = False

    def open_all(self) -> None:
        self.opened = True


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
