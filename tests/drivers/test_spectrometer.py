"""Protocol tests for the nanocell spectrometer/laser driver (dialect: see spectrometer.md)."""

from __future__ import annotations

import numpy as np
import pytest
from pymeasure.test import expected_protocol

from drivers.errors import InstrumentError, ReplyError
from drivers.registry import missing_members
from drivers.roles import Laser, Spectrometer
from drivers.spectrometer import NanocellSpectrometer


def block(array: np.ndarray) -> bytes:
    payload = array.tobytes()
    size = str(len(payload)).encode()
    return b"#" + str(len(size)).encode() + size + payload


def test_acquire_reads_axis_and_counts_blocks_with_newline_bytes_inside():
    axis = np.linspace(100, 1800, 4, dtype="<f8")
    counts = np.array([10.0, 0.0, 520.5, 3.0], dtype="<f4")
    counts_bytes = block(counts)
    with expected_protocol(NanocellSpectrometer, [
        ("EXP?", "1.000000e+00"),
        ("ACC?", "2"),
        ("AXIS?", block(axis)),
        ("ACQ?", counts_bytes),
    ]) as spec:
        spectrum = spec.acquire()
    np.testing.assert_allclose(spectrum.wavenumbers, axis)
    assert spectrum.counts.dtype == np.float32
    np.testing.assert_allclose(spectrum.counts, counts)
    assert spectrum.exposure_s == 1.0
    assert spectrum.accumulations == 2


def test_payload_with_0x0a_bytes_is_read_by_length():
    counts = np.frombuffer(b"\n\n\n\n" * 4, dtype="<f4")
    axis = np.arange(4, dtype="<f8")
    with expected_protocol(NanocellSpectrometer, [
        ("EXP?", "1e-3"), ("ACC?", "1"), ("AXIS?", block(axis)), ("ACQ?", block(counts)),
    ]) as spec:
        assert spec.acquire().counts.tobytes() == counts.tobytes()


def test_not_a_block_raises_a_reply_error_and_reads_no_further():
    """Reading "to the end of the line" would stop at a 0x0A inside a torn payload: the rest is left to
    ``resync``, which the engine calls after the fault."""
    with expected_protocol(NanocellSpectrometer, [("EXP?", "1"), ("ACC?", "1"), ("AXIS?", "-1")]) as spec, \
            pytest.raises(ReplyError, match="binary block"):
        spec.acquire()


def test_garbled_block_length_is_a_reply_error():
    pairs = [("EXP?", "1"), ("ACC?", "1"), ("AXIS?", b"#4?!~%")]
    with expected_protocol(NanocellSpectrometer, pairs) as spec, pytest.raises(ReplyError, match="length"):
        spec.acquire()


def test_short_block_is_a_reply_error():
    axis = np.arange(4, dtype="<f8")
    with expected_protocol(NanocellSpectrometer, [
        ("EXP?", "1"), ("ACC?", "1"), ("AXIS?", block(axis)[:-3]),
    ]) as spec, pytest.raises(ReplyError, match="of 32 bytes"):
        spec.acquire()


def test_resync_discards_a_torn_block_and_checks_identity():
    counts = np.frombuffer(b"\n\n\n\n" * 4, dtype="<f4")
    with expected_protocol(NanocellSpectrometer, [
        (None, block(counts)[5:] + b"\n"),  # what a torn reply left behind
        ("*IDN?", "NANOCELL,SIMSPEC-532,SIM00001,1.0"),
    ]) as spec:
        spec.resync()


def test_resync_flushes_again_until_the_identity_comes():
    with expected_protocol(NanocellSpectrometer, [
        (None, b""), ("*IDN?", b"#44096\x00\x00"),  # a late block arrives as the answer
        (None, b"rest of it\n"), ("*IDN?", "NANOCELL,SIMSPEC-532,SIM00001,1.0"),
    ]) as spec:
        spec.resync()


def test_settings_and_laser_power():
    with expected_protocol(NanocellSpectrometer, [
        ("EXP 0.5", None),
        ("ACC 3", None),
        ("LASER:POW 0.1", None),
        ("LASER:STAT ON", None),
        ("LASER:STAT?", "1"),
        ("LASER:POW?", "1.000000e-01"),
        ("LASER:STAT OFF", None),
        ("LASER:STAT?", "0"),
    ]) as spec:
        spec.exposure_s = 0.5
        spec.accumulations = 3
        spec.power_mW = 0.1
        assert spec.power_mW == pytest.approx(0.1)
        spec.power_mW = 0
        assert spec.power_mW == 0.0


def test_out_of_range_settings_are_refused():
    with expected_protocol(NanocellSpectrometer, []) as spec:
        with pytest.raises(ValueError):
            spec.exposure_s = 1000
        with pytest.raises(ValueError):
            spec.power_mW = 60
        with pytest.raises(ValueError):
            spec.power_mW = -1


def test_shutdown_flushes_then_turns_laser_off():
    with expected_protocol(NanocellSpectrometer, [
        (None, b"#14\x00\x00\x80?\n"), ("*IDN?", "NANOCELL,SIMSPEC-532,SIM00001,1.0"),
        ("LASER:STAT OFF", None), ("LASER:STAT?", "0"),
    ]) as spec:
        spec.shutdown()


def test_shutdown_still_turns_laser_off_when_the_flush_fails():
    pairs = []
    for _ in range(3):
        pairs += [(None, b""), ("*IDN?", "junk")]
    pairs += [("LASER:STAT OFF", None), ("LASER:STAT?", "1")]
    with expected_protocol(NanocellSpectrometer, pairs) as spec, \
            pytest.raises(InstrumentError, match="still emitting"):
        spec.shutdown()


def test_fills_spectrometer_and_laser():
    assert missing_members(NanocellSpectrometer, Spectrometer) == []
    assert missing_members(NanocellSpectrometer, Laser) == []
