"""Export and report buttons of the run browser: thin calls into ``nanocell_daq.analysis``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from nanocell_daq.storage import Store


def _find(names: tuple[str, ...]) -> Callable[..., Any] | None:
    """The first of ``module:function`` names the analysis package offers."""
    for name in names:
        module, func = name.split(":")
        try:
            fn = getattr(importlib.import_module(module), func, None)
        except ImportError:
            continue
        if fn is not None:
            return fn
    return None


EXPORTERS = ("nanocell_daq.analysis.export:export_run", "nanocell_daq.analysis:export_run")
REPORTERS = (
    "nanocell_daq.analysis.report:report_run",
    "nanocell_daq.analysis.report:make_report",
    "nanocell_daq.analysis:report_run",
)


def export_run(parent: QWidget, store: Store | None, run_id: int) -> None:
    """Ask for a folder and export the run (CSV + HDF5) there."""
    fn = _find(EXPORTERS)
    if fn is None or store is None:
        QMessageBox.information(parent, "Export", "The analysis package offers no export yet.")
        return
    folder = QFileDialog.getExistingDirectory(parent, f"Export run {run_id} to folder")
    if folder:
        try:
            result = fn(store, run_id, folder)
        except Exception as exc:  # noqa: BLE001 - shown to the user; the GUI goes on
            QMessageBox.warning(parent, "Export failed", f"{type(exc).__name__}: {exc}")
            return
        QMessageBox.information(parent, "Export", f"Run {run_id} exported:\n{result or folder}")


def report_run(parent: QWidget, store: Store | None, run_id: int) -> None:
    """Ask for a file name and write the run's one-page report there."""
    fn = _find(REPORTERS)
    if fn is None or store is None:
        QMessageBox.information(parent, "Report", "The analysis package offers no report yet.")
        return
    path, _ = QFileDialog.getSaveFileName(
        parent, f"Report of run {run_id}", f"run-{run_id}-report.png", "Images (*.png *.pdf *.svg)"
    )
    if path:
        try:
            result = fn(store, run_id, path)
        except Exception as exc:  # noqa: BLE001 - shown to the user; the GUI goes on
            QMessageBox.warning(parent, "Report failed", f"{type(exc).__name__}: {exc}")
            return
        QMessageBox.information(parent, "Report", f"Report written: {result or path}")
