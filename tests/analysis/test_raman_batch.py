"""Batch Raman fits: the same numbers as the single-spectrum fit, on a few hundred synthetic spectra with hard
ones (no c-Si, no a-Si, nothing, cosmic rays on the peak, low counts, steep baselines)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nanocell_daq.analysis.raman import (
    NoiseModel,
    SiFit,
    _initial_guess,
    _model_jac,
    estimate_noise,
    fit_result,
    fit_si,
    si_model,
)
from nanocell_daq.analysis.raman_batch import (
    BatchStats,
    _Pool,
    batch_jacobian,
    batch_model,
    fit_results,
    fit_spectra,
    initial_guesses,
)
from nanocell_daq.analysis.raman_map import fit_map

AXIS = np.linspace(100.0, 1800.0, 1024)


def synthetic_set(rng: np.random.Generator, n: int = 280) -> tuple[np.ndarray, list[str]]:
    """(spectra, kind per spectrum): most with both bands, the rest the hard cases."""
    hard = ["no c-Si", "no a-Si", "weak a-Si", "none", "spike", "low", "steep"]
    kinds = ["both"] * (n // 2) + hard * (n // 2 // len(hard))
    spectra = []
    for kind in kinds:
        c_area = rng.uniform(3000.0, 25000.0)
        a_area = rng.uniform(4000.0, 20000.0)
        b0, b1 = rng.uniform(50.0, 400.0), rng.uniform(-0.1, 0.1)
        if kind == "no c-Si":
            c_area = 0.0
        elif kind == "no a-Si":
            a_area = 0.0
        elif kind == "weak a-Si":  # about the noise: present or absent (the reduced model)
            a_area = rng.uniform(0.0, 4000.0)
        elif kind == "none":
            c_area = a_area = 0.0
        elif kind == "low":
            c_area, a_area, b0 = c_area / 10, a_area / 10, 5.0
        elif kind == "steep":
            b1 = rng.uniform(1.0, 3.0)
            b0 = 400.0
        params = [c_area, rng.uniform(514.0, 521.0), rng.uniform(3.0, 7.0), a_area, rng.uniform(470.0, 482.0),
                  rng.uniform(55.0, 85.0), b0, b1]
        counts = rng.poisson(np.clip(si_model(AXIS, np.array(params)), 0, None)).astype(float)
        if kind == "spike":  # a cosmic ray on the c-Si peak (no despiking here: the fit must drop it)
            k = int(np.argmin(np.abs(AXIS - params[1]))) + int(rng.integers(-1, 2))
            counts[k] += rng.uniform(1500.0, 4000.0)
        spectra.append(counts)
    return np.array(spectra), kinds


def assert_agree(batch, single) -> None:
    """Positions within 0.05 cm-1, widths and areas within 1 %, errors within 10 %, the same decisions."""
    for k, (b, s) in enumerate(zip(batch, single, strict=True)):
        where = f"spectrum {k}"
        assert b.c_significant == s.c_significant and b.a_significant == s.a_significant, where
        assert b.success == s.success and b.n_outliers == s.n_outliers, where
        for name in ("c_position", "a_position"):
            assert getattr(b, name) == pytest.approx(getattr(s, name), abs=0.05, nan_ok=True), (where, name)
        for name in ("c_fwhm", "a_fwhm", "xc", "xc_upper", "c_area_upper", "a_area_upper"):
            assert getattr(b, name) == pytest.approx(getattr(s, name), rel=0.01, abs=1e-9, nan_ok=True), (
                where, name)
        for name in ("c_area", "a_area"):  # an area at zero (a bound): within a thousandth of its error
            tol = 1e-3 * getattr(s, f"{name}_err")
            assert getattr(b, name) == pytest.approx(getattr(s, name), rel=0.01, abs=tol, nan_ok=True), (
                where, name)
        for name in ("c_position_err", "c_fwhm_err", "c_area_err", "a_position_err", "a_fwhm_err",
                     "a_area_err", "xc_err"):
            assert getattr(b, name) == pytest.approx(getattr(s, name), rel=0.10, nan_ok=True), (where, name)


def test_batch_model_jacobian_and_start_are_the_single_fits():
    rng = np.random.default_rng(0)
    x = AXIS[(AXIS >= 380) & (AXIS <= 600)]
    p = np.column_stack([rng.uniform(0.1, 2, 5), rng.uniform(510, 525, 5), rng.uniform(3, 9, 5),
                         rng.uniform(0, 2, 5), rng.uniform(460, 490, 5), rng.uniform(40, 90, 5),
                         rng.uniform(0, 1, 5), rng.uniform(-1e-3, 1e-3, 5)])
    model, jac = batch_model(x, p), batch_jacobian(x, p)
    spectra, _ = synthetic_set(rng, 12)
    sn = spectra[:, (AXIS >= 380) & (AXIS <= 600)]
    sn = sn / sn.max(axis=1, keepdims=True)
    starts = initial_guesses(x, sn)
    for k in range(5):
        np.testing.assert_allclose(model[k], si_model(x, p[k]), rtol=1e-12)
        np.testing.assert_allclose(jac[k], _model_jac(x, p[k]), rtol=1e-12, atol=1e-15)
    for k in range(sn.shape[0]):
        inside = np.clip(_initial_guess(x, sn[k]), starts[k] - 1e-8, starts[k] + 1e-8)  # as _solve moves it
        np.testing.assert_allclose(starts[k], inside)


def test_starts_of_the_cosmic_ray_trials_are_the_single_fits():
    """Each trial drops one pixel (the first, the last, one on the c-Si peak, random ones): its start is
    fit_si's initial guess on the spectrum without it."""
    from nanocell_daq.analysis.raman_batch import _initial_guesses_without

    rng = np.random.default_rng(9)
    spectra, _ = synthetic_set(rng, 14)
    x = AXIS[(AXIS >= 380) & (AXIS <= 600)]
    sn = spectra[:, (AXIS >= 380) & (AXIS <= 600)]
    pix = rng.integers(0, x.size, sn.shape[0])
    pix[:3] = 0, x.size - 1, int(np.argmax(sn[0]))
    keep = np.ones(sn.shape, dtype=bool)
    keep[np.arange(sn.shape[0]), pix] = False
    got = _initial_guesses_without(x, sn, keep)
    for t in range(sn.shape[0]):
        want = initial_guesses(x[keep[t]], sn[t][keep[t]][None])[0]
        np.testing.assert_allclose(got[t], want, rtol=1e-12)


