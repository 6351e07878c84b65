"""Export and report of a run from the run browser: a file dialog, then the analysis off the GUI thread.

``export_run`` (CSV folder or HDF5 file) and ``write_report`` (one-page PNG/PDF) analyse the whole run, which
takes seconds for a long one, so they run on a worker thread while the live plots keep drawing; the result
or the error (a ``UserError`` says what to change) is shown in a message box.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from nanocell_daq.errors import UserError
from nanocell_daq.storage import Store

HDF5_FILTER = "HDF5 file (*.h5 *.hdf5)"
CSV_FILTER = "CSV folder, one file per table (*)"
REPORT_FILTERS = "PNG image (*.png);;PDF document (*.pdf)"


class AnalysisActions(QObject):
    """Runs one export/report at a time; ``done(title, text, ok)`` when it ends (after the message box)."""

    done = Signal(str, str, bool)

    def __init__(self, parent: QWidget, store: Callable[[], Store | None]) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.store = store
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="analysis")
        self._job: tuple[str, cf.Future[Any], Callable[[Any], str]] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._poll)

    @property
    def busy(self) -> bool:
        """An export or report is being written."""
        return self._job is not None

    # -- actions ---------------------------------------------------------------------------------------
    def export_run(self, run_id: int) -> None:
        """Ask for an HDF5 file or a CSV folder, then export every table of the run there."""
        store = self._ready()
        if store is None:
            return
        path, chosen = QFileDialog.getSaveFileName(
            self.parent_widget, f"Export run {run_id}", f"run-{run_id}.h5", f"{HDF5_FILTER};;{CSV_FILTER}"
        )
        if not path:
            return
        fmt = "csv" if chosen == CSV_FILTER else "hdf5"
        if fmt == "hdf5" and Path(path).suffix.lower() not in (".h5", ".hdf5"):
            path += ".h5"
        partial = self._partial(store, run_id, "export")
        if partial is None:
            return
        from nanocell_daq.analysis.export import export_run

        def describe(files: list[Path]) -> str:
            if fmt == "csv":
                return f"Run {run_id} exported as {len(files)} CSV files in\n{path}"
            return f"Run {run_id} exported to\n{files[0] if files else path}"

        self._submit(
            f"Export of run {run_id}",
            lambda: export_run(store, run_id, fmt, path, allow_running=partial),
            describe,
        )

    def report_run(self, run_id: int) -> None:
        """Ask for a PNG or PDF file name, then write the run's one-page report there."""
        store = self._ready()
        if store is None:
            return
        path, chosen = QFileDialog.getSaveFileName(
            self.parent_widget, f"Report of run {run_id}", f"run-{run_id}-report.png", REPORT_FILTERS
        )
        if not path:
            return
        if not Path(path).suffix:
            path += ".pdf" if chosen.startswith("PDF") else ".png"
        partial = self._partial(store, run_id, "report")
        if partial is None:
            return
        from nanocell_daq.analysis.report import write_report

        self._submit(
            f"Report of run {run_id}",
            lambda: write_report(store, run_id, path, allow_running=partial),
            lambda out: f"Report of run {run_id} written to\n{out}",
        )

    # -- plumbing --------------------------------------------------------------------------------------
    def _ready(self) -> Store | None:
        store = self.store()
        if store is None:
            QMessageBox.warning(self.parent_widget, "No database", "Open a run database first.")
            return None
        if self._job is not None:
            QMessageBox.information(self.parent_widget, "Busy", f"{self._job[0]} is still being written.")
            return None
        return store

    def _partial(self, store: Store, run_id: int, what: str) -> bool | None:
        """False for a finished run; for a running one, ask: True (write what is there so far) or None."""
        if store.run(run_id).status != "running":
            return False
        answer = QMessageBox.question(
            self.parent_widget,
            f"Run {run_id} is still running",
            f"Run {run_id} is still running: the {what} would hold only the data recorded so far. Go on?",
        )
        return True if answer == QMessageBox.StandardButton.Yes else None

    def _submit(self, title: str, job: Callable[[], Any], describe: Callable[[Any], str]) -> None:
        self._job = (title, self._pool.submit(job), describe)
        self.parent_widget.setCursor(Qt.CursorShape.BusyCursor)
        self._timer.start()

    def wait(self, timeout_s: float = 120.0) -> None:
        """Block until the job in flight ends and report it (tests)."""
        if self._job is not None:
            cf.wait([self._job[1]], timeout=timeout_s)
        self._poll()

    def _poll(self) -> None:
        if self._job is None or not self._job[1].done():
            return
        self._timer.stop()
        (title, future, describe), self._job = self._job, None
        self.parent_widget.unsetCursor()
        try:
            result = future.result()
        except UserError as exc:
            self._tell(title, f"{title} failed:\n{exc}", ok=False)
        except Exception as exc:  # noqa: BLE001 - shown to the user; the GUI goes on
            self._tell(title, f"{title} failed:\n{type(exc).__name__}: {exc}", ok=False)
        else:
            self._tell(title, describe(result), ok=True)

    def _tell(self, title: str, text: str, ok: bool) -> None:
        if ok:
            QMessageBox.information(self.parent_widget, title, text)
        else:
            QMessageBox.warning(self.parent_widget, title, text)
        self.done.emit(title, text, ok)

    def shutdown(self) -> None:
        """Let a job in flight finish in the background; accept no more."""
        self._timer.stop()
        self._pool.shutdown(wait=False)

