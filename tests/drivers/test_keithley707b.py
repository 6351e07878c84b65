"""Protocol tests for the Keithley 707B matrix driver and the MatrixRouter on top of it."""

from __future__ import annotations

import pytest
from pymeasure.test import expected_protocol

from drivers.errors import RoutingError
from drivers.keithley707b import Keithley707B, check_channels
from drivers.registry import missing_members
from drivers.roles import Router
from drivers.routing import MatrixRouter

WIRINGS = {"cycling": frozenset({"1A01", "1B04"}), "conductance:S-D": frozenset({"1C01", "1D02"})}


def test_channel_commands():
    with expected_protocol(Keithley707B, [
        ('channel.close("1A01,1B04")', None),
        ('channel.open("1A01")', None),
        ('channel.exclusiveclose("1C01,1D02")', None),
        ('print(channel.getclose("allslots"))', "1C01;1D02"),
        ('channel.open("allslots")', None),
        ('print(channel.getclose("allslots"))', "nil"),
    ]) as matrix:
        matrix.close(["1B04", "1A01"])
        matrix.open(["1A01"])
        matrix.exclusive_close({"1D02", "1C01"})
        assert matrix.closed() == {"1C01", "1D02"}
        matrix.open_all()
        assert matrix.closed() == frozenset()


def test_bad_channel_name_is_refused_before_sending():
    with pytest.raises(ValueError, match="1Z01"):
        check_channels(["1Z01"])
    with expected_protocol(Keithley707B, []) as matrix, pytest.raises(ValueError):
        matrix.close(["A1"])


def test_router_breaks_before_make_and_reads_back():
    with expected_protocol(Keithley707B, [
        ('channel.open("allslots")', None),
        ('print(channel.getclose("allslots"))', "nil"),
        ('channel.close("1A01,1B04")', None),
        ('print(channel.getclose("allslots"))', "1A01;1B04"),
        ('print(channel.getclose("allslots"))', "1A01;1B04"),
    ]) as matrix:
        router = MatrixRouter(matrix, WIRINGS)
        router.connect("cycling")
        assert router.current_wiring == "cycling"


def test_router_mismatch_opens_and_raises():
    with expected_protocol(Keithley707B, [
        ('channel.open("allslots")', None),
        ('print(channel.getclose("allslots"))', "nil"),
        ('channel.close("1C01,1D02")', None),
        ('print(channel.getclose("allslots"))', "1C01"),
        ('channel.open("allslots")', None),
    ]) as matrix:
        router = MatrixRouter(matrix, WIRINGS)
        with pytest.raises(RoutingError, match=r"1C01, 1D02.*reports \{1C01\}"):
            router.connect("conductance:S-D")


def test_router_refuses_when_open_all_fails_to_open():
    with expected_protocol(Keithley707B, [
        ('channel.open("allslots")', None),
        ('print(channel.getclose("allslots"))', "1A01"),
    ]) as matrix, pytest.raises(RoutingError, match="still reports"):
        MatrixRouter(matrix, WIRINGS).connect("cycling")


def test_unknown_wiring_lists_known_ones():
    with expected_protocol(Keithley707B, []) as matrix, pytest.raises(RoutingError, match="cycling"):
        MatrixRouter(matrix, WIRINGS).connect("nope")


def test_router_fills_router_role():
    assert missing_members(MatrixRouter, Router) == []


def test_shutdown_opens_all_and_reads_back():
    with expected_protocol(Keithley707B, [
        ('channel.open("allslots")', None),
        ('print(channel.getclose("allslots"))', "nil"),
    ]) as matrix:
        matrix.shutdown()


def test_snapshot_settings_reads_the_closed_channels():
    with expected_protocol(Keithley707B, [('print(channel.getclose("allslots"))', "1C01;1D02")]) as matrix:
        assert matrix.snapshot_settings() == {"closed_channels": ["1C01", "1D02"]}
