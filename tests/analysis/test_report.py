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
