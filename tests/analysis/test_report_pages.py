"""The PDF report's pages after the summary, c-Si intensity relative to pristine, mAh/g from geometry."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from nanocell_daq.analysis.band_intensity import ratio
from nanocell_daq.analysis.report import write_report
from nanocell_daq.analysis.report_pages import capacity_rows, draw_pages, maps_pages
from nanocell_daq.analysis.run_analysis import analyze_run
from nanocell_daq.storage import Store
from tests.analysis.runs import CAPACITY_C, _galvanostatic
from tests.analysis.synthetic import raman_spectrum


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


def _close(figs) -> None:
    import matplotlib.pyplot as plt

    for f in figs:
        plt.close(f)


def test_pdf_is_the_summary_then_maps_spectra_timeline_and_conductance(si_run_db, tmp_path):
    path, run = si_run_db
    with Store.open(path, create=False) as store:
        pdf = write_report(store, run, tmp_path / "r.pdf").read_bytes()
        png = write_report(store, run, tmp_path / "r.png").read_bytes()
        a = analyze_run(store, run)
        figs = draw_pages(a, store)
    titles = [f._suptitle.get_text().splitlines()[-1] for f in figs]
    _close(figs)
    # summary + maps (3 checkpoints fit one page) + spectra + time line + conductance + provenance
    assert _pages(pdf) == 6
    assert titles[0].startswith("Raman maps per checkpoint") and titles[1].startswith("Mean on-wire spectrum")
    assert titles[2] == "Time line (engine clock)" and titles[3].startswith("Conductance per segment")
    assert png.startswith(b"\x89PNG")  # a PNG stays the one-page summary


def _map_step(store, w, run, index, label, areas, axis, axis_id, rng, n_pixels=6):
    cycle = 1 if index else None
    step = store.start_step(run, index, "raman_map", {"mode": "line"}, cycle=cycle, label=label)
    grid = store.add_map_grid(run, 100.0, 200.0, 2.0, 1.0, n_pixels, 1, step_id=step, label=label)
    for p in range(n_pixels):
        _, counts = raman_spectrum(rng, areas[0], areas[1], axis=axis)
        x = 100.0 + 2.0 * p
        w.spectrum(step, x, 200.0, 0.0, 1.0, counts.astype(np.float32), axis_id, grid, p, float(p))
    store.end_step(step)


@pytest.fixture(scope="module")
def lithiated(tmp_path_factory):
    """Maps of a wire whose core is consumed while the lithiated phase has no band: the a-Si band shrinks
    more than the c-Si band after the charge (Xc rises), and the last map has no c-Si at all."""
    path = tmp_path_factory.mktemp("lith") / "runs.db"
    store = Store.open(path)
    dims = {"core_diameter_nm": 60.0, "shell_thickness_nm": 20.0, "length_um": 10.0}
    dev = store.add_device("LITH-01", "Si/a-Si core/shell nanowire", materials={"wire": "Si/a-Si"},
                           dimensions=dims, extra={"nominal_capacity_Ah": 6e-13})
    run = store.create_run("lithiation", "steps: []", device_id=dev)
    axis = np.linspace(300.0, 700.0, 400)
    axis_id = store.add_axis(axis)
    rng = np.random.default_rng(3)
    with store.writer(flush_interval=0.05) as w:
        _map_step(store, w, run, 0, "pristine", (15000.0, 4000.0), axis, axis_id, rng)
        t = _galvanostatic(store, w, run, 1, "charge 1", 1, +1.0, 0.0)
        _map_step(store, w, run, 2, "after charge 1", (6000.0, 300.0), axis, axis_id, rng)
        _galvanostatic(store, w, run, 3, "charge 2", 1, +1.0, t + 10.0)
        _map_step(store, w, run, 4, "after charge 2", (0.0, 300.0), axis, axis_id, rng)
    store.finish_run(run, "completed")
    a = analyze_run(store, run)
    store.close()
    return a


def test_c_si_intensity_falls_where_xc_rises(lithiated):
    cps = {c["label"]: c for c in lithiated.checkpoints}
    pristine, charged, empty = cps["pristine"], cps["after charge 1"], cps["after charge 2"]
    assert charged["xc_pooled"] > pristine["xc_pooled"] + 0.05  # Xc misleads: it rises
    assert pristine["csi_norm"] == 1.0 and pristine["csi_norm_err"] == 0.0
    # 6000 / 15000 = 0.4 within 3 sigma; the error is a real one
    assert 0 < charged["csi_norm_err"] < 0.05
    assert abs(charged["csi_norm"] - 0.4) < 3 * charged["csi_norm_err"]
    assert math.isnan(charged["csi_norm_upper"])
    assert 0 < empty["csi_norm_upper"] < 0.1  # no c-Si left: an upper limit, one-sided 95 %
    one_sided_95 = max(empty["csi_norm"], 0.0) + 1.645 * empty["csi_norm_err"]
    assert empty["csi_norm_upper"] == pytest.approx(one_sided_95)
    text = lithiated.summary()
    assert f"c-Si intensity / pristine {charged['csi_norm']:.3f} ± {charged['csi_norm_err']:.3f}" in text
    assert f"c-Si intensity / pristine < {empty['csi_norm_upper']:.3f} (95 %)" in text
    figs = maps_pages(lithiated)
    trend = next(ax for ax in figs[0].axes if ax.get_title(loc="left") == "mean band intensity / pristine")
    assert "v" in {ln.get_marker() for ln in trend.get_lines()}  # the upper limit
    assert any(len(c.lines[2]) for c in trend.containers)  # error bars
    _close(figs)


def test_the_ratio_error_matches_the_scatter_of_ratios():
    """Both means' errors enter: the 1-sigma error of a/b is the standard deviation of simulated ratios."""
    rng = np.random.default_rng(7)
    num, den = (6.0, 0.3), (15.0, 0.6)
    value, err = ratio(num, den)
    draws = rng.normal(num[0], num[1], 20000) / rng.normal(den[0], den[1], 20000)
    assert value == pytest.approx(0.4)
    assert err == pytest.approx(draws.std(), rel=0.03)


