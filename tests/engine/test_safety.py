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


class _Calls:
    """Records every safety call, in order, across instruments."""

    def __init__(self) -> None:
        self.log: list[str] = []


class _OrderedSmu:
    def __init__(self, calls: _Calls) -> None:
        self.calls, self.on = calls, True

    def disable_output(self) -> None:
        self.calls.log.append("smu off")
        self.on = False

    @property
    def output_enabled(self) -> bool:
        return self.on


class _OrderedShutter:
    def __init__(self, calls: _Calls) -> None:
        self.calls, self.is_open = calls, True

    def close(self) -> None:
        self.calls.log.append("shutter close")
        self.is_open = False


class _OrderedLaser:
    def __init__(self, calls: _Calls) -> None:
        self.calls, self._power = calls, 0.3

    @property
    def power_mW(self) -> float:
        return self._power

    @power_mW.setter
    def power_mW(self, value: float) -> None:
        self.calls.log.append(f"laser {value}")
        self._power = value


class _OrderedRouter:
    def __init__(self, calls: _Calls) -> None:
        self.calls = calls

    def open_all(self) -> None:
        self.calls.log.append("router open")

    def closed_channels(self) -> list[str]:
        return []


def test_every_output_goes_off_and_the_router_opens_last():
    calls = _Calls()
    smu, shutter, laser = _OrderedSmu(calls), _OrderedShutter(calls), _OrderedLaser(calls)
    roles = {"source_meter": smu, "shutter": shutter, "laser": laser, "router": _OrderedRouter(calls)}
    assert outputs_off(Instruments(roles, {})) == []
    assert calls.log == ["smu off", "shutter close", "laser 0.0"]  # outputs_off never touches the router
    assert not smu.on and not shutter.is_open and laser.power_mW == 0.0
    calls.log.clear()
    assert all_safe(Instruments(roles, {})) == []
    assert calls.log == ["smu off", "shutter close", "laser 0.0", "router open"]


class _Connection:
    def __init__(self) -> None:
        self.reopened = 0

    def close(self) -> None:
        pass

    def open(self) -> None:
        self.reopened += 1


class _DropsOnce(_Cell):
    """A potentiostat whose link drops on the first stop; a reconnect brings it back."""

    def __init__(self) -> None:
        super().__init__()
        self.adapter = type("Adapter", (), {})()
        self.adapter.connection = _Connection()
        self.tries = 0

    def stop(self) -> None:
        self.tries += 1
        if self.adapter.connection.reopened == 0:
            raise ConnectionError("link dropped")
        super().stop()


def test_a_dropped_link_is_reconnected_and_the_stop_retried():
    cell = _DropsOnce()
    assert outputs_off(Instruments({"galvanostat": cell}, {"galvanostat": "pstat"})) == []
    assert cell.adapter.connection.reopened == 1 and cell.tries == 2 and cell.stops == 1


def test_an_instrument_that_never_answers_is_tried_three_times_then_named():
    class Dead(_Cell):
        tries = 0

        def stop(self) -> None:
            self.tries += 1
            raise TimeoutError("no reply")

    dead = Dead()
    failures = outputs_off(Instruments({"potentiostat": dead}, {"potentiostat": "pstat"}))
    assert dead.tries == 3
    assert failures == ["potentiostat stop: InstrumentFault: pstat.stop: TimeoutError: no reply"]
