"""Raman spectra as the spectrometer sees them: c-Si/a-Si bands, film bands, heating, patchy amorphisation."""

from __future__ import annotations

import numpy as np
import pytest

from simulated_instruments.cell import CellModel

from .helpers import band_area, gcpl, lorentz_fit

PA = 1e-12
ON_WIRE = (105.0, 200.0, 0.0)
ON_FILM = (170.0, 200.0, 0.0)
FAR = (105.0, 215.0, 0.0)


def _si_height(m: CellModel, t: float, x: float, y: float = 200.0, exposure: float = 5.0) -> float:
    sp = m.raman_spectrum(t, x, y, 0.0, exposure, 1, 0.1, rng=np.random.default_rng(7))
    nu = m.wavenumbers
    peak = sp[(nu > 512) & (nu < 526)].max()
    base = np.median(sp[(nu > 535) & (nu < 545)])
    return float(peak - base)


def test_axis_and_pristine_si_peak() -> None:
    m = CellModel("si", seed=0)
    nu = m.wavenumbers
    assert nu.dtype == np.float64 and nu[0] <= 100 and nu[-1] >= 1800 and nu.size == 1024
    sp = m.raman_spectrum(0.0, *ON_WIRE, 10.0, 1, 0.05)
    assert sp.dtype == np.float32 and sp.shape == nu.shape
    center, fwhm, height = lorentz_fit(nu, sp)
    assert 518.5 < center < 521.0
    assert 2.5 < fwhm < 6.0
    assert height > 500


def test_film_bands_only_over_the_film() -> None:
    m = CellModel("si", seed=0)
    nu = m.wavenumbers

    def a1g(pos: tuple[float, float, float]) -> float:
        sp = m.raman_spectrum(0.0, *pos, 2.0, 1, 0.1)
        return band_area(nu, sp, 575, 611, 575, 611)

    assert a1g(ON_FILM) > 2500
    assert abs(a1g(FAR)) < 600
    assert abs(a1g(ON_WIRE)) < 600


def test_laser_power_red_shifts_and_broadens_si() -> None:
    m = CellModel("si", seed=0)
    nu = m.wavenumbers
    low = lorentz_fit(nu, m.raman_spectrum(0.0, *ON_WIRE, 20.0, 1, 0.05))
    high = lorentz_fit(nu, m.raman_spectrum(0.0, *ON_WIRE, 2.0, 1, 0.5))
    assert high[0] < low[0] - 1.0
    assert high[1] > low[1]


def test_counts_scale_with_exposure_accumulations_and_power() -> None:
    m = CellModel("si", seed=0)
    nu = m.wavenumbers
    a = band_area(nu, m.raman_spectrum(0.0, *ON_FILM, 1.0, 1, 0.1), 575, 611, 575, 611)
    b = band_area(nu, m.raman_spectrum(0.0, *ON_FILM, 2.0, 2, 0.1), 575, 611, 575, 611)
    c = band_area(nu, m.raman_spectrum(0.0, *ON_FILM, 1.0, 1, 0.2), 575, 611, 575, 611)
    assert b / a == pytest.approx(4.0, rel=0.1)
    assert c / a == pytest.approx(2.0, rel=0.1)
    total = [m.raman_spectrum(0.0, *ON_WIRE, e, n, p).sum() for e, n, p in ((1.0, 1, 0.1), (2.0, 2, 0.2))]
    assert total[1] / total[0] == pytest.approx(8.0, rel=0.05)


def test_spot_falls_off_away_from_the_wire_and_out_of_focus() -> None:
    m = CellModel("si", seed=0)
    centre = _si_height(m, 0.0, 105.0)
    assert _si_height(m, 0.0, 105.0, 200.4) < 0.5 * centre
    assert _si_height(m, 0.0, 105.0, 202.0) < 0.02 * centre
    sp = m.raman_spectrum(0.0, 105.0, 200.0, 3.0, 5.0, 1, 0.1, rng=np.random.default_rng(7))
    nu = m.wavenumbers
    assert sp[(nu > 512) & (nu < 526)].max() - np.median(sp[(nu > 535) & (nu < 545)]) < 0.5 * centre


