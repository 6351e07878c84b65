"""Protocol tests for the Prior ProScan III driver."""

from __future__ import annotations

import pytest
from pymeasure.test import expected_protocol

from drivers.errors import InstrumentError, ReplyError
from drivers.proscan import ProScan3, ProScanError
from drivers.registry import missing_members
from drivers.roles import Stage

UNITS_1UM = [("COMP", "0"), ("RES,S", "1"), ("RES,Z", "1")]
"""What the driver reads before its first move: the mode, then um per unit of X/Y and of Z."""


def test_absolute_move_waits_for_r():
    with expected_protocol(ProScan3, [*UNITS_1UM, ("G,100,200", "R"), ("G,100.5,200,-3", "R")]) as stage:
        stage.move_to(100, 200)
        stage.move_to(100.5, 200, -3)


def test_relative_move_and_position():
    with expected_protocol(ProScan3, [*UNITS_1UM, ("GR,10,-5", "R"), ("P", "110,195,0")]) as stage:
        stage.move_by(10, -5)
        assert stage.position == (110.0, 195.0, 0.0)


def test_units_conversion():
    with expected_protocol(ProScan3, [("G,1000,2000", "R"), ("P", "1000,2000,0")], um_per_unit=0.1,
                           um_per_unit_z=0.1) as stage:
        stage.move_to(100, 200)
        assert stage.position == pytest.approx((100, 200, 0))


def test_error_reply_names_its_meaning():
    with expected_protocol(ProScan3, [*UNITS_1UM, ("G,99999999,0", "E,8")]) as stage, \
            pytest.raises(ProScanError, match="VALUE OUT OF RANGE"):
        stage.move_to(99999999, 0)


def test_identity_reads_until_end():
    with expected_protocol(ProScan3, [("?", "DRIVE CHIP 6 4 2"), (None, "STAGE = H117"),
                                      (None, "END"), *UNITS_1UM]) as stage:
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
    with expected_protocol(ProScan3, [*UNITS_1UM, ("G,100,200", "#")]) as stage, \
            pytest.raises(ReplyError, match="'R'"):
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


def test_connect_reads_mode_and_per_axis_resolution_and_converts_units():
    """ProScan III Manual v1.12 sections 4.2-4.4: COMP 0 is standard mode; RES,S / RES,Z in um per unit."""
    with expected_protocol(ProScan3, [
        ("?", "STAGE = H117"), (None, "END"),
        ("COMP", "0"), ("RES,S", "0.1"), ("RES,Z", "0.02"),
        ("G,1055,2000,250", "R"),  # 105.5 um, 200 um at 0.1 um/unit; z 5 um at 0.02 um/unit
        ("P", "1055,2000,250"),
    ]) as stage:
        _ = stage.id
        assert (stage.um_per_unit, stage.um_per_unit_z) == (0.1, 0.02)
        stage.move_to(105.5, 200, 5)
        assert stage.position == pytest.approx((105.5, 200.0, 5.0))


def test_compatibility_mode_is_refused_with_how_to_switch():
    with expected_protocol(ProScan3, [("?", "STAGE = H117"), (None, "END"), ("COMP", "1")]) as stage, \
            pytest.raises(InstrumentError) as info:
        _ = stage.id
    assert "compatibility mode" in str(info.value) and "COMP,0" in str(info.value)
    assert "set_standard_mode" in str(info.value) and "\n" not in str(info.value)


def test_set_standard_mode_switches_a_controller_left_in_compatibility_mode():
    with expected_protocol(ProScan3, [("COMP", "1"), ("COMP,0", "0"), ("COMP", "0"), ("RES,S", "1"),
                                      ("RES,Z", "0.1")], set_standard_mode=True) as stage:
        stage.read_units()
        assert (stage.um_per_unit, stage.um_per_unit_z) == (1.0, 0.1)


def test_unexpected_mode_or_resolution_replies_are_reply_errors():
    with expected_protocol(ProScan3, [("COMP", "7")]) as stage, pytest.raises(ReplyError, match="COMP"):
        stage.read_units()
    with expected_protocol(ProScan3, [("COMP", "0"), ("RES,S", "fast")]) as stage, \
            pytest.raises(ReplyError, match="RES,S"):
        stage.read_units()


def test_station_resolution_that_disagrees_with_the_controller_is_refused():
    with expected_protocol(ProScan3, [("COMP", "0"), ("RES,S", "1"), ("RES,Z", "0.1")],
                           um_per_unit=0.1) as stage, \
            pytest.raises(InstrumentError, match=r"um_per_unit 0.1 um but the controller's resolution is 1 "):
        stage.read_units()


def test_no_focus_drive_moves_xy_and_refuses_z():
    with expected_protocol(ProScan3, [("COMP", "0"), ("RES,S", "1"), ("RES,Z", "E,7"),
                                      ("G,10,20", "R"), ("P", "10,20,0")]) as stage:
        stage.move_to(10, 20)
        assert stage.position == (10.0, 20.0, 0.0)
        with pytest.raises(InstrumentError, match="no focus drive"):
            stage.move_to(10, 20, 5)