def test_batch_results_are_built_as_the_single_fit_builds_them():
    rng = np.random.default_rng(1)
    x = AXIS[(AXIS >= 380) & (AXIS <= 600)]
    p = np.array([[1.0, 519.0, 4.0, 2.0, 476.0, 70.0, 0.3, 1e-4], [0.01, 519, 4, 2, 476, 70, 0.3, 0.0]])
    sigma = rng.uniform(0.01, 0.03, (2, x.size))
    fun = rng.normal(0, 1.3, (2, x.size))
    jac = batch_jacobian(x, p) / sigma[..., None]
    noise = [NoiseModel(1.2, 3.0), NoiseModel(0.9, 1.0)]
    got = fit_results(p, fun, jac, scale=np.array([5000.0, 800.0]), y=0.7, models=noise)
    for k in range(2):
        want = fit_result(p[k], fun[k], jac[k], scale=[5000.0, 800.0][k], y=0.7, noise=noise[k], n_outliers=0,
                          success=True)
        for name, value in want.as_dict().items():
            assert getattr(got[k], name) == pytest.approx(value, rel=1e-9, nan_ok=True), name
    assert got[0].c_significant and not got[1].c_significant


def test_batch_fit_agrees_with_the_single_fit_on_hard_and_easy_spectra():
    rng = np.random.default_rng(2)
    spectra, kinds = synthetic_set(rng)
    noise = NoiseModel(1.0, 2.0)
    stats = BatchStats()
    batch = fit_spectra(AXIS, spectra, noise=noise, stats=stats)
    single = [fit_si(AXIS, row, noise=noise) for row in spectra]
    assert_agree(batch, single)
    # the batch did the work: nearly all spectra with both bands never went to the single fit
    assert stats.n_batch >= 0.9 * kinds.count("both")
    assert sum(f.n_outliers > 0 for f in batch) >= 0.8 * kinds.count("spike")  # the spikes were there


