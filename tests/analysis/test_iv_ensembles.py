"""G0 from the whole-sweep fit over ensembles of noisy sweeps of known truth: bias and 1-sigma coverage.

Noise is "2450-like": a 500 fA floor (10 nA range) plus a part proportional to the reading. Each case asserts
the mean pull (G0 - truth) / sigma (bias in units of the reported error) and the fraction of sweeps whose
±1 sigma interval holds the truth (68 % expected; the band allows for the ensemble's size).
"""

from __future__ import annotations

import numpy as np
import pytest

from nanocell_daq.analysis.iv_fit import UPPER_LIMIT_CL, fit_g0_many
from tests.analysis.synthetic import sweep

K_B = 8.617333e-5  # eV/K


def _noisy(rng: np.random.Generator, clean: np.ndarray, n: int, rel: float = 1e-3) -> np.ndarray:
    """``n`` noisy copies (rows) of one clean sweep: 500 fA floor + ``rel`` of the reading."""
    shape = (n, clean.size)
    return clean * (1.0 + rel * rng.standard_normal(shape)) + 5e-13 * rng.standard_normal(shape)


def _pulls(v: np.ndarray, currents: np.ndarray, truth: float):
    fits = fit_g0_many([(v, i) for i in currents])  # all at once, as analyze fits a run
    g = np.array([f.conductance_S for f in fits])
    err = np.array([f.conductance_err_S for f in fits])
    return fits, (g - truth) / err


def _assert_unbiased_and_covered(pulls: np.ndarray, max_bias: float = 0.35) -> None:
    n = pulls.size
    coverage = float(np.mean(np.abs(pulls) < 1.0))
    band = 2.5 * np.sqrt(0.68 * 0.32 / n)
    assert abs(float(np.mean(pulls))) < max_bias, f"bias {np.mean(pulls):+.2f} sigma"
    assert 0.68 - band - 0.03 < coverage < 0.68 + band + 0.03, f"1-sigma coverage {coverage:.2f} over {n}"


def test_ohmic_wires_over_five_decades_of_conductance():
    rng = np.random.default_rng(11)
    v = sweep(0.5, 0.025)
    pulls = []
    for g in (1e-10, 1e-9, 1e-8, 1e-7, 1e-6):
        fits, p = _pulls(v, _noisy(rng, g * v, 60), g)
        assert all(f.method == "linear" and f.significant for f in fits)
        pulls.append(p)
    _assert_unbiased_and_covered(np.concatenate(pulls))


# --- an independent back-to-back Schottky model (its own physics code, solved for the current) -------------
def _independent_b2b(v: np.ndarray, phi1: float, phi2: float, n: float, gamma: float, r: float,
                     t_k: float = 330.0) -> np.ndarray:
    """Thermionic emission over two barriers (eV) in anti-series, image-force lowering gamma·sqrt(V_rev)
    (eV/V^½), ideality n, series r (ohm): the current found by bisection on log I for each bias."""
    kt = K_B * t_k
    area, richardson = 1e-9, 32.0  # cm², A cm⁻² K⁻²
    i_s = {k: area * richardson * t_k**2 * np.exp(-phi / kt) for k, phi in ((1, phi1), (2, phi2))}

    def reverse_drop(current: np.ndarray, i_sat: float) -> np.ndarray:
        lo, hi = np.zeros_like(current), np.full_like(current, 50.0)
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            passed = i_sat * np.exp(gamma * np.sqrt(mid) / kt) * -np.expm1(-mid / (n * kt))
            hi = np.where(passed > current, mid, hi)
            lo = np.where(passed > current, lo, mid)
        return 0.5 * (lo + hi)

    out = np.zeros_like(v)
    for sign, rev, fwd in ((1, 1, 2), (-1, 2, 1)):
        sel = np.sign(v) == sign
        target = np.abs(v[sel])
        lo, hi = np.full(target.shape, -80.0), np.full(target.shape, np.log(1e-3))
        for _ in range(90):
            mid = 0.5 * (lo + hi)
            cur = np.exp(mid)
            drop = reverse_drop(cur, i_s[rev]) + n * kt * np.log1p(cur / i_s[fwd]) + cur * r
            hi = np.where(drop > target, mid, hi)
            lo = np.where(drop > target, lo, mid)
        out[sel] = sign * np.exp(0.5 * (lo + hi))
    return out


