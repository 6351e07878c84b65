"""The SC10 emulator: ``ens`` toggles, timed modes close the shutter on the simulated clock by themselves, and
it refuses what the manual's command table does not list."""

from __future__ import annotations

import pytest

from simulated_instruments.faults import FaultBox
from simulated_instruments.sc10 import SC10


class ManualClock:
    """A simulated clock the test moves by hand."""

    speed = 1.0

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t


@pytest.fixture
def sc10() -> SC10:
    return SC10("shutter", ManualClock(), FaultBox("shutter"))


def ask(emu: SC10, command: str) -> str | None:
    """Send ``command``; its value line (None for a setter). Echo and prompt are checked."""
    reply = emu.handle(command, conn=None)
    assert reply.startswith(command + "\r") and reply.endswith("> ")
    body = reply[len(command) + 1:-2]
    return body[:-1] if body else None


def at(emu: SC10, t: float) -> None:
    emu.clock.t = t


def test_ens_toggles_and_ens_with_an_argument_is_refused(sc10):
    assert ask(sc10, "ens?") == "0" and ask(sc10, "closed?") == "1"
    assert ask(sc10, "ens") is None
    assert ask(sc10, "ens?") == "1" and ask(sc10, "closed?") == "0" and sc10.output_on()
    assert ask(sc10, "ens") is None
    assert ask(sc10, "ens?") == "0" and not sc10.output_on()
    for command in ("ens=1", "ens=0"):
        assert ask(sc10, command) == "CMD_NOT_DEFINED"
    assert ask(sc10, "ens?") == "0"


def test_keywords_are_lower_case_only(sc10):
    assert ask(sc10, "ENS") == "CMD_NOT_DEFINED"
    assert ask(sc10, "Mode?") == "CMD_NOT_DEFINED"
    assert ask(sc10, "ens?") == "0"
    assert "closed?" in ask(sc10, "?")


@pytest.mark.parametrize(("command", "verdict"), [
    ("open=999999", None), ("open=1000000", "CMD_ARG_INVALID"), ("open=0001000", "CMD_ARG_INVALID"),
    ("open=-1", "CMD_ARG_INVALID"), ("open=1.5", "CMD_ARG_INVALID"), ("open=", "CMD_ARG_INVALID"),
    ("shut=0", None), ("rep=1", None), ("rep=99", None), ("rep=0", "CMD_ARG_INVALID"),
    ("rep=100", "CMD_ARG_INVALID"), ("mode=5", None), ("mode=0", "CMD_ARG_INVALID"),
    ("mode=6", "CMD_ARG_INVALID"), ("trig=2", "CMD_ARG_INVALID"), ("xto=1", None),
    ("baud=2", "CMD_ARG_INVALID"),
    ("frob=1", "CMD_NOT_DEFINED"), ("default", "CMD_NOT_DEFINED"),
])
def test_argument_verdicts(sc10, command, verdict):
    assert ask(sc10, command) == verdict
    assert (sc10.errors == []) is (verdict is None)


def test_single_mode_closes_by_itself_after_the_open_time(sc10):
    ask(sc10, "mode=3")
    ask(sc10, "open=500")
    at(sc10, 10.0)
    ask(sc10, "ens")
    assert ask(sc10, "closed?") == "0" and ask(sc10, "ens?") == "1"
    at(sc10, 10.499)
    assert sc10.output_on()  # no command in between: the state follows the clock alone
    at(sc10, 10.501)
    assert not sc10.output_on() and not sc10.is_open()
    assert ask(sc10, "closed?") == "1" and ask(sc10, "ens?") == "0"
    ask(sc10, "ens")  # the next exposure
    assert ask(sc10, "closed?") == "0"
    at(sc10, 11.1)
    assert ask(sc10, "closed?") == "1"


def test_ens_during_a_timed_exposure_closes_it_at_once(sc10):
    ask(sc10, "mode=3")
    ask(sc10, "open=5000")
    ask(sc10, "ens")
    at(sc10, 1.0)
    ask(sc10, "ens")
    assert ask(sc10, "closed?") == "1" and ask(sc10, "ens?") == "0"
    at(sc10, 3.0)
    assert ask(sc10, "closed?") == "1"


def test_repeat_mode_runs_rep_cycles_then_disables(sc10):
    for command in ("mode=4", "rep=2", "open=100", "shut=200"):
        ask(sc10, command)
    ask(sc10, "ens")
    states = []
    for t in (0.05, 0.15, 0.35, 0.45, 0.65, 5.0):
        at(sc10, t)
        states.append((ask(sc10, "closed?"), ask(sc10, "ens?")))
    assert states == [("0", "1"), ("1", "1"), ("0", "1"), ("1", "0"), ("1", "0"), ("1", "0")]


def test_auto_mode_cycles_until_ens(sc10):
    for command in ("mode=2", "open=100", "shut=100"):
        ask(sc10, command)
    ask(sc10, "ens")
    at(sc10, 100.05)
    assert ask(sc10, "closed?") == "0"
    at(sc10, 100.15)
    assert ask(sc10, "closed?") == "1" and ask(sc10, "ens?") == "1"
    at(sc10, 100.25)
    ask(sc10, "ens")
    at(sc10, 100.45)
    assert ask(sc10, "closed?") == "1" and ask(sc10, "ens?") == "0"


@pytest.mark.parametrize("setup", [("mode=5",), ("mode=3", "trig=1")])
def test_external_gate_or_trigger_never_opens_on_a_bench_without_ttl(sc10, setup):
    for command in setup:
        ask(sc10, command)
    ask(sc10, "ens")
    at(sc10, 0.05)
    assert ask(sc10, "ens?") == "1" and ask(sc10, "closed?") == "1"


def test_a_mode_change_disables_first(sc10):
    ask(sc10, "ens")
    assert sc10.output_on()
    ask(sc10, "mode=3")
    assert not sc10.output_on() and ask(sc10, "ens?") == "0"
    ask(sc10, "mode=3")  # the same mode: nothing changes
    assert ask(sc10, "ens?") == "0"


def test_open_fraction_is_the_light_an_exposure_gets(sc10):
    at(sc10, 1.0)
    ask(sc10, "ens")
    at(sc10, 3.0)
    ask(sc10, "ens")
    assert sc10.open_fraction(0.0, 4.0) == pytest.approx(0.5)
    assert sc10.open_fraction(1.5, 2.5) == pytest.approx(1.0)
    ask(sc10, "mode=3")
    ask(sc10, "open=250")
    at(sc10, 10.0)
    ask(sc10, "ens")
    assert sc10.open_fraction(10.0, 11.0) == pytest.approx(0.25)
    assert sc10.open_fraction(20.0, 21.0) == 0.0
