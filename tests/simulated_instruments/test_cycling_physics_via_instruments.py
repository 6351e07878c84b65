"""Si cycling features and cosmic-ray spikes as the real drivers measure them over the simulated bench.

The cell-model tests (``cell/test_cycling.py``, ``cell/test_raman.py``) check these on the model; here the
EmStat4 driver runs device-side galvanostatic steps through the 707B matrix and the spectrometer driver takes
dark spectra, and every assertion is on the measured E(t), I(t), Q or counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from drivers import registry
from drivers.routing import MatrixRouter
from nanocell_daq.analysis.cycling import cumulative_charge
from simulated_instruments.bench import SimulatedBench

PA = 1e-12
CYCLING_SPEED = 2000.0  # simulated s per wall s: a 10 pA half-cycle (~120 s) takes ~0.06 s of wall time
INTERVAL_S = 2.0  # one sample per ~1.7 % of the capacity at 10 pA: a 15 % plateau spans ~8 samples
MAX_FLAT_SLOPE = 0.15  # V per unit of the half-cycle's capacity (1.5 mV per 1 %): "flat"


@dataclass
class HalfCycle:
    """One measured galvanostatic step: time (s), potential (V), current (A), |charge| (C), why it ended."""

    t: np.ndarray
    v: np.ndarray
    i: np.ndarray
    q: np.ndarray
    stop_reason: str | None

    @property
    def capacity_C(self) -> float:
        return float(self.q[-1])

    def v_at(self, q_C: float) -> float:
        """Measured potential (V) when |charge| q_C (C) had passed."""
        return float(np.interp(q_C, self.q, self.v))

    def plateau(self, v_lo: float, v_hi: float) -> tuple[float, float]:
        """Longest flat stretch inside [v_lo, v_hi] V: (its share of this step's capacity, its median V)."""
        slope = np.abs(np.diff(self.v)) / np.maximum(np.diff(self.q) / self.capacity_C, 1e-12)
        inside = (self.v[:-1] >= v_lo) & (self.v[:-1] <= v_hi) & (self.v[1:] >= v_lo) & (self.v[1:] <= v_hi)
        flat = inside & (slope < MAX_FLAT_SLOPE)
        best, best_v, start = 0.0, float("nan"), None
        for k in range(flat.size + 1):
            if k < flat.size and flat[k]:
                start = k if start is None else start
            elif start is not None:
                share = (self.q[k] - self.q[start]) / self.capacity_C
                if share > best:
                    best, best_v = share, float(np.median(self.v[start:k + 1]))
                start = None
        return best, best_v


@dataclass
class CyclingRig:
    bench: SimulatedBench
    pstat: Any
    router: MatrixRouter

    def step(self, current_A: float) -> HalfCycle:
        """Charge to 3.95 V (current > 0) or discharge to 2.5 V, cut off on the device; then cell off."""
        v_min, v_max = (0.0, 3.95) if current_A > 0 else (2.5, 4.05)
        self.router.connect("cycling")
        self.pstat.start_galvanostatic(current_A, INTERVAL_S, 3000.0, v_min, v_max)
        assert self.pstat.wait(60.0), "technique did not end"
        samples = self.pstat.poll()
        assert not self.bench.output_on("pstat")
        t = np.array([s.t for s in samples])
        i = np.array([s.current for s in samples])
        # the step starts at t=0 with the drive: the first sample at INTERVAL_S already carries charge
        q = np.abs(cumulative_charge(np.concatenate([[0.0], t]), np.concatenate([[i[0]], i])))[1:]
        return HalfCycle(t, np.array([s.potential for s in samples]), i, q, self.pstat.stop_reason)


def open_drivers(bench: SimulatedBench, names: list[str]) -> dict[str, Any]:
    station = bench.station_dict()
    return {name: registry.open_driver(station["instruments"][name]["driver"],
                                       station["instruments"][name]["resource"], name,
                                       station["instruments"][name].get("options", {}))
            for name in names}


@pytest.fixture(scope="module")
def cycles() -> Iterator[dict[str, HalfCycle]]:
    """One pristine Si cell, four cycles; charge currents 10, 10, 20, 10 pA, every discharge at -10 pA."""
    with SimulatedBench("si", speed=CYCLING_SPEED, seed=0, ideal_pstat=True) as bench:  # pA on the EmStat
        opened = open_drivers(bench, ["pstat", "matrix"])
        wirings = {name: frozenset(w["channels"]) for name, w in bench.station_dict()["wirings"].items()}
        rig = CyclingRig(bench, opened["pstat"], MatrixRouter(opened["matrix"], wirings))
        try:
            steps = {}
            for n, charge_pA in enumerate((10, 10, 20, 10), start=1):
                steps[f"charge{n}"] = rig.step(charge_pA * PA)
                steps[f"discharge{n}"] = rig.step(-10 * PA)
            rig.router.open_all()
            yield steps
        finally:
            for driver in opened.values():
                driver.adapter.close()


def test_every_step_reached_its_device_side_cutoff(cycles):
    for name, step in cycles.items():
        charging = name.startswith("charge")
        assert step.stop_reason == ("v_max" if charging else "v_min"), name
        assert step.v[-1] >= 3.95 if charging else step.v[-1] <= 2.5
        assert np.all(np.abs(np.abs(step.i) - np.median(np.abs(step.i))) < 1 * PA), name  # constant current
        assert 0.1e-12 * 3600 < step.capacity_C < 1.0e-12 * 3600, name  # 0.1-1 pAh


def test_first_charge_has_the_c_si_plateau_and_the_second_does_not(cycles):
    """c-Si two-phase lithiation: a flat ~3.9 V stretch of the first charge (the front converting the core),
    only once."""
    first_share, first_v = cycles["charge1"].plateau(3.80, 3.949)
    second_share, _ = cycles["charge2"].plateau(3.80, 3.949)
    assert first_share > 0.04, first_share
    assert 3.80 < first_v < 3.94, first_v
    assert second_share < 0.5 * first_share, (second_share, first_share)  # same 10 pA: the c-Si is gone


def test_a_20_pA_charge_forms_no_li15si4(cycles):
    """After a 20 pA charge the overpotential keeps the Si above the 50 mV threshold: the next discharge has
    no flat 0.43 V-vs-Li stretch (its formation at 5 pA is tested on the model)."""
    share_fast, _ = cycles["discharge3"].plateau(2.9, 3.25)
    assert share_fast < 0.04, share_fast


def test_charge_curve_sits_above_the_discharge_curve_at_mid_capacity(cycles):
    """At the same Li content (half the charged capacity in, or back out) the measured branches differ by
    the ~0.3 V hysteresis of a-LixSi plus the charge-transfer and IR drops of both directions (~0.27 V each
    at 10 pA with the PEO j0 of 0.03 A/m2)."""
    for n in (2, 3, 4):
        charge, discharge = cycles[f"charge{n}"], cycles[f"discharge{n}"]
        mid = 0.5 * charge.capacity_C
        gap = charge.v_at(mid) - discharge.v_at(charge.capacity_C - mid)
        assert 0.6 < gap < 1.1, (n, gap)


COSMIC_SPEED = 1.0e5  # a 600 s dark exposure takes 6 ms of wall time
SPIKE_COUNTS = 250.0  # above the dark level; read + dark shot noise of a 600 s dark frame is ~12 counts rms


def dark_spikes(seed: int, exposure_s: float, n_spectra: int) -> list[tuple[int, int, float]]:
    """(spectrum index, pixel, height in counts) of each spike in n dark spectra (shutter shut, laser off)."""
    with SimulatedBench("si", speed=COSMIC_SPEED, seed=seed) as bench:
        opened = open_drivers(bench, ["spectrometer", "shutter"])
        spec, shutter = opened["spectrometer"], opened["shutter"]
        try:
            shutter.close()
            assert not shutter.is_open
            spec.power_mW = 0
            spec.exposure_s = exposure_s
            spec.accumulations = 1
            found = []
            for k in range(n_spectra):
                counts = spec.acquire().counts.astype(float)
                excess = counts - np.median(counts)
                hot = np.flatnonzero(excess > SPIKE_COUNTS)
                # a spike may spill into the next pixel: one spike per run of adjacent hot pixels
                for run in np.split(hot, np.flatnonzero(np.diff(hot) > 1) + 1) if hot.size else []:
                    found.append((k, int(run[0]), float(excess[run].max())))
            return found
        finally:
            for driver in opened.values():
                driver.adapter.close()


def test_cosmic_ray_spikes_are_rare_narrow_and_seeded():
    """~5e-4 spikes/s of exposure (~1e-3 per 2 s spectrum), single narrow pixels at random places."""
    n, exposure = 60, 600.0  # 3.6e4 s of exposure: ~18 spikes expected
    spikes = dark_spikes(0, exposure, n)
    per_2s = len(spikes) / (n * exposure) * 2.0
    assert 0.4e-3 < per_2s < 2.5e-3, spikes
    with_spike = {k for k, _, _ in spikes}
    assert len(with_spike) < 0.6 * n  # most spectra have none
    assert len(with_spike) >= len(spikes) - 3  # and they do not come in bursts
    assert len({pixel for _, pixel, _ in spikes}) >= len(spikes) - 1  # not a band: a new pixel each time
    assert all(SPIKE_COUNTS < height < 6000 for _, _, height in spikes)
    assert dark_spikes(0, exposure, n) == spikes  # same seed, same spikes
    assert dark_spikes(1, exposure, n) != spikes

    # the rate is per second of exposure, so 2 s spectra rarely carry one: ~0.3 expected in 300 (seed 0
    # has 2); a per-spectrum rate like the 600 s spectra's (~0.3 each) would give ~90
    assert len(dark_spikes(0, 2.0, 300)) <= 3
