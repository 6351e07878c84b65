"""Raman maps fitted in a worker process (``map_workers``): the same pixels as in the analysis' own process,
the maps shared between the two, a dead worker's maps fitted by the caller; where an analysis spent its time
(``reuse.part_s`` / ``part_cpu_s``)."""

from __future__ import annotations

import pandas as pd
import pytest

from nanocell_daq.analysis.map_pool import MapPool
from nanocell_daq.analysis.run_analysis import AnalysisParams, analyze_run, fit_map_step
from nanocell_daq.storage import Store
from tests.analysis.runs import build_run


@pytest.fixture()
def store(tmp_path):
    path, _run = build_run(tmp_path / "runs.db", n_pixels=8)
    with Store.open(path, create=False) as s:
        yield s


def _map_steps(store) -> list[int]:
    return [s.id for s in store.steps(1) if s.kind == "raman_map"]


def test_maps_fitted_in_a_worker_are_the_pixels_fitted_here(store):
    here = analyze_run(store, 1, use_cache=False, save=False, map_workers=0)
    there = analyze_run(store, 1, use_cache=False, save=False, map_workers=1)
    assert "maps_fitted_by_worker" not in here.reuse.computed
    assert there.reuse.computed["maps_fitted_by_worker"] >= 1  # it starts with the last map: never idle
    assert there.reuse.worker_peak_rss_mb > 50 and here.reuse.worker_peak_rss_mb == 0  # numpy: tens of MB
    assert there.reuse.computed["spectra_fitted"] == here.reuse.computed["spectra_fitted"] == 24
    assert here.maps.keys() == there.maps.keys() and len(here.maps) == 3
    for sid in here.maps:
        pd.testing.assert_frame_equal(here.maps[sid], there.maps[sid], check_exact=True)
    assert here.summary() == there.summary()


def test_the_caller_fits_the_maps_the_worker_was_not_given_or_did_not_return(store):
    steps = _map_steps(store)
    params = AnalysisParams()
    local = {sid: fit_map_step(store, 1, sid, params) for sid in steps}
    calls: list[int] = []

    def here(sid: int):
        calls.append(sid)
        return local[sid]

    with MapPool(store, 1, fit_map_step, [(sid, (params, None)) for sid in steps]) as pool:
        first = pool.value(steps[0], lambda: here(steps[0]))  # the worker starts from the last map
        rest = [pool.value(sid, lambda sid=sid: here(sid)) for sid in steps[1:]]
    assert calls[:1] == [steps[0]] and pool.from_worker >= 1 and pool.worker_cpu_s > 0
    assert [first, *rest] == [local[sid] for sid in steps]

    with MapPool(store, 1, fit_map_step, [(sid, (params, None)) for sid in steps]) as dead:
        dead._proc.kill()  # out of memory, killed by the user...
        got = [dead.value(sid, lambda sid=sid: local[sid]) for sid in steps]
    assert got == [local[sid] for sid in steps]


def test_an_analysis_says_where_its_time_went(store):
    fresh = analyze_run(store, 1, use_cache=False)
    parts, cpu = fresh.reuse.part_s, fresh.reuse.part_cpu_s
    assert set(parts) == set(cpu) == {"cycling", "iv", "raman", "rest", "total"}
    assert all(v >= 0 for v in parts.values()) and parts["raman"] > 0 and parts["iv"] > 0
    assert sum(parts[k] for k in ("cycling", "iv", "raman", "rest")) == pytest.approx(parts["total"])
    assert fresh.reuse.as_dict()["parts_s"].keys() == parts.keys()
    again = analyze_run(store, 1)  # the stored whole result: nothing but the total and the rest
    assert again.reuse.part_s["total"] == pytest.approx(again.reuse.part_s["rest"])
    assert "raman" not in again.reuse.part_s and "raman" not in again.reuse.part_cpu_s
