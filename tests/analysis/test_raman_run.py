"""analyze_run on Raman steps: the Si reference calibrates the axis, two frames per pixel take a cosmic ray
off the c-Si peak, and a lithiated wire gives "0 of N pixels ...; Xc < x" instead of a mean of noise."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nanocell_daq.analysis.raman import si_model
from nanocell_daq.analysis.run_analysis import analyze_run, spectrometer_noise
from nanocell_daq.storage import Store

TRUE_AXIS = np.linspace(100.0, 1800.0, 1024)
ERROR = 1.1  # the spectrometer's axis reads 1.1 cm-1 high
N = 20


def _spectra(rng, params, n):
    clean = np.clip(si_model(TRUE_AXIS, np.array(params, float)), 0, None)
    return (rng.poisson(np.broadcast_to(clean, (n, TRUE_AXIS.size))) + rng.normal(0, 4.0, (n, 1024))).astype(
        np.float32
    )


@pytest.fixture(scope="module")
def run_db(tmp_path_factory):
    rng = np.random.default_rng(3)
    path = tmp_path_factory.mktemp("raman") / "run.db"
    store = Store.open(path)
    station = {"device": {"chip": "SYN", "wire_position_um": {"start": [0.0, 0.0], "end": [10.0, 0.0]}}}
    run = store.create_run("raman", "steps: []", station=station)
    axis_id = store.add_axis(TRUE_AXIS + ERROR)
    with store.writer(flush_interval=0.05) as w:
        ref = store.start_step(run, 0, "raman_reference", {"frames": 2}, label="Si reference")
        for counts in _spectra(rng, [20000, 520.7, 3.5, 0, 476, 70, 20, 0], 2):
            w.spectrum(ref, -50.0, 20.0, 0.0, 1.0, counts, axis_id, None, 0, 0.0)
        store.end_step(ref)
        # pristine: c-Si at 519.5 (true), two frames per pixel, a cosmic ray on the peak in one frame
        pristine = store.start_step(run, 1, "raman_map", {"frames": 2}, label="pristine")
        frames = _spectra(rng, [1250, 519.5, 4.5, 3000, 476, 70, 15, 0], 2 * N)
        frames[7, int(np.argmin(np.abs(TRUE_AXIS - 521.0)))] += 2000.0  # pixel 3, second frame
        for k, counts in enumerate(frames):
            w.spectrum(pristine, 0.5 * (k // 2), 0.0, 0.0, 1.0, counts, axis_id, None, k // 2, float(k))
        store.end_step(pristine)
        store.end_step(store.start_step(run, 2, "galvanostatic", {"current_A": 1e-11}, label="charge 1"))
        # after charge 1: no c-Si left anywhere, a-Si only
        lithiated = store.start_step(run, 3, "raman_map", {}, label="after charge 1", cycle=1)
        for k, counts in enumerate(_spectra(rng, [0, 519.5, 4.5, 6000, 476, 70, 15, 0], N)):
            w.spectrum(lithiated, 0.5 * k, 0.0, 0.0, 1.0, counts, axis_id, None, k, float(k))
        store.end_step(lithiated)
    store.finish_run(run, "completed")
    store.close()
    with Store.open(path, create=False) as s:
        yield analyze_run(s, run)


def test_the_si_reference_puts_the_c_si_peak_back_where_it_is(run_db):
    a = run_db
    pristine = a.map_summaries[min(a.map_summaries)]
    assert pristine["axis_offset_cm1"] == pytest.approx(-ERROR, abs=0.05)
    assert pristine["c_position_median"] == pytest.approx(519.5, abs=0.1)  # 520.6 without the correction


def test_two_frames_take_the_cosmic_ray_off_the_peak(run_db):
    pixels = run_db.maps[min(run_db.maps)]
    assert len(pixels) == N  # one row per pixel, not per frame
    assert pixels.loc[3, "n_spikes"] >= 1
    assert pixels.loc[3, "c_area"] == pytest.approx(2 * 1250, abs=3 * pixels.loc[3, "c_area_err"])
    assert run_db.map_summaries[min(run_db.maps)]["n_c_significant"] == N
    # the noise of the sum, estimated from the frame differences: read noise of two read-outs, shot noise
    assert pixels.loc[0, "noise_read"] == pytest.approx(4.0 * np.sqrt(2), rel=0.2)
    assert pixels.loc[0, "noise_gain"] == pytest.approx(1.0, rel=0.2)


def test_a_lithiated_map_reports_an_upper_limit_not_a_mean_of_noise(run_db):
    m = run_db.map_summaries[max(run_db.maps)]
    pixels = run_db.maps[max(run_db.maps)]
    # one noise model for the whole map, estimated from all its pixels (Poisson + 4 counts read noise)
    assert pixels["noise_gain"].nunique() == 1 and pixels["noise_read"].nunique() == 1
    assert pixels.loc[0, "noise_gain"] == pytest.approx(1.0, rel=0.25)
    assert m["n_c_significant"] <= 1 and np.isnan(m["xc_mean"]) and np.isnan(m["xc_pooled"])
    assert 0 < m["xc_upper"] < 0.05
    head = f"{m['n_c_significant']} of {N} pixels have a significant c-Si peak; Xc < "
    assert m["xc_text"].startswith(head)
    cp = next(c for c in run_db.checkpoints if c["label"] == "after charge 1")
    assert cp["xc_upper"] == m["xc_upper"] and "Xc <" in cp["xc_text"]
    assert "Xc <0.0" in run_db.summary() and m["xc_text"] in run_db.summary()
    assert json.dumps(cp)  # what the JSON output carries


def test_the_spectrometer_noise_comes_from_the_station_snapshot_where_its_driver_gives_it():
    station = {"instruments": {"spec": {"roles": ["spectrometer", "laser"],
                                        "settings": {"read_noise_counts": 4.0}}}}
    noise = spectrometer_noise(station, accumulations=4)
    assert (noise.gain, noise.read, noise.source) == (1.0, 8.0, "spectrometer")
    assert spectrometer_noise({"instruments": {"spec": {"roles": ["spectrometer"], "settings": {}}}}) is None


def test_the_report_marks_the_upper_limit(run_db):
    import matplotlib.pyplot as plt

    from nanocell_daq.analysis.report import _checkpoint_rows, draw_report

    fig = draw_report(run_db)
    try:
        labels = [line.get_label() for ax in fig.axes for line in ax.get_lines()]
    finally:
        plt.close(fig)
    assert "Xc upper limit (95 %)" in labels
    header, rows = _checkpoint_rows(run_db)
    row = next(r for r in rows if r[0] == "after charge 1")
    assert row[header.index(next(h for h in header if "Xc" in h))].startswith("<0.0")