def frames(batch, single):
    fields = list(SiFit.__dataclass_fields__)
    return ([SiFit(**{f: row[f] for f in fields}) for _, row in batch.iterrows()],
            [SiFit(**{f: row[f] for f in fields}) for _, row in single.iterrows()])


def test_batch_fit_agrees_on_a_simulated_map_of_the_shipped_si_wire():
    """Spectra from the cell model behind the shipped Si protocol (the wire and the bare chip beside it),
    pristine and after an hour of charge at 1C (the line maps of si_seed.yaml)."""
    from simulated_instruments.cell import CellModel

    cell = CellModel("si", seed=0)
    positions = np.array([(95.0 + 0.4 * k, 200.0 + (k % 3 - 1) * 0.5) for k in range(40)])
    spectra = [cell.raman_spectrum(0.0, x, y, 0.0, 1.0, 1, 1.0) for x, y in positions]
    cell.set_drive(0.0, "current", cell.nominal_capacity_Ah)
    spectra += [cell.raman_spectrum(3600.0, x, y, 0.0, 1.0, 1, 1.0) for x, y in positions[::2]]
    positions = np.concatenate([positions, positions[::2]])
    spectra = np.array(spectra, dtype=float)
    stats = BatchStats()
    batch = fit_map(cell.wavenumbers, spectra, positions, stats=stats)
    single = fit_map(cell.wavenumbers, spectra, positions, batch=False)
    assert_agree(*frames(batch, single))
    # the pooled noise: the unweighted fits of off-wire pixels (a band fitting noise) end where each solver's
    # path takes them; pooled with the rest, that moves the gain by under 1e-3 (errors by half that)
    assert batch["noise_gain"].to_numpy() == pytest.approx(single["noise_gain"].to_numpy(), rel=2e-3)
    assert batch["c_significant"].sum() >= 20 and stats.n_batch >= 20  # the wire's pixels, in the batch
    assert batch["xc"][40:].mean() != pytest.approx(batch["xc"][:40].mean(), abs=0.02)  # charged: it shows


def test_noise_estimated_per_spectrum_or_pooled_over_the_map_as_the_single_fit_does():
    rng = np.random.default_rng(3)
    spectra, kinds = synthetic_set(rng, 84)
    spectra = 2.0 * spectra + rng.normal(0.0, 8.0, spectra.shape)  # gain 2, read noise 8 counts
    spectra[5, 300] = np.nan  # a pixel lost in the window: that spectrum goes to the single fit
    stats = BatchStats()
    batch = fit_spectra(AXIS, spectra, stats=stats)
    single = [fit_si(AXIS, row) for row in spectra]
    assert_agree(batch, single)
    assert [b.noise_gain for b in batch] == pytest.approx([s.noise_gain for s in single], rel=1e-3)
    assert stats.fallback["not finite"] == 1 and stats.n_batch >= 0.9 * kinds.count("both") - 1
    stats = BatchStats()
    pooled_batch = fit_map(AXIS, spectra, despike=False, stats=stats, chunk=25)  # pooled over chunks
    pooled_single = fit_map(AXIS, spectra, despike=False, batch=False)
    gain = pooled_single["noise_gain"].to_numpy()
    assert np.all(gain == gain[0]) and gain[0] == pytest.approx(2.0, rel=0.15)
    # the same noise model within the spread of the unweighted fits of absent bands (no minimum of theirs)
    assert pooled_batch["noise_gain"].to_numpy() == pytest.approx(gain, rel=2e-3)
    assert_agree(*frames(pooled_batch, pooled_single))
    # absent bands are fitted in the batch (their reduced models): only cosmic rays and the like go single
    assert "band at noise level or bound" not in stats.fallback
    assert stats.n_batch >= 0.9 * (len(kinds) - kinds.count("spike")) - 1


