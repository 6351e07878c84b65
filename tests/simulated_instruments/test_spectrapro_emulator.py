"""The SpectraPro emulator: echo + `` ok`` framing, ``?GRATINGS`` listing, and the ``?`` refusal of unknown
words, out-of-range wavelengths and empty grating positions (which change nothing)."""

from __future__ import annotations

import pytest

from simulated_instruments.clock import SimClock
from simulated_instruments.faults import FaultBox
from simulated_instruments.spectrapro import SpectraPro


@pytest.fixture
def mono() -> SpectraPro:
    return SpectraPro("mono", SimClock(1.0), FaultBox("mono"))


def ask(emu: SpectraPro, command: str) -> str:
    """The value between the echo and `` ok``; fails on any other framing."""
    reply = emu.handle(command, conn=None)
    assert reply.startswith(command + " ") and reply.endswith("  ok\r\n"), reply
    return reply[len(command) + 1:-len("  ok\r\n")]


def refused(emu: SpectraPro, command: str) -> str:
    """The word an error reply names; fails unless it is ``<echo> <word> ?`` with no ok."""
    reply = emu.handle(command, conn=None)
    assert reply.startswith(command + " ") and reply.endswith(" ? \r\n") and " ok" not in reply, reply
    return reply[len(command) + 1:-len(" ? \r\n")]


def test_queries_answer_value_then_ok(mono):
    assert ask(mono, "?NM") == "0.000 nm"
    assert ask(mono, "?GRATING") == "1"
    assert ask(mono, "MODEL").startswith("SP-")
    assert ask(mono, "SERIAL").isdigit()


def test_goto_moves_and_grating_selects(mono):
    assert ask(mono, "546.700 GOTO") == ""
    assert ask(mono, "?NM") == "546.700 nm"
    assert ask(mono, "2 GRATING") == ""
    assert ask(mono, "?GRATING") == "2"
    assert ask(mono, "?nm") == "546.700 nm"  # keywords in any case


def test_gratings_lists_nine_positions_marking_the_one_in_use(mono):
    reply = mono.handle("?GRATINGS", conn=None)
    lines = reply.split("\r\n")
    assert lines[0].strip() == "?GRATINGS" and lines[-2] == " ok" and lines[-1] == ""
    body = lines[1:-2]
    assert len(body) == 9
    assert body[0].startswith("\x1a 1 1200 g/mm") and "Not Installed" in body[8]
    assert sum(line.startswith("\x1a") for line in body) == 1


@pytest.mark.parametrize(("command", "word"), [
    ("FOO", "FOO"), ("750.0NM", "750.0NM"), ("GOTO", "GOTO"), ("abc GOTO", "abc"),
    ("-1 GOTO", "-1"), ("1400.5 GOTO", "1400.5"), ("0 GRATING", "0"), ("4 GRATING", "4"),
    ("1.5 GRATING", "1.5"), ("1 2 GOTO", "1")])
def test_what_the_controller_refuses_changes_nothing(mono, command, word):
    assert refused(mono, command) == word
    assert ask(mono, "?NM") == "0.000 nm" and ask(mono, "?GRATING") == "1"
    assert mono.errors


def test_the_wavelength_limit_follows_the_grating(mono):
    assert refused(mono, "5000 GOTO") == "5000"  # 1200 g/mm: 1400 nm
    ask(mono, "3 GRATING")  # 150 g/mm: 11200 nm
    assert ask(mono, "5000 GOTO") == "" and ask(mono, "?NM") == "5000.000 nm"
