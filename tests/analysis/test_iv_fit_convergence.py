"""The whole-sweep G0 fit reports its converged minimum, says when it did not converge, and keeps the Schottky
model off sweeps too short for its 7 parameters."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from nanocell_daq.analysis import iv_fit
from nanocell_daq.analysis.iv_fit import b2b_current, b2b_g0, fit_g0
from tests.analysis.synthetic import sweep
from tests.analysis.test_iv_ensembles import _independent_b2b, _noisy


def _flat_valley_sweep() -> tuple[np.ndarray, np.ndarray]:
    """Contacts and wire sharing the bias (barriers 0.40/0.42 eV, 500 Mohm): the solver's slowest case."""
    v = sweep(0.5, 0.025)
    clean = _independent_b2b(v, 0.40, 0.42, 1.8, 0.03, 5e8)
    return v, _noisy(np.random.default_rng(5), clean, 12)[6]  # 200 evaluations stopped it 0.26 sigma off


def test_flat_valley_fit_is_the_converged_minimum(monkeypatch):
    """Tightening the solver's tolerances (and budget) does not move G0 or its error: the reported fit is
    where the least-squares minimum is, not where a small evaluation budget stopped the solver."""
    v, i = _flat_valley_sweep()
    fit = fit_g0(v, i)
    assert fit.method == "schottky" and fit.converged and fit.note == ""
    plain = optimize.least_squares

    def tight(*args, **kwargs):
        kwargs.update(max_nfev=5000, ftol=1e-12, xtol=1e-12, gtol=1e-12)
        return plain(*args, **kwargs)

    monkeypatch.setattr(iv_fit.optimize, "least_squares", tight)
    ref = fit_g0(v, i)
    assert abs(fit.conductance_S - ref.conductance_S) < 0.01 * ref.conductance_err_S
    assert fit.conductance_err_S == pytest.approx(ref.conductance_err_S, rel=0.01)


def test_a_fit_out_of_budget_says_it_did_not_converge(monkeypatch):
    v, i = _flat_valley_sweep()
    monkeypatch.setattr(iv_fit, "MAX_NFEV", 15)
    fit = fit_g0(v, i)
    assert fit.method == "schottky" and not fit.converged
    assert "before converging" in fit.note


def test_short_curved_sweeps_take_the_line_and_say_why():
    """A curved sweep of 13 points (< 2 x 7 parameters) gets the ohmic line with a note; from 14 points the
    Schottky model is fitted."""
    rng = np.random.default_rng(0)
    for n, method in ((13, "linear"), (14, "schottky"), (21, "schottky")):
        v = np.linspace(-1.0, 1.0, n)
        clean = b2b_current(v, 1e-11, 3e-11, 0.04, 3.0, 1e6)
        fit = fit_g0(v, clean * (1 + 1e-3 * rng.standard_normal(n)) + 5e-14 * rng.standard_normal(n))
        assert fit.method == method, n
        assert (f"{n} points" in fit.note) == (method == "linear")
    assert fit_g0(v, clean, schottky=False).note == ""  # the line by request needs no reason
    assert fit.conductance_S == pytest.approx(b2b_g0(1e-11, 3e-11, 0.04, 1e6), rel=0.02)


def test_g0_error_matches_the_scatter_when_the_series_resistance_is_unresolved():
    """A contact-dominated wire (R = 1 Mohm against ~5 Gohm of contacts): R's Jacobian column is ~1e9 times
    the others'. G0's error still follows the sweep-to-sweep scatter (it was ~1e-23 S, 1e-10 of it)."""
    rng = np.random.default_rng(1)
    v = np.linspace(-1.0, 1.0, 41)
    clean = b2b_current(v, 1e-11, 3e-11, 0.04, 3.0, 1e6)
    truth = b2b_g0(1e-11, 3e-11, 0.04, 1e6)
    fits = [fit_g0(v, i) for i in clean * (1 + 1e-3 * rng.standard_normal((30, v.size)))
            + 5e-14 * rng.standard_normal((30, v.size))]
    assert all(f.method == "schottky" and f.converged for f in fits)
    pulls = np.array([(f.conductance_S - truth) / f.conductance_err_S for f in fits])
    assert 0.6 < np.std(pulls) < 1.6 and abs(np.mean(pulls)) < 0.5, (np.std(pulls), np.mean(pulls))


def test_g0_gradient_is_flat_where_a_shorted_contact_trades_with_the_series_resistance():
    """G0 = 1/(R + c1 + c2): with contact 1 shorted (c1 = v_n/Is1 ~ 1e-2 ohm against R = 5e8 ohm) moving its
    resistance into R leaves G0 unchanged; the propagated error must see that (a central difference of G0
    in ln Is1 is rounding noise there, and the data do not constrain that direction: G0's error blew up)."""
    scale = 1e-9
    theta = np.array([np.log(1.0 / scale), np.log(4e-10 / scale), np.log(0.01), 5.0, 0.0, 5e8 * scale, 0.0])
    g0, grad = iv_fit._g0_grad(theta, scale)
    c1 = 0.01 / 1.0
    trade = np.zeros(7)
    trade[0], trade[5] = 1.0, c1 * scale  # d ln Is1 = 1 lowers c1 by c1 (first order); R rises by c1
    assert g0 == pytest.approx(b2b_g0(1.0, 4e-10, 0.01, 5e8), rel=1e-12)
    assert abs(grad @ trade) < 1e-3 * g0**2 * c1
    assert grad[0] == pytest.approx(g0**2 * c1, rel=1e-9)


def test_a_sweeps_metrics_and_its_table_row_say_when_g0_did_not_converge(monkeypatch):
    import pandas as pd

    from nanocell_daq.analysis.iv import iv_metrics, iv_table

    v, i = _flat_valley_sweep()
    assert iv_metrics(v, i).g0_converged
    monkeypatch.setattr(iv_fit, "MAX_NFEV", 15)
    m = iv_metrics(v, i)
    assert not m.g0_converged and "before converging" in m.g0_note
    table = iv_table(pd.DataFrame({"step_id": 3, "pair": "S-D", "voltage_V": v, "current_A": i}))
    assert table["g0_converged"].tolist() == [False] and "before converging" in table["g0_note"].iloc[0]
