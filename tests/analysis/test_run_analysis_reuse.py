"""Derived results reused by ``analyze_run``: the same numbers as a fresh analysis, nothing refitted on a
second call, a change of parameters or new data recomputing what depends on it; the cycling read step by step
equals the whole-run table; points thinned for plots keep the metrics exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nanocell_daq.analysis import run_analysis
from nanocell_daq.analysis.cycling import (
    dqdv_table,
    half_cycle_table,
    half_cycles_from_points,
    merge_attempts,
)
from nanocell_daq.analysis.run_analysis import AnalysisParams, analyze_run
from nanocell_daq.storage import Store
from nanocell_daq.storage.attempts import attempt_groups
from tests.analysis.runs import build_run


@pytest.fixture()
def store(tmp_path):
    path, _run = build_run(tmp_path / "runs.db", n_pixels=8)
    with Store.open(path, create=False) as s:
        yield s


def _same(a, b) -> None:
    """Two analyses agree on every number a user sees."""
    pd.testing.assert_frame_equal(a.half_cycle_table, b.half_cycle_table)
    pd.testing.assert_frame_equal(a.cycle_table, b.cycle_table)
    pd.testing.assert_frame_equal(a.dqdv, b.dqdv)
    pd.testing.assert_frame_equal(a.iv_table, b.iv_table)
    pd.testing.assert_frame_equal(a.timeline, b.timeline)
    pd.testing.assert_frame_equal(a.cycling_points, b.cycling_points)
    assert a.maps.keys() == b.maps.keys()
    for sid in a.maps:
        pd.testing.assert_frame_equal(a.maps[sid], b.maps[sid])
    assert a.summary() == b.summary()
    pd.testing.assert_frame_equal(a.checkpoint_table, b.checkpoint_table)


def test_a_second_analysis_reuses_every_fit_and_gives_the_same_numbers(store):
    fresh = analyze_run(store, 1, use_cache=False)
    assert fresh.reuse.reused == {}
    assert fresh.reuse.computed["spectra_fitted"] == 3 * 8  # 3 maps of 8 pixels
    assert fresh.reuse.computed["iv_sweeps_fitted"] == len(fresh.iv_table) > 0
    again = analyze_run(store, 1)  # the whole result, stored with its inputs' fingerprint
    assert dict(again.reuse.computed) == {}
    assert again.reuse.reused == {"run_analysis_result": 1}
    assert again.maps_refitted == 0
    _same(fresh, again)
    store.clear_derived(1, "run_analysis_result")
    parts = analyze_run(store, 1)  # rebuilt from the per-part results: map fits, I-V fits, cycling summary
    assert dict(parts.reuse.computed) == {}
    assert parts.reuse.reused == {"cycling_summary": 1, "iv_fit": 3, "raman_map_fit": 3}
    _same(fresh, parts)


def test_a_parameter_change_recomputes_what_depends_on_it(store):
    analyze_run(store, 1)
    g0 = analyze_run(store, 1, params=AnalysisParams(g0_window_V=0.08))
    assert g0.reuse.computed["iv_fit"] == 3 and g0.reuse.reused["raman_map_fit"] == 3
    window = analyze_run(store, 1, params=AnalysisParams(fit_window_cm1=(390.0, 590.0)))
    assert window.reuse.computed["spectra_fitted"] == 24 and window.reuse.reused["iv_fit"] == 3
    dqdv = analyze_run(store, 1, params=AnalysisParams(dqdv_bin_V=0.01))
    assert dqdv.reuse.computed == {"cycling_summary": 1}
    y = analyze_run(store, 1, params=AnalysisParams(y=0.5))  # Xc from the stored areas: no refit
    assert dict(y.reuse.computed) == {}
    assert not np.allclose(y.maps[next(iter(y.maps))]["xc"].dropna(),
                           window.maps[next(iter(window.maps))]["xc"].dropna())


def test_new_data_recomputes_the_summary_of_its_kind(store):
    before = analyze_run(store, 1)
    rest = next(s for s in store.steps(1) if s.kind == "rest")
    with store.writer() as w:  # more points in a step that exists: only the data's extent changes
        for k in range(4):
            w.cycling_point(rest.id, 1e6 + k, 3.0, 0.0, 0.0)
    after = analyze_run(store, 1)
    assert after.reuse.computed == {"cycling_summary": 1}
    assert after.n_cycling_points == len(store.cycling(1)) == before.n_cycling_points + 4


def test_cycling_read_step_by_step_equals_the_whole_run_table(store):
    a = analyze_run(store, 1, use_cache=False)
    data = store.cycling(1)
    steps = store.steps(1)
    meta = pd.DataFrame([{"step_id": s.id, "kind": s.kind, "label": s.label, "cycle": s.cycle}
                         for s in steps])
    pts = pd.DataFrame({"step_id": data.step_id, "t_s": data.t, "voltage_V": data.E, "current_A": data.I,
                        "charge_C": data.Q}).merge(meta, on="step_id", how="left")
    pts = pts[pts["kind"] == "galvanostatic"].assign(cycle=lambda f: f["cycle"].fillna(0).astype(int))
    cutoffs = run_analysis._cutoffs(steps)
    groups = attempt_groups(steps)
    hcs = merge_attempts(half_cycles_from_points(pts, cutoffs=cutoffs), groups)
    pd.testing.assert_frame_equal(half_cycle_table(hcs), a.half_cycle_table)
    pd.testing.assert_frame_equal(dqdv_table(pts, hcs, group_of=groups), a.dqdv, check_dtype=False)
    assert a.n_cycling_points == len(data) == len(a.cycling_points)


def test_points_thinned_for_plots_keep_the_metrics(store, monkeypatch):
    full = analyze_run(store, 1, use_cache=False)
    monkeypatch.setattr(run_analysis, "MAX_PLOT_POINTS", 20)
    monkeypatch.setattr(run_analysis, "MIN_PLOT_POINTS_PER_STEP", 10)
    thin = analyze_run(store, 1)
    assert thin.reuse.computed["cycling_summary"] == 1  # another thinning: another cached summary
    assert thin.n_cycling_points == full.n_cycling_points > len(thin.cycling_points)
    pd.testing.assert_frame_equal(thin.half_cycle_table, full.half_cycle_table)
    pd.testing.assert_frame_equal(thin.dqdv, full.dqdv)
    for sid, seg in full.cycling_points.groupby("step_id"):
        kept = thin.cycling_points[thin.cycling_points["step_id"] == sid]
        assert len(kept) <= max(10, len(seg)) + 2
        assert kept["t_s"].iloc[0] == seg["t_s"].iloc[0] and kept["t_s"].iloc[-1] == seg["t_s"].iloc[-1]
        exact = seg.set_index("t_s")["charge_curve_C"]
        assert np.allclose(kept["charge_curve_C"], exact.loc[kept["t_s"]].to_numpy())  # full-data curve


def test_a_stored_result_gives_the_steps_times_without_an_aggregate_over_the_data(store, monkeypatch):
    fresh = analyze_run(store, 1)
    monkeypatch.setattr(type(store), "step_times", lambda *a: pytest.fail("step times read from the data"))
    again = analyze_run(store, 1)
    assert again.reuse.reused == {"run_analysis_result": 1}
    assert fresh.steps["time_s"].notna().sum() > 3
    pd.testing.assert_frame_equal(again.steps, fresh.steps)
