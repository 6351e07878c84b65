"""The one-page report is written as PNG or PDF and refuses what it cannot draw."""

from __future__ import annotations

import pytest

from nanocell_daq.analysis.report import draw_report, write_report
from nanocell_daq.analysis.run_analysis import analyze_run
from nanocell_daq.errors import UserError
from nanocell_daq.storage import Store


@pytest.mark.parametrize("suffix,magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_report_file_is_written(si_run_db, tmp_path, suffix, magic):
    path, run = si_run_db
    out = tmp_path / f"report{suffix}"
    with Store.open(path, create=False) as store:
        write_report(store, run, out)
    data = out.read_bytes()
    assert data.startswith(magic) and len(data) > 50_000


def test_report_has_the_panels_and_title(si_run_db):
    path, run = si_run_db
    with Store.open(path, create=False) as store:
        fig = draw_report(analyze_run(store, run))
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    for panel in (
        "a  Voltage vs capacity",
        "b  I-V at each checkpoint",
        "c  I-V, log scale",
        "d  Conductance and Xc vs checkpoint",
        "f  Xc profile along the wire",
        "g  Checkpoints",
    ):
        assert panel in titles
    assert "SYN-SI-01" in fig._suptitle.get_text() and "completed" in fig._suptitle.get_text()
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_report_needs_png_or_pdf(si_run_db, tmp_path):
    path, run = si_run_db
    with Store.open(path, create=False) as store, pytest.raises(UserError, match=r"\.png or \.pdf"):
        write_report(store, run, tmp_path / "report.jpg")


def test_report_draws_cutoffs_error_bars_and_upper_limits(tmp_path):
    """A run whose discharge overshoots its 2.5 V cut-off and whose wire ends at the noise floor: the E vs Q
    panel has the cut-off lines and the overshoot, G0 has error bars and its last point is an upper limit."""
    import matplotlib.pyplot as plt
    import numpy as np

    store = Store.open(tmp_path / "runs.db")
    run = store.create_run("cut-offs and limits", "steps: []")
    v = np.linspace(-0.5, 0.5, 41)
    rng = np.random.default_rng(0)
    with store.writer(flush_interval=0.05) as w:
        cut = {"v_min_V": 2.5, "v_max_V": 3.95}
        for index, (kind, label, params) in enumerate([
            ("iv", "pristine", {}), ("galvanostatic", "charge 1", {"current_A": 1e-11, **cut}),
            ("iv", "after charge 1", {}), ("galvanostatic", "discharge 1", {"current_A": -1e-11, **cut}),
            ("iv", "after discharge 1", {}),
        ]):
            sid = store.start_step(run, index, kind, params, cycle=1 if index else None, label=label)
            if kind == "iv":
                g = {0: 1e-7, 2: 1e-9, 4: 1e-14}[index]
                for k, x in enumerate(v):
                    w.iv_point(sid, float(x), float(g * x + rng.normal(0, 5e-13)), "up", "S-D", float(k))
            else:
                sign = 1.0 if index == 1 else -1.0
                for k in range(1, 101):
                    e = 3.0 + 0.95 * k / 100 if sign > 0 else 3.9 - 1.6 * k / 100  # discharge to 2.3 V
                    w.cycling_point(sid, 1000.0 * index + 2.0 * k, e, sign * 1e-11, sign * 1e-11 * 2.0 * k)
            store.end_step(sid)
    store.finish_run(run, "completed")
    a = analyze_run(store, run)
    store.close()
    assert not a.checkpoints[-1]["conductance_significant"]
    # the upper limit is in the tables that are exported and stored (checkpoints, time line)
    last = a.checkpoint_table.iloc[-1]
    assert last["conductance_upper_limit_S"] > 0 and not last["conductance_significant"]
    assert a.timeline["conductance_upper_limit_S"].notna().sum() == 1
    assert a.checkpoint_table["conductance_upper_limit_S"].isna().sum() == 2
    assert any("200 mV below its cut-off 2.5 V" in n for n in a.notes)
    fig = draw_report(a)
    axes = {ax.get_title(loc="left"): ax for ax in fig.axes}
    cyc = axes["a  Voltage vs capacity"]
    flat = [ln for ln in cyc.get_lines() if len(set(ln.get_ydata())) == 1]
    assert {float(ln.get_ydata()[0]) for ln in flat} >= {2.5, 3.95}
    assert any("overshoot" in t.get_text() for t in cyc.texts)
    trend = axes["d  Conductance and Xc vs checkpoint"]
    markers = {ln.get_marker() for ln in trend.get_lines()}
    assert "v" in markers and "o" in markers  # an upper limit and measured values
    assert any(len(c.lines[2]) for c in trend.containers)  # error bars
    table_text = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "95 % upper limit" in table_text and "measured capacity" in table_text
    plt.close(fig)
