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


def test_router_shutdown_opens_the_matrix_and_reads_it_back():
    with expected_protocol(Keithley707B, [
        ('channel.open("allslots")', None),
        ('print(channel.getclose("allslots"))', "nil"),
    ]) as matrix:
        MatrixRouter(matrix, WIRINGS).shutdown()
    with expected_protocol(Keithley707B, [
        ('channel.open("allslots")', None),
        ('print(channel.getclose("allslots"))', "1A01"),
    ]) as matrix, pytest.raises(Exception, match="1A01"):
        MatrixRouter(matrix, WIRINGS).shutdown()  # a crosspoint that stays closed is not a safe state


def test_router_identity_and_wirings_are_the_matrix_and_a_copy():
    idn = "KEITHLEY INSTRUMENTS INC.,MODEL 707B,04123456,1.5.0"
    with expected_protocol(Keithley707B, [("*IDN?", idn)]) as m:
        router = MatrixRouter(m, {"cycling": ["1B04", "1A01"]})
        assert router.id == idn
        wirings = router.wirings
        assert wirings == {"cycling": frozenset({"1A01", "1B04"})}
        wirings["cycling"] = frozenset()
        assert router.wirings == {"cycling": frozenset({"1A01", "1B04"})}


def test_current_wiring_is_none_when_the_closed_channels_match_no_wiring():
    with expected_protocol(Keithley707B, [
        ('print(channel.getclose("allslots"))', "1A01"),
        ('print(channel.getclose("allslots"))', "nil"),
    ]) as matrix:
        router = MatrixRouter(matrix, WIRINGS)
        assert router.current_wiring is None
        assert router.current_wiring is None


class _StuckMatrix:
    """Closes only the first channel asked; opening works once, then the link is down."""

    id = "stuck matrix"

    def __init__(self) -> None:
        self.state: set[str] = set()
        self.opens = 0

    def close(self, channels):
        self.state |= {sorted(channels)[0]}

    def open_all(self):
        self.opens += 1
        if self.opens > 1:
            raise OSError("link down")
        self.state.clear()

    def closed(self):
        return frozenset(self.state)

    def shutdown(self):
        self.open_all()


def test_router_mismatch_whose_reopening_fails_says_both():
    router = MatrixRouter(_StuckMatrix(), WIRINGS)
    with pytest.raises(RoutingError) as err:
        router.connect("cycling")
    assert str(err.value) == (
        "wiring 'cycling': asked to close {1A01, 1B04}, matrix reports {1A01}; "
        "opening the matrix again failed too: link down"
    )
