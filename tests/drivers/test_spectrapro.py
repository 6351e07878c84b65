"""Protocol tests for the Acton SpectraPro driver: echo + value + `` ok`` lines, ``?`` error replies,
strict wavelength/grating validation and read-back after every move."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pymeasure.test import expected_protocol

from drivers import registry
from drivers.errors import InstrumentError, ReplyError
from drivers.roles import ROLES
from drivers.spectrapro import SpectraPro, max_wavelength_nm, parse_gratings

GRATINGS = [
    ("?GRATINGS", "?GRATINGS \r"),
    (None, "\x1a 1 1200 g/mm BLZ=  500NM \r"),
    (None, "  2  600 g/mm BLZ=  750NM \r"),
    (None, "  3  Not Installed     \r"),
    (None, " ok\r"),
]


@contextmanager
def raising(script, error, match=None) -> Iterator[SpectraPro]:
    """A driver on ``script`` whose block must raise ``error`` (and consume the whole script)."""
    with expected_protocol(SpectraPro, script) as mono, pytest.raises(error, match=match):
        yield mono


def test_wavelength_query_strips_echo_and_ok():
    with expected_protocol(SpectraPro, [("?NM", "?NM 749.998 nm  ok\r")]) as mono:
        assert mono.wavelength_nm == pytest.approx(749.998)


def test_model_serial_make_the_id():
    with expected_protocol(SpectraPro, [("MODEL", "MODEL SP-2-150i  ok\r"),
                                        ("SERIAL", "SERIAL 21501234  ok\r")]) as mono:
        assert mono.id == "SP-2-150i 21501234"


def test_goto_checks_the_grating_limit_moves_and_reads_back():
    with expected_protocol(SpectraPro, [*GRATINGS, ("546.700 GOTO", "546.700 GOTO  ok\r"),
                                        ("?NM", "?NM 546.698 nm  ok\r")]) as mono:
        assert mono.goto(546.7) == pytest.approx(546.698)


@pytest.mark.parametrize("nm", [-1.0, 1400.5, float("nan"), "500", True])
def test_goto_outside_the_grating_range_sends_nothing(nm):
    """1200 g/mm grating in use: 0..1400 nm; only ?GRATINGS goes out."""
    script = GRATINGS if isinstance(nm, float) and not math.isnan(nm) else []
    with raising(script, ValueError) as mono:
        mono.goto(nm)


def test_goto_whose_read_back_is_off_raises():
    script = [*GRATINGS, ("500.000 GOTO", "500.000 GOTO  ok\r"), ("?NM", "?NM 480.000 nm  ok\r")]
    with raising(script, InstrumentError, match="480") as mono:
        mono.wavelength_nm = 500


def test_a_reply_without_ok_is_a_reply_error():
    with raising([("?NM", "?NM 749.998 nm\r")], ReplyError, match="without ' ok'") as mono:
        _ = mono.wavelength_nm


def test_a_reply_that_does_not_echo_the_command_is_a_reply_error():
    with raising([("?GRATING", "?NM 2  ok\r")], ReplyError, match="echo") as mono:
        _ = mono.grating


def test_an_error_reply_is_an_instrument_error():
    with raising([("MODEL", "MODEL MODEL ? \r")], InstrumentError, match="refused") as mono:
        _ = mono.model


@pytest.mark.parametrize(("command", "reply", "attribute"), [
    ("?GRATING", "?GRATING 12  ok\r", "grating"), ("?NM", "?NM 5x nm  ok\r", "wavelength_nm"),
    ("?GRATING", "?GRATING  ok\r", "grating")])
def test_junk_in_a_value_is_a_reply_error(command, reply, attribute):
    with raising([(command, reply)], ReplyError) as mono:
        getattr(mono, attribute)


def test_select_grating_checks_it_is_installed_then_reads_back():
    with expected_protocol(SpectraPro, [*GRATINGS, ("2 GRATING", "2 GRATING  ok\r"),
                                        ("?GRATING", "?GRATING 2  ok\r")]) as mono:
        mono.grating = 2


@pytest.mark.parametrize("position", [0, 10, 2.0, True])
def test_select_grating_refuses_positions_outside_1_to_9_without_sending(position):
    with raising([], ValueError, match=r"1\.\.9") as mono:
        mono.select_grating(position)


def test_select_grating_refuses_an_empty_position():
    with raising(GRATINGS, ValueError, match="no grating is installed at position 3") as mono:
        mono.select_grating(3)


def test_select_grating_that_does_not_read_back_raises():
    script = [*GRATINGS, ("2 GRATING", "2 GRATING  ok\r"), ("?GRATING", "?GRATING 1  ok\r")]
    with raising(script, InstrumentError, match="reads 1") as mono:
        mono.select_grating(2)


def test_gratings_lists_every_position_and_the_one_in_use():
    with expected_protocol(SpectraPro, GRATINGS) as mono:
        listed = mono.gratings()
    assert [(g.position, g.grooves_per_mm, g.blaze, g.current) for g in listed] == [
        (1, 1200.0, "500NM", True), (2, 600.0, "750NM", False), (3, None, None, False)]


def test_gratings_without_ok_is_bounded():
    script = [("?GRATINGS", "?GRATINGS \r"), *[(None, "  3  Not Installed     \r")] * 32]
    with raising(script, ReplyError, match="without ' ok'") as mono:
        mono.gratings()


def test_parse_gratings_refuses_an_unknown_line():
    with pytest.raises(ReplyError):
        parse_gratings(["  1 garbage"])


def test_the_mechanical_limit_scales_with_the_groove_density():
    assert max_wavelength_nm(1200) == pytest.approx(1400.0)
    assert max_wavelength_nm(150) == pytest.approx(11200.0)


def test_registered_without_a_role_and_fills_none():
    info = registry.resolve("spectrapro")
    assert info.roles == () and info.load() is SpectraPro
    assert not any(registry.missing_members(SpectraPro, proto) == [] for name, proto in ROLES.items()
                   if name != "instrument")