def test_capacity_per_mass_and_li_per_si_from_the_stored_geometry(lithiated):
    mass = 2.33 * math.pi * (100e-7 / 2) ** 2 * 10e-4  # g: whole wire d = 60 + 2·20 nm, L = 10 µm
    expected = CAPACITY_C / 3.6 / mass  # mAh/g
    li_per_si = CAPACITY_C / 96485.332 / (mass / 28.086)
    geo = lithiated.geometry
    assert geo is not None and geo.material == "Si"
    assert geo.mass_g == pytest.approx(mass, rel=1e-9)
    h = lithiated.half_cycles[0]
    assert geo.mAh_per_g(h["capacity_C"]) == pytest.approx(expected, rel=1e-3)
    assert geo.li_per_host(h["capacity_C"]) == pytest.approx(li_per_si, rel=1e-3)
    # 3579 mAh/g is Li15Si4 = 3.75 Li per Si (domain notes 1.2)
    assert geo.li_per_host(3579.0 * 3.6 * mass) == pytest.approx(3.75, rel=2e-3)
    header, rows = capacity_rows(lithiated)
    assert rows[0][header.index("mAh/g")] == f"{expected:.0f}"
    assert f"{expected:.0f} mAh/g" in lithiated.summary()
    figs = draw_pages(lithiated)
    title = figs[0]._suptitle.get_text()
    _close(figs)
    assert "Si wire d 100 nm × 10 µm" in title and "rate 8.3C" in title  # 5 pA on 0.6 pAh nominal


def test_time_line_and_segments_mark_upper_limits_and_error_bars(tmp_path):
    """The wire ends at the noise floor: G0 of the last checkpoint is an upper limit on the time line and on
    the per-segment panel, the measured ones have error bars; checkpoints sit at their engine times."""
    store = Store.open(tmp_path / "runs.db")
    run = store.create_run("limits", "steps: []")
    v = np.linspace(-0.5, 0.5, 41)
    rng = np.random.default_rng(0)
    with store.writer(flush_interval=0.05) as w:
        steps = [("iv", "pristine", 1e-7), ("galvanostatic", "charge 1", None),
                 ("iv", "after charge 1", 1e-14)]
        for index, (kind, label, g) in enumerate(steps):
            sid = store.start_step(run, index, kind, {}, cycle=1 if index else None, label=label)
            if g is not None:
                for k, x in enumerate(v):
                    w.iv_point(sid, float(x), float(g * x + rng.normal(0, 5e-13)), "up", "S-D", float(k))
            else:
                for k in range(1, 51):
                    w.cycling_point(sid, 100.0 + 2.0 * k, 3.0 + 0.01 * k, 1e-11, 2e-11 * k)
            store.end_step(sid)
    store.finish_run(run, "completed")
    a = analyze_run(store, run)
    store.close()
    figs = draw_pages(a)
    axes = {ax.get_title(loc="left"): ax for f in figs for ax in f.axes}
    segments = axes["G0 per contact pair (segment)"]
    trend = next(ax for ax in figs[0].axes if ax.get_yscale() == "log")
    for ax in (segments, trend):
        assert "v" in {ln.get_marker() for ln in ax.get_lines()}  # the upper limit
        assert any(len(c.lines[2]) for c in ax.containers)  # error bars on the measured G0
    lines = figs[0].axes[0].get_lines()
    marks = sorted({float(ln.get_xdata()[0]) for ln in lines if ln.get_linestyle() == "--"})
    assert marks == pytest.approx([102.0, 200.0])  # engine s: the first sample, the last before the probe
    _close(figs)


def test_the_summary_page_carries_the_runs_provenance(si_run_db):
    from nanocell_daq.analysis.report import draw_provenance_page, draw_report
    from nanocell_daq.provenance import report_lines

    path, run = si_run_db
    with Store.open(path, create=False) as store:
        lines = report_lines(store, run, {"parameters": {"y": 0.8, "version": 9}})
        a = analyze_run(store, run)
    assert lines[0].startswith("software: nanocell-daq ") and any(x.startswith("protocol: ") for x in lines)
    assert lines[-1].startswith("analysis: version 9; y=0.8")
    fig, page = draw_report(a, lines), draw_provenance_page(lines)
    footer = [t.get_text() for t in fig.texts if t.get_text().startswith("software: nanocell-daq")]
    shown = "\n".join(t.get_text() for t in page.texts)
    _close([fig, page])
    assert footer and "protocol: " in footer[0]
    assert all(line[:60] in shown for line in lines)


def test_checkpoint_and_step_times_are_on_the_data_engine_clock(si_run_db):
    """One time base: a checkpoint's and a step's time_s is the engine-clock time of its first data (the
    ``t_s`` of its rows), not wall-clock seconds."""
    path, run = si_run_db
    with Store.open(path, create=False) as store:
        a = analyze_run(store, run)
        times = store.step_times(run)
    assert times and all(first <= last for first, last in times.values())
    for c in a.checkpoints:
        assert c["time_s"] == pytest.approx(min(times[s][0] for s in c["step_ids"] if s in times))
    for r in a.steps.itertuples():
        assert r.time_s == pytest.approx(times[r.step_id][0]) if r.step_id in times else np.isnan(r.time_s)