def _slope_at_zero(current) -> float:
    """dI/dV at 0 V by central differences, Richardson-extrapolated for the sqrt(V) term of the barrier
    lowering (the error of a difference over ±h goes as sqrt(h))."""
    def diff(h: float) -> float:
        i = current(np.array([h, -h]))
        return float(i[0] - i[1]) / (2 * h)

    return 2 * diff(2.5e-9) - diff(1e-8)


@pytest.mark.parametrize(
    "phi1, phi2, n, gamma, r, size",
    [
        (0.45, 0.50, 1.3, 0.06, 2e7, 50),  # contact dominated, rectifying
        (0.40, 0.42, 1.8, 0.03, 5e8, 40),  # contacts and wire share the bias: a flat valley, slower fits
    ],
)
def test_independent_back_to_back_schottky_model(phi1, phi2, n, gamma, r, size):
    """Thermionic contacts with image-force lowering and a series wire, coded apart from the fit's model."""
    v = sweep(0.5, 0.025)
    clean = _independent_b2b(v, phi1, phi2, n, gamma, r)
    truth = _slope_at_zero(lambda x: _independent_b2b(x, phi1, phi2, n, gamma, r))
    assert np.max(np.abs(clean)) > 200 * 5e-13  # well above the noise: a shape to fit
    fits, pulls = _pulls(v, _noisy(np.random.default_rng(5), clean, size), truth)
    assert all(f.method == "schottky" for f in fits)
    _assert_unbiased_and_covered(pulls)


def test_sinh_sweep_to_one_volt():
    v = sweep(1.0, 0.05)
    i0, v0 = 1e-10, 0.25
    fits, pulls = _pulls(v, _noisy(np.random.default_rng(7), i0 * np.sinh(v / v0), 40), i0 / v0)
    assert all(f.method == "schottky" for f in fits)
    _assert_unbiased_and_covered(pulls)


def test_one_picosiemens_wire_at_the_noise_floor_is_measured_from_the_whole_sweep():
    """1 pS under 500 fA rms over ±1 V (81 points): sigma(G0) ~ 0.1 pS, so G0 is significant (> 3 sigma) in
    nearly every sweep, unbiased and covered."""
    v = sweep(1.0, 0.025)
    fits, pulls = _pulls(v, _noisy(np.random.default_rng(3), 1e-12 * v, 200, rel=0.0), 1e-12)
    assert np.mean([f.significant for f in fits]) > 0.97
    _assert_unbiased_and_covered(pulls)


def test_below_the_noise_floor_an_upper_limit_that_holds_the_truth():
    """0.1 pS under 500 fA rms over ±0.5 V: not significant in most sweeps; those report an upper limit
    (one-sided 95 %) that is above the truth at least ~95 % of the time (counting all sweeps, a significant
    one as holding it when its ±1.645 sigma reaches the truth)."""
    v = sweep(0.5, 0.025)
    truth = 1e-13
    fits, _ = _pulls(v, _noisy(np.random.default_rng(4), truth * v, 300, rel=0.0), truth)
    limited = [f for f in fits if not f.significant]
    assert len(limited) > 0.9 * len(fits)
    assert all(np.isfinite(f.upper_limit_S) and f.upper_limit_S > 0 for f in limited)
    held = [f.upper_limit_S >= truth if not f.significant else f.conductance_S - 1.645 * f.conductance_err_S
            <= truth for f in fits]
    assert np.mean(held) > UPPER_LIMIT_CL - 0.03
