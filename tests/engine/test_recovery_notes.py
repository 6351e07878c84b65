"""What connecting after a dead host found, as the resumed run's log and the supervisor's report say it:
a script aborted on connect, and what became of a script the dead host started (read from the instrument)."""

from __future__ import annotations

from types import SimpleNamespace

from nanocell_daq.engine.station_io import instrument_notes, recovery_notes


class _Smu:
    def __init__(self, aborted=None, left=None, fails=False):
        self.orphan_aborted = aborted
        self._left, self._fails = left, fails

    def script_left_behind(self):
        if self._fails:
            raise TimeoutError("no reply")
        return self._left


def test_a_resume_logs_a_script_that_ended_by_itself_while_no_host_was_there():
    ended = "no script running: the galvanostatic TSP script a previous host started had ended by itself"
    opened = SimpleNamespace(station=SimpleNamespace(instruments={
        "smu": _Smu(left=ended), "pstat": SimpleNamespace(orphan_aborted="aborted a technique"),
        "matrix": SimpleNamespace()}))
    assert recovery_notes(opened) == ["smu: " + ended, "pstat: aborted a technique"]


def test_an_unreadable_script_state_is_said_and_unreachable_instruments_are_skipped():
    notes = instrument_notes({"smu": _Smu(fails=True), "smu2": _Smu(left="cut short")}, skip={"smu2"})
    assert notes == ["smu: could not read what became of its script: TimeoutError: no reply"]
    assert instrument_notes({"smu": _Smu(aborted="aborted a script")}) == ["smu: aborted a script"]
