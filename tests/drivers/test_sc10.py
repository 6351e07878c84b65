"""Protocol tests for the Thorlabs SC10 driver (echo, value, ``> `` prompt)."""

from __future__ import annotations

import pytest
from pymeasure.test import expected_protocol

from drivers.errors import InstrumentError
from drivers.registry import missing_members
from drivers.roles import Shutter
from drivers.sc10 import SC10


def test_query_reads_echo_value_and_drains_prompt():
    with expected_protocol(SC10, [("ens?", "ens?"), (None, "0"), (None, "> ")]) as sc:
        assert sc.enabled is False


def test_open_sets_manual_mode_first():
    with expected_protocol(SC10, [
        ("mode?", "mode?"), (None, "2"), (None, "> "),
        ("mode=1", "mode=1"), (None, "> "),
        ("ens=1", "ens=1"), (None, "> "),
        ("closed?", "closed?"), (None, "0"), (None, "> "),
    ]) as sc:
        sc.open()
        assert sc.is_open


def test_close_and_identity():
    with expected_protocol(SC10, [
        ("ens=0", "ens=0"), (None, "> "),
        ("id?", "id?"), (None, "THORLABS SC10 VERSION 1.07"), (None, "> "),
    ]) as sc:
        sc.close()
        assert sc.id == "THORLABS SC10 VERSION 1.07"


def test_error_reply_raises():
    with expected_protocol(SC10, [("mode=1", "mode=1"), (None, "CMD_ARG_INVALID"), (None, "> ")]) as sc, \
            pytest.raises(InstrumentError, match="CMD_ARG_INVALID"):
        sc.mode = 1


def test_wrong_echo_raises():
    with expected_protocol(SC10, [("ens?", "garbage")]) as sc, pytest.raises(InstrumentError, match="echo"):
        sc.query("ens?")


def test_fills_shutter():
    assert missing_members(SC10, Shutter) == []
