"""Raman fits over ensembles of synthetic spectra of known truth: bias and 1-sigma coverage, cosmic rays on
the c-Si peak, false spike flags on clean spectra, Xc of highly crystalline pixels, frame comparison.

Spectra look like the simulator's (1024 pixels over 100-1800 cm-1, c-Si ~400 counts high on a-Si ~60 counts,
Poisson shot noise + 4 counts read noise).
"""

from __future__ import annotations

import numpy as np
import pytest

from nanocell_daq.analysis.raman import NoiseModel, fit_si, si_model
from nanocell_daq.analysis.raman_preprocess import SI_PEAK_REGION_CM1, combine_frames, spike_mask

AXIS = np.linspace(100.0, 1800.0, 1024)
TRUTH = np.array([2500.0, 519.5, 4.5, 6000.0, 476.0, 70.0, 30.0, 0.01])
READ = 4.0
FIELDS = (("c_area", 0), ("c_position", 1), ("c_fwhm", 2), ("a_area", 3))


def ensemble(rng: np.random.Generator, n: int, truth: np.ndarray = TRUTH) -> np.ndarray:
    clean = np.clip(si_model(AXIS, truth), 0.0, None)
    return rng.poisson(np.broadcast_to(clean, (n, AXIS.size))) + rng.normal(0.0, READ, (n, AXIS.size))


def coverage(fits: list, truth: np.ndarray = TRUTH) -> dict[str, tuple[float, float]]:
    """field -> (fraction of fits whose 1-sigma interval holds the truth, bias in standard errors)."""
    out = {}
    for name, k in FIELDS:
        v = np.array([getattr(f, name) for f in fits])
        e = np.array([getattr(f, name + "_err") for f in fits])
        out[name] = (
            float(np.mean(np.abs(v - truth[k]) < e)),
            float((np.mean(v) - truth[k]) / (np.std(v) / np.sqrt(v.size))),
        )
    return out


@pytest.fixture(scope="module")
def clean_fits() -> tuple[list, list]:
    data = ensemble(np.random.default_rng(20), 200)
    known = [fit_si(AXIS, d, noise=NoiseModel(1.0, READ, "spectrometer")) for d in data]
    estimated = [fit_si(AXIS, d) for d in data]
    return known, estimated


@pytest.mark.parametrize("which", [0, 1], ids=["noise from the spectrometer", "noise estimated"])
def test_errors_cover_the_truth_about_68_percent_of_the_time_without_bias(clean_fits, which):
    for name, (cover, bias_in_sem) in coverage(clean_fits[which]).items():
        # 200 fits: the binomial 1-sigma of a 68 % coverage is 3.3 %
        assert 0.60 <= cover <= 0.75, (name, cover)
        assert abs(bias_in_sem) < 3.0, (name, bias_in_sem)


def test_clean_spectra_are_not_despiked(clean_fits):
    # neither the fit (on its window) nor the filter (outside the c-Si region) flags clean spectra
    flagged = np.mean([f.n_outliers > 0 for f in clean_fits[1]])
    assert flagged < 0.01
    data = ensemble(np.random.default_rng(21), 1000, TRUTH * [16, 1, 1, 1, 1, 1, 1, 1])  # a strong c-Si too
    window = (AXIS > 360) & (AXIS < 620)
    # a strong a-Si band on a quiet background: its shot noise is not a row of spikes
    amorphous = ensemble(np.random.default_rng(27), 1000, TRUTH * [0, 1, 1, 10, 1, 1, 1, 1])
    for spectra in (data, ensemble(np.random.default_rng(22), 1000), amorphous):
        for part in (window, slice(None)):  # fit_map's window, and fit_si(despike=True)'s whole spectrum
            mask = spike_mask(spectra[:, part], axis=AXIS[part], protect=SI_PEAK_REGION_CM1)
            assert np.mean(mask.any(axis=1)) < 0.01


def test_a_cosmic_ray_on_the_c_si_peak_does_not_move_it():
    rng = np.random.default_rng(23)
    n = 60
    data = ensemble(rng, n)
    near = np.nonzero(np.abs(AXIS - TRUTH[1]) <= 8.0)[0]
    where = rng.choice(near, n)
    data[np.arange(n), where] += rng.uniform(300.0, 5000.0, n)  # 1-12x the peak height
    fits = [fit_si(AXIS, d) for d in data]
    pos = np.array([f.c_position for f in fits])
    assert np.mean(np.abs(pos - TRUTH[1]) < 0.5) >= 0.95  # it was 1-3 cm-1 off
    assert np.mean([f.n_outliers >= 1 for f in fits]) >= 0.9
    cov = coverage([f for f in fits if np.isfinite(f.c_position)])
    assert 0.55 <= cov["c_position"][0] <= 0.8 and 0.55 <= cov["c_area"][0] <= 0.8


def test_highly_crystalline_pixels_keep_their_xc():
    rng = np.random.default_rng(24)
    xc_true = rng.uniform(0.7, 1.0, 60)
    fits = []
    for xc in xc_true:
        ia = TRUTH[0] * (1 - xc) / (0.8 * xc)  # Xc = Ic / (Ic + 0.8 Ia)
        truth = TRUTH * [1, 1, 1, 0, 1, 1, 1, 1] + [0, 0, 0, ia, 0, 0, 0, 0]
        fits.append(fit_si(AXIS, ensemble(rng, 1, truth)[0]))
    xc = np.array([f.xc for f in fits])
    err = np.array([f.xc_err for f in fits])
    assert np.isfinite(xc).all()  # 24 % came back NaN
    assert abs(np.mean(xc - xc_true)) < 3 * np.std(xc - xc_true) / np.sqrt(xc.size)
    assert 0.55 <= np.mean(np.abs(xc - xc_true) < err) <= 0.85


def test_a_lost_c_si_band_gives_an_upper_limit_that_holds():
    rng = np.random.default_rng(25)
    fits = [fit_si(AXIS, d) for d in ensemble(rng, 60, TRUTH * [0.03, 1, 1, 1, 1, 1, 1, 1])]
    insignificant = [f for f in fits if not f.c_significant]
    assert len(insignificant) >= 40
    true_xc = 0.03 * TRUTH[0] / (0.03 * TRUTH[0] + 0.8 * TRUTH[3])
    assert all(np.isnan(f.xc) for f in insignificant)
    # one-sided 95 %: the truth lies below the limit in about 95 % of the pixels
    assert np.mean([true_xc < f.xc_upper for f in insignificant]) >= 0.88


def test_two_frames_take_a_cosmic_ray_off_the_peak_and_flag_nothing_on_clean_frames():
    rng = np.random.default_rng(26)
    n = 300
    half = TRUTH * [0.5, 1, 1, 0.5, 1, 1, 0.5, 0.5]
    frames = np.stack([ensemble(rng, n, half), ensemble(rng, n, half)], axis=1)  # (pixels, 2, n)
    total, mask, (gain, read) = combine_frames(frames)
    assert np.mean(mask.any(axis=(1, 2))) < 0.01
    assert gain == pytest.approx(1.0, rel=0.15) and read == pytest.approx(READ, rel=0.2)
    peak = int(np.argmin(np.abs(AXIS - 521.0)))
    hit = frames.copy()
    hit[:, 1, peak] += rng.uniform(300.0, 5000.0, n)
    fixed, mask, _ = combine_frames(hit, noise=(gain, read))
    assert mask[:, 1, peak].mean() > 0.99 and mask.sum() <= mask[:, 1, peak].sum() + 0.01 * n
    assert np.abs(fixed[:, peak] - total[:, peak]).mean() < 3 * np.sqrt(total[:, peak].mean())
