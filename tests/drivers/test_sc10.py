"""Protocol tests for the Thorlabs SC10 driver (echo, value, ``> `` prompt; ``ens`` toggles)."""

from __future__ import annotations

import pytest
from pymeasure.test import expected_protocol

from drivers.errors import InstrumentError, ReplyError
from drivers.registry import missing_members
from drivers.roles import Shutter
from drivers.sc10 import SC10


def q(command: str, value: str) -> list[tuple[str | None, str]]:
    """One query exchange: echo, value line, prompt."""
    return [(command, command), (None, value), (None, "> ")]


def s(command: str) -> list[tuple[str | None, str]]:
    """One setter exchange: echo, prompt."""
    return [(command, command), (None, "> ")]


def test_query_reads_echo_value_and_drains_prompt():
    with expected_protocol(SC10, q("ens?", "0")) as sc:
        assert sc.enabled is False


def test_open_switches_to_manual_mode_disabled_then_toggles_ens_and_verifies():
    with expected_protocol(SC10, [
        *q("mode?", "3"),
        *q("ens?", "0"),
        *s("mode=1"),
        *q("ens?", "0"),
        *s("ens"),
        *q("ens?", "1"),
        *q("closed?", "0"),
    ]) as sc:
        sc.open()


def test_open_in_manual_mode_already_enabled_sends_no_toggle():
    """``ens`` toggles: sending it to an enabled shutter would close it."""
    with expected_protocol(SC10, [*q("mode?", "1"), *q("ens?", "1"), *q("closed?", "0")]) as sc:
        sc.open()


def test_open_that_reads_back_closed_raises():
    with expected_protocol(SC10, [
        *q("mode?", "1"), *q("ens?", "0"), *s("ens"), *q("ens?", "1"), *q("closed?", "1"),
    ]) as sc, pytest.raises(InstrumentError, match="still closed"):
        sc.open()


def test_close_toggles_only_when_enabled_and_verifies_closed():
    with expected_protocol(SC10, [
        *q("ens?", "1"), *s("ens"), *q("ens?", "0"), *q("closed?", "1"),
        *q("ens?", "0"), *q("closed?", "1"),  # already closed: no ens sent
    ]) as sc:
        sc.close()
        sc.close()


def test_close_retoggles_an_exposure_that_restarted_under_it():
    """A single-mode exposure that ended between ``ens?`` and ``ens`` is started again by the toggle; the
    read-back sees it enabled and toggles it off."""
    with expected_protocol(SC10, [
        *q("ens?", "1"), *s("ens"), *q("ens?", "1"), *s("ens"), *q("ens?", "0"), *q("closed?", "1"),
    ]) as sc:
        sc.close()


def test_close_gives_up_after_three_toggles():
    pairs = [*q("ens?", "1")]
    for _ in range(3):
        pairs += [*s("ens"), *q("ens?", "1")]
    with expected_protocol(SC10, pairs) as sc, pytest.raises(InstrumentError, match="ens\\? still 1"):
        sc.close()


def test_close_that_reads_back_open_raises():
    with expected_protocol(SC10, [*q("ens?", "0"), *q("closed?", "0")]) as sc, \
            pytest.raises(InstrumentError, match="still open"):
        sc.close()


def test_timed_exposure_uses_single_mode_and_open_time():
    with expected_protocol(SC10, [
        *q("mode?", "1"),
        *q("ens?", "0"),
        *s("mode=3"),
        *q("ens?", "0"),
        *s("open=2500"),
        *s("ens"),
        *q("closed?", "0"),
    ]) as sc:
        sc.expose(2.5)


def test_timed_exposure_ends_a_running_one_first():
    with expected_protocol(SC10, [
        *q("mode?", "3"),
        *q("ens?", "1"), *s("ens"), *q("ens?", "0"),
        *s("open=1000"),
        *s("ens"),
        *q("closed?", "0"),
    ]) as sc:
        sc.expose(1.0)


@pytest.mark.parametrize("seconds", [0.0, 1000.0, -1.0])
def test_timed_exposure_out_of_range_is_refused_before_sending(seconds):
    with expected_protocol(SC10, []) as sc, pytest.raises(ValueError, match="timed exposure"):
        sc.expose(seconds)


def test_open_time_and_mode_settings():
    with expected_protocol(SC10, [*s("open=250"), *q("open?", "250"), *s("mode=4")]) as sc:
        sc.open_time_s = 0.25
        assert sc.open_time_s == 0.25
        sc.mode = 4
    with expected_protocol(SC10, []) as sc, pytest.raises(ValueError):
        sc.mode = 6


def test_error_reply_raises():
    with expected_protocol(SC10, [("mode=1", "mode=1"), (None, "CMD_ARG_INVALID"), (None, "> ")]) as sc, \
            pytest.raises(InstrumentError, match="CMD_ARG_INVALID"):
        sc.mode = 1


def test_wrong_echo_is_a_reply_error():
    with expected_protocol(SC10, [("ens?", "garbage")]) as sc, pytest.raises(ReplyError, match="echo"):
        sc.query("ens?")


def test_resync_discards_pending_bytes_and_checks_identity():
    with expected_protocol(SC10, [
        (None, "0\r> "),  # the rest of an exchange that timed out
        *q("id?", "THORLABS SC10 VERSION 1.07"),
    ]) as sc:
        sc.resync()


def test_resync_that_never_gets_the_identity_raises():
    pairs = []
    for _ in range(3):
        pairs += [(None, ""), ("id?", "junk")]
    with expected_protocol(SC10, pairs) as sc, pytest.raises(ReplyError, match="out of step"):
        sc.resync()


def test_shutdown_flushes_then_closes():
    with expected_protocol(SC10, [
        (None, ""), *q("id?", "THORLABS SC10 VERSION 1.07"),
        *q("ens?", "1"), *s("ens"), *q("ens?", "0"), *q("closed?", "1"),
    ]) as sc:
        sc.shutdown()


def test_timed_exposure_option():
    with expected_protocol(SC10, [], timed_exposure=False) as sc:
        assert sc.timed_exposure is False
    with expected_protocol(SC10, []) as sc:
        assert sc.timed_exposure is True and sc.MAX_EXPOSURE_S == 999.999


def test_fills_shutter():
    assert missing_members(SC10, Shutter) == []


@pytest.mark.parametrize("value", ["", "2", "#"])
def test_a_flag_that_is_not_0_or_1_is_a_reply_error(value):
    with expected_protocol(SC10, q("closed?", value)) as sc, \
            pytest.raises(ReplyError, match="expected 0 or 1"):
        assert sc.is_open