def _partly_lithiated(seed: int) -> tuple[CellModel, float]:
    m = CellModel("si", seed=seed)
    ch = gcpl(m, 0.0, 10 * PA, 3.86)  # stops at the start of the c-Si plateau
    m.set_drive(ch.t_end, "current", 10 * PA)
    m.set_drive(ch.t_end + 9, "open")  # ~90 pC: about half of the core converted
    return m, ch.t_end + 60


def _line_map(m: CellModel, t: float) -> np.ndarray:
    xs = np.arange(101.0, 109.01, 0.5)
    return np.array([_si_height(m, t, x) for x in xs])


def test_crystalline_fraction_falls_patchily_and_reproducibly() -> None:
    pristine = CellModel("si", seed=0)
    p_map = _line_map(pristine, 0.0)
    assert p_map.std() / p_map.mean() < 0.08
    m0, t0 = _partly_lithiated(0)
    a = _line_map(m0, t0)
    assert a.mean() < 0.8 * p_map.mean()
    assert a.std() / a.mean() > 0.2  # patchy, not uniform
    m0b, _ = _partly_lithiated(0)
    np.testing.assert_allclose(_line_map(m0b, t0), a)  # same seed, same pattern
    m1, t1 = _partly_lithiated(1)
    assert np.max(np.abs(_line_map(m1, t1) - a)) > 0.05 * p_map.mean()  # another seed, another pattern


def test_after_a_full_cycle_c_si_is_gone_and_a_si_appears() -> None:
    m = CellModel("si", seed=0)
    nu = m.wavenumbers
    before = m.raman_spectrum(0.0, *ON_WIRE, 5.0, 1, 0.1, rng=np.random.default_rng(3))
    ch = gcpl(m, 0.0, 10 * PA, 3.95)
    lith = m.raman_spectrum(ch.t_end + 10, *ON_WIRE, 5.0, 1, 0.1, rng=np.random.default_rng(3))
    dis = gcpl(m, ch.t_end + 60, -10 * PA, 2.5)
    after = m.raman_spectrum(dis.t_end + 60, *ON_WIRE, 5.0, 1, 0.1, rng=np.random.default_rng(3))
    c_si = [band_area(nu, s, 510, 530, 510, 530) for s in (before, lith, after)]
    a_si = [band_area(nu, s, 400, 500, 380, 560) for s in (before, lith, after)]
    assert c_si[2] < 0.1 * c_si[0]
    assert a_si[1] < 0.3 * a_si[0]  # lithiated a-LixSi: no band
    assert a_si[2] > a_si[0]  # shell and former core are a-Si now (less the Li still in it)


def test_h2v3o8_bands_on_the_wire_and_graphene_on_the_film() -> None:
    m = CellModel("h2v3o8", seed=0)
    nu = m.wavenumbers
    assert nu[-1] >= 2700
    wire = m.raman_spectrum(0.0, 110.0, 200.0, 0.0, 2.0, 1, 0.1)
    film = m.raman_spectrum(0.0, 180.0, 200.0, 0.0, 2.0, 1, 0.1)
    assert band_area(nu, wire, 975, 1015, 960, 1030) > 1000
    assert band_area(nu, film, 1560, 1600, 1550, 1610) > 1000
    assert band_area(nu, film, 2640, 2730, 2620, 2750) > 1000
    assert abs(band_area(nu, wire, 1560, 1600, 1550, 1610)) < 300


def test_cosmic_rays_are_rare_and_seeded_and_spectra_are_cheap() -> None:
    def spikes(seed: int) -> list[int]:
        m = CellModel("si", seed=seed)
        found = []
        for k in range(2000):  # 1e4 s of exposure at 5e-4 spikes/s: ~5 expected
            sp = m.raman_spectrum(0.0, *FAR, 5.0, 1, 0.01)
            if (sp - np.median(sp)).max() > 250:
                found.append(k)
        return found

    a = spikes(0)
    assert 1 <= len(a) <= 15
    assert spikes(0) == a
    assert spikes(1) != a
    # its speed (~ms per spectrum) is a benchmark: `nanocell bench timings` (sim_spectrum_ms)
