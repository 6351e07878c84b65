"""The spectrometer emulator's axis is off by a small seeded calibration error, and a Si reference spot (in
the bench's station file) gives pure c-Si at 520.7 cm-1 on the true axis, for the reference step."""

from __future__ import annotations

import numpy as np
import pytest

from nanocell_daq.analysis.raman import reference_offset
from simulated_instruments.bench import SimulatedBench
from simulated_instruments.faults import FaultBox
from simulated_instruments.spectrometer import REFERENCE_RADIUS_UM, SI_REFERENCE_CM1, Spectrometer
from tests.simulated_instruments.fake_model import FakeCell


class Clock:
    """Simulated time that passes only when the emulator sleeps."""

    speed = 1.0

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def _spectrometer(seed: int, where: list[tuple[float, float, float]]) -> Spectrometer:
    spec = Spectrometer("spectrometer", Clock(), FaultBox("spectrometer"), model=FakeCell(),
                        position=lambda t: where[0], shutter_open=lambda: True, seed=seed)
    spec.laser_on, spec.laser_mW = True, 0.1
    return spec


def test_the_axis_reads_high_or_low_by_a_seeded_half_to_one_and_a_half_cm1():
    errors = [_spectrometer(seed, [(0.0, 0.0, 0.0)]).axis_error_cm1 for seed in range(20)]
    assert all(0.5 <= abs(e) <= 1.5 for e in errors) and min(errors) < 0 < max(errors)
    assert _spectrometer(3, [(0.0, 0.0, 0.0)]).axis_error_cm1 == errors[3]  # reproducible
    spec = _spectrometer(3, [(0.0, 0.0, 0.0)])
    reply = spec.handle("AXIS?", None)
    head = int(reply[1:2])
    axis = np.frombuffer(reply[2 + head: -1], dtype="<f8")
    np.testing.assert_allclose(axis - spec.model.wavenumbers, errors[3])


def test_the_reference_spot_gives_c_si_at_520_7_on_the_true_axis_and_the_offset_undoes_the_error():
    where = [(0.0, 0.0, 0.0)]
    spec = _spectrometer(5, where)
    x, y, z = spec.reference_um
    assert (x, y) == (100.0 - 60.0, 200.0 - 60.0)  # the fake wire starts at (100, 200)
    where[0] = (x + 0.5 * REFERENCE_RADIUS_UM, y, z)
    frames = [spec.acquire() for _ in range(2)]
    offset, position, err = reference_offset(spec.reported_axis(), frames)
    assert position == pytest.approx(SI_REFERENCE_CM1 + spec.axis_error_cm1, abs=max(3 * err, 0.05))
    assert offset == pytest.approx(-spec.axis_error_cm1, abs=0.05)
    where[0] = (x + 2 * REFERENCE_RADIUS_UM, y, z)  # off the reference: the cell model's spectrum again
    assert not np.allclose(spec.acquire(), frames[0], rtol=0.5)


def test_the_bench_station_file_names_the_reference_position():
    with SimulatedBench(model=FakeCell(), speed=1000.0, seed=0) as bench:
        ref = bench.station_dict()["device"]["si_reference_um"]
        assert (ref["x"], ref["y"], ref["z"]) == bench.emulators["spectrometer"].reference_um