def test_pooled_noise_sums_in_pieces_as_estimate_noise_fits():
    rng = np.random.default_rng(4)
    m = rng.uniform(0.0, 3000.0, 150_000)
    lev = rng.uniform(0.0, 0.3, m.size)
    r = rng.normal(0.0, np.sqrt((1.7 * m + 36.0) * (1.0 - lev)))  # what a fit leaves of the noise
    r[::997] += 5000.0  # cosmic rays, trimmed
    pool = _Pool()
    for k in range(0, m.size, 40_000):  # chunk by chunk, summed in pieces of 65536
        pool.add(m[k : k + 40_000], r[k : k + 40_000], lev[k : k + 40_000])
    got, want = pool.estimate(), estimate_noise(m, r, leverage=lev)
    assert got.gain == pytest.approx(want.gain, rel=1e-6) and got.read == pytest.approx(want.read, rel=1e-6)
    assert got.gain == pytest.approx(1.7, rel=0.05)
    r = rng.normal(0.0, m / 30.0)  # variance growing as m²: the line's read² would be < 0, held at 0
    pool.add(m, r, np.zeros(m.size))
    got, want = pool.estimate(), estimate_noise(m, r)
    assert got.read == want.read == 0.0 and got.gain == pytest.approx(want.gain, rel=1e-6)
    pool.add(np.array([100.0, 200.0]), np.array([0.0, 0.0]), np.zeros(2))
    assert pool.estimate() == NoiseModel(1.0, 0.0, "estimated")  # too few pixels: as estimate_noise says


def test_off_wire_pixels_are_fitted_in_the_batch_and_chunks_change_nothing():
    """A map with pixels off the wire (no Si band: the full model's bands would fit noise, wherever the
    solver's path takes them) gives the single fit's numbers, its reduced models' minima, in the batch, chunk
    by chunk as all at once."""
    from nanocell_daq.cli.bench_fit import synthetic_map

    axis, spectra, positions = synthetic_map(48, empty=0.4, seed=3)
    stats = BatchStats()
    chunked = fit_map(axis, spectra, positions, stats=stats, chunk=10)
    whole = fit_map(axis, spectra, positions, chunk=1000)
    single = fit_map(axis, spectra, positions, batch=False)
    pd.testing.assert_frame_equal(chunked, whole)
    assert_agree(*frames(chunked, single))
    assert not chunked["c_significant"][chunked["c_area"] < 1e-3].any()
    empty = ~chunked["c_significant"] & ~chunked["a_significant"]
    assert 10 <= empty.sum() <= 30 and (chunked["a_area_upper"][empty] > 0).all()
    assert chunked["a_position"][empty].isna().all() and (chunked["c_area"][empty] == 0).all()
    assert stats.n_batch >= 45 and set(stats.fallback) <= {"cosmic ray"}  # 3 % of pixels have one


def test_memory_of_a_batch_fit_does_not_grow_with_the_number_of_spectra():
    import tracemalloc

    rng = np.random.default_rng(6)
    x = AXIS[(AXIS >= 380) & (AXIS <= 600)]
    truth = np.array([8.0e3, 518.0, 4.5, 9.0e3, 476.0, 70.0, 200.0, 0.0])
    clean = si_model(x, truth)
    noise = NoiseModel(1.0, 5.0)

    def peak(n: int) -> int:
        spectra = rng.poisson(clean, (n, x.size)) + rng.normal(0.0, 5.0, (n, x.size))
        tracemalloc.start()
        fits = fit_spectra(x, spectra, noise=noise, chunk=32)
        size = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(fits) == n and all(f.c_significant for f in fits)
        return size

    small, large = peak(64), peak(256)
    # the working arrays are a chunk's; what grows is the results (under 1 kB a spectrum)
    assert large - small < 192 * 1500, (small, large)
