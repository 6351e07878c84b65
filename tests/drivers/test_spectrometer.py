"""Protocol tests for the nanocell spectrometer/laser driver (dialect: see spectrometer.md)."""

from __future__ import annotations

import numpy as np
import pytest
from pymeasure.test import expected_protocol

from drivers.errors import InstrumentError
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


def test_not_a_block_raises():
    with expected_protocol(NanocellSpectrometer, [("EXP?", "1"), ("ACC?", "1"), ("AXIS?", "-113")]) as spec, \
            pytest.raises(InstrumentError, match="binary block"):
        spec.acquire()


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


def test_shutdown_turns_laser_off():
    with expected_protocol(NanocellSpectrometer, [("LASER:STAT OFF", None), ("LASER:STAT?", "0")]) as spec:
        spec.shutdown()


def test_fills_spectrometer_and_laser():
    assert missing_members(NanocellSpectrometer, Spectrometer) == []
    assert missing_members(NanocellSpectrometer, Laser) == []
