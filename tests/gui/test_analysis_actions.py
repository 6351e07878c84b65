"""Export… and Report… of the run browser write real files through the analysis package (dialogs faked)."""

from __future__ import annotations

import h5py
import pytest

from nanocell_daq.viewmodels.demo import write_demo_run


@pytest.fixture
def win(qt_ok, qtbot, store, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from nanocell_daq.gui.app import make_app
    from nanocell_daq.gui.main_window import MainWindow

    make_app()
    boxes: list[tuple[str, str]] = []
    for kind in ("information", "warning"):
        monkeypatch.setattr(
            QMessageBox, kind, staticmethod(lambda _p, title, text, k=kind: boxes.append((k, text)))
        )
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a: QMessageBox.StandardButton.Yes))
    w = MainWindow(store, str(tmp_path / "runs.db"), interval_ms=50)
    w.boxes = boxes
    qtbot.addWidget(w)
    yield w
    w.close()


def _save_as(monkeypatch, path, chosen_filter: str = "") -> None:
    from PySide6.QtWidgets import QFileDialog

    answer = (str(path), chosen_filter)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: answer))


def _select_run(win, run_id: int) -> None:
    win.browser.refresh()
    row = [r.summary.id for r in win.browser.rows].index(run_id)
    win.browser_view.table.selectRow(row)


def test_export_button_writes_an_hdf5_file_of_the_selected_run(win, store, tmp_path, monkeypatch) -> None:
    from nanocell_daq.gui.analysis_actions import HDF5_FILTER

    run = write_demo_run(store, cycles=1, points_per_half=60, map_nx=4, map_ny=2)
    write_demo_run(store, cycles=1, points_per_half=10, map_nx=2, map_ny=1, seed=1)  # not the selected one
    _select_run(win, run)
    _save_as(monkeypatch, tmp_path / "out", HDF5_FILTER)  # no suffix typed: .h5 is added
    win.browser_view.export_button.click()
    win.analysis.wait()
    assert win.boxes and win.boxes[-1][0] == "information", win.boxes
    with h5py.File(tmp_path / "out.h5") as f:
        assert len(f["cycling_points"]["t_s"]) == 120


def test_export_as_csv_folder_and_report_as_png(win, store, tmp_path, monkeypatch) -> None:
    from nanocell_daq.gui.analysis_actions import CSV_FILTER

    run = write_demo_run(store, cycles=1, points_per_half=60, map_nx=4, map_ny=2)
    _select_run(win, run)
    _save_as(monkeypatch, tmp_path / "csv", CSV_FILTER)
    win.browser_view.export_button.click()
    win.analysis.wait()
    assert (tmp_path / "csv" / "cycling_points.csv").is_file(), win.boxes
    _save_as(monkeypatch, tmp_path / "report.png", "PNG image (*.png)")
    win.browser_view.report_button.click()
    win.analysis.wait()
    assert win.boxes[-1][0] == "information", win.boxes
    assert (tmp_path / "report.png").stat().st_size > 20_000


def test_a_failed_report_is_shown_in_a_message_box(win, store, tmp_path, monkeypatch) -> None:
    run = write_demo_run(store, cycles=1, points_per_half=20, map_nx=2, map_ny=1)
    _select_run(win, run)
    _save_as(monkeypatch, tmp_path / "missing-folder" / "r.png", "PNG image (*.png)")
    win.browser_view.report_button.click()
    win.analysis.wait()
    kind, text = win.boxes[-1]
    assert kind == "warning" and "does not exist" in text
