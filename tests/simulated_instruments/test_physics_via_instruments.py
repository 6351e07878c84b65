"""The chip physics as the instruments measure it: our drivers over pyvisa-py against a fast bench.

The cell-model tests (``cell/``) check the same physics on the model; these check that what reaches a user
through the matrix, the SMU, the potentiostat and the Raman instruments shows it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from drivers import registry
from drivers.roles import Sample
from drivers.routing import MatrixRouter
from simulated_instruments import datasheets
from simulated_instruments.bench import SimulatedBench

from .cell.helpers import band_area, lorentz_fit

PA = 1e-12
SPEED = 1000.0  # simulated s per wall s: a full Si cycle (~230 s) takes ~0.25 s of wall time
ON_WIRE = (105.0, 200.0, 0.0)
ON_FILM = (170.0, 200.0, 0.0)
FAR = (105.0, 215.0, 0.0)


@dataclass
class Rig:
    bench: SimulatedBench
    smu: Any
    pstat: Any
    stage: Any
    spectrometer: Any
    shutter: Any
    router: MatrixRouter


@contextmanager
def rig(preset: str = "si", seed: int = 0, smu_model: str = "2450") -> Iterator[Rig]:
    with SimulatedBench(preset, speed=SPEED, seed=seed, smu_model=smu_model) as bench:
        station = bench.station_dict()
        opened = {}
        for name, inst in station["instruments"].items():
            opened[name] = registry.open_driver(inst["driver"], inst["resource"], name, inst["options"])
        wirings = {name: frozenset(w["channels"]) for name, w in station["wirings"].items()}
        try:
            yield Rig(bench, opened["smu"], opened["pstat"], opened["stage"], opened["spectrometer"],
                      opened["shutter"], MatrixRouter(opened["matrix"], wirings))
        finally:
            for driver in opened.values():
                driver.adapter.close()


def galvanostatic(r: Rig, current_A: float, v_min: float, v_max: float, max_time_s: float = 3000.0,
                  interval_s: float = 1.0) -> tuple[list[Sample], str | None]:
    """One device-side galvanostatic step on the cycling wiring; the samples and why it stopped."""
    r.router.connect("cycling")
    r.pstat.start_galvanostatic(current_A, interval_s, max_time_s, v_min, v_max)
    assert r.pstat.wait(60.0), "technique did not end"
    samples = r.pstat.poll()
    assert not r.bench.output_on("pstat")
    return samples, r.pstat.stop_reason


def iv(r: Rig, volts: np.ndarray, compliance_A: float = 1e-6, nplc: float = 1.0) -> np.ndarray:
    """An I-V on S-D through the matrix with the SMU (currents, A)."""
    r.router.connect("conductance:S-D")
    r.smu.configure_voltage_source(compliance_A, nplc=nplc)
    r.smu.set_voltage(0.0)
    r.smu.enable_output()
    try:
        return np.asarray(r.smu.sweep_voltage(volts, 0.001))
    finally:
        r.smu.shutdown()
        r.router.open_all()


def zero_bias_g(r: Rig) -> float:
    volts = np.linspace(-0.02, 0.02, 5)
    return float(np.polyfit(volts, iv(r, volts), 1)[0])


def test_si_cycle_capacity_conductance_loss_and_nonlinearity():
    with rig("si") as r:
        g0 = zero_bias_g(r)
        assert 0.2e-6 < g0 < 7e-6  # pristine Si wire: ~uS
        pristine = iv(r, np.array([-0.1, -0.09, 0.09, 0.1]))
        assert (pristine[3] - pristine[2]) / 0.01 == pytest.approx(g0, rel=0.1)  # ohmic

        charge, why = galvanostatic(r, 10 * PA, 0.0, 3.95)  # a pristine cell starts near 1.5 V
        assert why == "v_max" and charge[-1].potential >= 3.95
        assert np.all(np.diff([s.potential for s in charge[len(charge) // 10:]]) > -5e-3)  # rises
        q_charge_pAh = 10 * PA * (charge[-1].t - charge[0].t) / 3600 / 1e-12
        assert 0.1 < q_charge_pAh < 1.0
        # pA current, pA-level noise, read with the HR's 100 nA range offset (datasheets)
        hr = datasheets.range_offset("es4_hr", "measure", "current", 100e-9, r.bench.emulators["pstat"].seed)
        assert all(abs(s.current - 10 * PA - hr) < 1 * PA for s in charge)

        discharge, why = galvanostatic(r, -10 * PA, 2.5, 4.05)
        assert why == "v_min" and discharge[-1].potential <= 2.5
        q_discharge_pAh = 10 * PA * (discharge[-1].t - discharge[0].t) / 3600 / 1e-12
        assert 0.1 < q_discharge_pAh < 1.0
        assert discharge[0].potential < charge[-1].potential - 0.02  # IR drop + relaxation at the switch

        g1 = zero_bias_g(r)
        assert g1 <= g0 / 100  # >= two decades lost in one full cycle
        volts = np.array([0.9, 1.0])
        i_hi = iv(r, volts)
        nonlinearity = (i_hi[1] - i_hi[0]) / 0.1 / g1
        assert nonlinearity > 1.5  # back-to-back Schottky contacts: dI/dV rises with bias
        assert zero_bias_g(r) == pytest.approx(g1, rel=0.2)  # it does not recover at rest


def test_h2v3o8_shallow_discharge_is_reversible_deep_is_permanent():
    # the 2636B's 100 pA range resolves the fS conductance left after a deep discharge
    with rig("h2v3o8", smu_model="2636b") as r:
        per_li_s = r.bench.model.nominal_capacity_Ah * 3600 / 4.0 / (5 * PA)  # s per Li at 5 pA
        volts = np.array([0.5, 1.0])

        def g() -> float:
            currents = iv(r, volts, compliance_A=1e-7)
            return float(currents[1] / volts[1])

        g0 = g()
        v_start = r.bench.model.cell_voltage(r.bench.clock.now())
        steps, why = galvanostatic(r, -5 * PA, 1.1, 3.9, max_time_s=0.5 * per_li_s)
        assert why == "max_time" and steps[-1].potential < v_start - 0.3
        g_shallow = g()
        _, why = galvanostatic(r, 5 * PA, 1.1, 3.8)  # up to the shipped protocol's v_max_V
        assert why == "v_max"
        g_back = g()
        _, why = galvanostatic(r, -5 * PA, 1.1, 3.9, max_time_s=3.4 * per_li_s)
        g_deep = g()
        _, why = galvanostatic(r, 5 * PA, 1.1, 3.8)
        assert why == "v_max"
        g_after = g()
    assert 1.3 < np.log10(g0 / g_shallow) < 2.8  # ~2 decades
    assert np.log10(g0 / g_back) < 0.4  # shallow charge restores it
    assert np.log10(g0 / g_deep) > 3.5  # deep: much further down
    assert np.log10(g0 / g_after) > 2.0  # and only the reversible part comes back


def spectrum(r: Rig, at: tuple[float, float, float], exposure_s: float, power_mW: float) -> tuple:
    r.stage.move_to(*at)
    r.spectrometer.exposure_s = exposure_s
    r.spectrometer.accumulations = 1
    r.spectrometer.power_mW = power_mW
    r.shutter.open()
    try:
        s = r.spectrometer.acquire()
    finally:
        r.shutter.close()
        r.spectrometer.power_mW = 0
    return s.wavenumbers, s.counts


def si_height(r: Rig, x: float) -> float:
    nu, sp = spectrum(r, (x, 200.0, 0.0), 5.0, 0.1)
    return float(sp[(nu > 512) & (nu < 526)].max() - np.median(sp[(nu > 535) & (nu < 545)]))


def test_raman_bands_film_and_laser_heating_through_the_instruments():
    with rig("si") as r:
        nu, wire = spectrum(r, ON_WIRE, 10.0, 0.05)
        center, fwhm, height = lorentz_fit(nu, wire)
        assert 518.5 < center < 521.0 and 2.5 < fwhm < 6.0 and height > 300  # c-Si core
        _, far = spectrum(r, FAR, 10.0, 0.05)
        a_si_wire = band_area(nu, wire, 400, 500, 380, 560)
        assert a_si_wire > 5 * abs(band_area(nu, far, 400, 500, 380, 560)) + 100  # a-Si shell near 475
        _, film = spectrum(r, ON_FILM, 2.0, 0.1)
        _, wire2 = spectrum(r, ON_WIRE, 2.0, 0.1)
        assert band_area(nu, film, 575, 611, 575, 611) > 2500  # LiCoO2 A1g where the spot sees the film
        assert abs(band_area(nu, wire2, 575, 611, 575, 611)) < 600
        _, hot = spectrum(r, ON_WIRE, 2.0, 0.5)
        hot_center, hot_fwhm, _ = lorentz_fit(nu, hot)
        assert hot_center < center - 1.0 and hot_fwhm > fwhm  # laser heating red-shifts and broadens


def _lithiated_line_map(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Si peak heights along the wire, pristine and after a partial first lithiation (via the pstat)."""
    xs = np.arange(101.0, 109.01, 1.0)
    with rig("si", seed=seed) as r:
        pristine = np.array([si_height(r, x) for x in xs])
        _, why = galvanostatic(r, 10 * PA, 0.0, 3.86)  # to the start of the c-Si plateau
        assert why == "v_max"
        _, why = galvanostatic(r, 10 * PA, 0.0, 4.05, max_time_s=9.0)  # ~90 pC into the core
        assert why == "max_time"
        return pristine, np.array([si_height(r, x) for x in xs])


def test_crystalline_fraction_falls_inhomogeneously_and_reproducibly():
    pristine, a = _lithiated_line_map(0)
    assert pristine.std() / pristine.mean() < 0.1
    assert a.mean() < 0.8 * pristine.mean()
    assert a.std() / a.mean() > 0.2  # patchy along the wire, not uniform
    _, again = _lithiated_line_map(0)
    assert np.corrcoef(again, a)[0, 1] > 0.9  # same seed, same pattern
    _, other = _lithiated_line_map(1)
    # another seed, another pattern (the pads' passivation is the same on every chip: the maps share it)
    assert np.max(np.abs(other - a)) > 0.03 * pristine.mean()
