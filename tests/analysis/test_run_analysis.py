"""analyze_run on a stored run: checkpoints, half-cycles, trends, stored results, cache, bad input."""

from __future__ import annotations

import math

import pytest

from nanocell_daq.analysis.run_analysis import KIND_MAP_FIT, KIND_SUMMARY, AnalysisParams, analyze_run
from nanocell_daq.errors import UserError
from nanocell_daq.storage import Store
from tests.analysis.runs import CAPACITY_C, build_empty_run, build_running_run


def test_checkpoints_show_the_conductance_drop_and_xc_fall(si_run_db):
    path, run = si_run_db
    with Store.open(path, create=False) as store:
        a = analyze_run(store, run, y=0.8)
    assert [c["label"] for c in a.checkpoints] == ["pristine", "after charge 1", "after cycle 1"]
    g = [c["conductance_S"] for c in a.checkpoints]
    assert g[0] == pytest.approx(1e-6, rel=0.01)
    assert g[0] / g[2] > 100  # > 2 decades after one cycle
    assert a.checkpoints[0]["nonlinearity"] == pytest.approx(1.0, abs=0.05)
    assert a.checkpoints[2]["nonlinearity"] > 2
    xc = [c["xc_mean"] for c in a.checkpoints]
    assert xc[0] > xc[1] > xc[2]
    assert xc[0] > 0.7 and xc[2] < 0.15
    # state of charge: these steps have no voltage cut-off, so no half-cycle ran cut-off to cut-off and the
    # nominal capacity is the reference (said in the definition); back to ~0 after the discharge
    soc = [c["soc"] for c in a.checkpoints]
    assert soc[0] == pytest.approx(0.0)
    assert soc[1] == pytest.approx(CAPACITY_C / (6e-13 * 3600), rel=0.01)
    assert abs(soc[2]) < 1e-6
    assert "/ nominal capacity" in a.soc_definition and a.soc_definition in a.summary()


def test_half_cycles_and_cycle_table(si_run_db):
    path, run = si_run_db
    with Store.open(path, create=False) as store:
        a = analyze_run(store, run)
    assert [(h["cycle"], h["direction"]) for h in a.half_cycles] == [(1, "charge"), (1, "discharge")]
    assert a.half_cycles[0]["capacity_Ah"] == pytest.approx(CAPACITY_C / 3600, rel=1e-3)
    assert a.cycle_table.loc[0, "coulombic_efficiency"] == pytest.approx(1.0, rel=1e-3)
    assert not a.dqdv.empty
    assert "after cycle 1" in a.summary()


def test_results_are_stored_and_the_map_fits_cached(si_run_db):
    path, run = si_run_db
    with Store.open(path, create=False) as store:
        analyze_run(store, run, use_cache=False)
        again = analyze_run(store, run, y=0.8)
        assert again.maps_refitted == 0
        other_y = analyze_run(store, run, y=0.3)
        assert other_y.maps_refitted == 0  # Xc follows y from the stored areas
        assert other_y.checkpoints[1]["xc_mean"] > again.checkpoints[1]["xc_mean"]
        other_window = analyze_run(store, run, params=AnalysisParams(fit_window_cm1=(390.0, 590.0)))
        assert other_window.maps_refitted == 3
        assert store.get_derived(run, KIND_SUMMARY, AnalysisParams(y=0.3).key()) is not None
        assert len(store.derived(run, KIND_MAP_FIT)) == 6
        stored = store.get_derived(run, KIND_SUMMARY, AnalysisParams().key())
    assert stored["checkpoints"][0]["label"] == "pristine"
    assert all(
        v is None or math.isfinite(v)
        for c in stored["checkpoints"]
        for v in (c["conductance_S"], c["xc_mean"])
    )


def test_unknown_run_names_the_database(si_run_db):
    path, _ = si_run_db
    with (
        Store.open(path, create=False) as store,
        pytest.raises(UserError, match=r"no run 99 .*runs in it: 1"),
    ):
        analyze_run(store, 99)


@pytest.mark.parametrize("with_step", [True, False])
def test_empty_run_is_refused(tmp_path, with_step):
    run = build_empty_run(tmp_path / "e.db", with_step=with_step)
    with (
        Store.open(tmp_path / "e.db", create=False) as store,
        pytest.raises(UserError, match="nothing to analyse"),
    ):
        analyze_run(store, run)


def test_running_run_is_analysed_with_a_warning(tmp_path):
    run = build_running_run(tmp_path / "r.db")
    with Store.open(tmp_path / "r.db", create=False) as store:
        a = analyze_run(store, run)
    assert any("still running" in w for w in a.warnings)
    assert a.checkpoints[0]["conductance_S"] == pytest.approx(1e-6, rel=1e-3)


def test_the_cosmic_ray_in_a_map_is_removed(si_run_db):
    path, run = si_run_db
    with Store.open(path, create=False) as store:
        a = analyze_run(store, run)
    for pixels in a.maps.values():
        assert pixels.loc[2, "n_spikes"] >= 1
        assert pixels["n_spikes"].sum() == pixels.loc[2, "n_spikes"]
