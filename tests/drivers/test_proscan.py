"""Protocol tests for the Prior ProScan III driver."""

from __future__ import annotations

import pytest
from pymeasure.test import expected_protocol

from drivers.errors import ReplyError
from drivers.proscan import ProScan3, ProScanError
from drivers.registry import missing_members
from drivers.roles import Stage


def test_absolute_move_waits_for_r():
    with expected_protocol(ProScan3, [("G,100,200", "R"), ("G,100.5,200,-3", "R")]) as stage:
        stage.move_to(100, 200)
        stage.move_to(100.5, 200, -3)


def test_relative_move_and_position():
    with expected_protocol(ProScan3, [("GR,10,-5", "R"), ("P", "110,195,0")]) as stage:
        stage.move_by(10, -5)
        assert stage.position == (110.0, 195.0, 0.0)


def test_units_conversion():
    with expected_protocol(ProScan3, [("G,1000,2000", "R"), ("P", "1000,2000,0")], um_per_unit=0.1) as stage:
        stage.move_to(100, 200)
        assert stage.position == pytest.approx((100, 200, 0))


def test_error_reply_names_its_meaning():
    with expected_protocol(ProScan3, [("G,99999999,0", "E,8")]) as stage, \
            pytest.raises(ProScanError, match="VALUE OUT OF RANGE"):
        stage.move_to(99999999, 0)


def test_identity_reads_until_end():
    with expected_protocol(ProScan3, [("?", "DRIVE CHIP 6 4 2"), (None, "STAGE = H117"),
                                      (None, "END")]) as stage:
        identity = stage.id
    assert identity == "DRIVE CHIP 6 4 2; STAGE = H117"
    assert ProScan3.IDENTITY.search(identity)


def test_speed_setting_checks_reply_and_stop():
    with expected_protocol(ProScan3, [("SMS,50", "0"), ("SMS", "50"), ("$", "0"), ("K", "R")]) as stage:
        stage.max_speed_percent = 50
        assert stage.max_speed_percent == 50
        assert stage.moving is False
        stage.stop()
    with expected_protocol(ProScan3, []) as stage, pytest.raises(ValueError):
        stage.max_speed_percent = 150


def test_fills_stage():
    assert missing_members(ProScan3, Stage) == []


def test_move_ending_with_junk_is_a_reply_error():
    with expected_protocol(ProScan3, [("G,100,200", "#")]) as stage, pytest.raises(ReplyError, match="'R'"):
        stage.move_to(100, 200)


def test_resync_discards_a_late_r_and_reads_the_information_block():
    with expected_protocol(ProScan3, [
        (None, "R\r"),  # the end of a move that outlasted its timeout
        ("?", "R"), (None, "STAGE = H117"), (None, "END"),  # one more can still come: the block absorbs it
    ]) as stage:
        stage.resync()


def test_resync_that_never_sees_a_proscan_raises():
    pairs = []
    for _ in range(3):
        pairs += [(None, ""), ("?", "0"), (None, "END")]
    with expected_protocol(ProScan3, pairs) as stage, pytest.raises(ReplyError, match="out of step"):
        stage.resync()


def test_shutdown_flushes_a_late_r_before_its_stop():
    with expected_protocol(ProScan3, [
        (None, "R\r"), ("?", "STAGE = H117"), (None, "END"),
        ("K", "R"),
    ]) as stage:
        stage.shutdown()
