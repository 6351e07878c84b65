"""Run control: start a protocol on a station, pause/resume/abort, resume a dead run, progress, the log."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from nanocell_daq.errors import UserError
from nanocell_daq.gui.theme import MUTED, STATUS_COLORS
from nanocell_daq.storage import EventInfo, Progress
from nanocell_daq.viewmodels import LiveRunModel, RunControlModel
from nanocell_daq.viewmodels.run_control import is_resumable
from nanocell_daq.viewmodels.run_progress import progress_view

LEVEL_COLORS = {"debug": MUTED, "info": "#d7dae0", "warning": "#e5c07b", "error": "#ff5c5c"}
QUICK_EXIT_S = 30.0
"""An engine process failing this soon after launch refused to start (s): its message is shown in a box."""


def _path_row(edit: QLineEdit, caption: str, pattern: str) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    browse = QToolButton(text="…")
    browse.setToolTip(f"Choose the {caption}")

    def choose() -> None:
        path, _ = QFileDialog.getOpenFileName(edit, f"Choose the {caption}", edit.text(), pattern)
        if path:
            edit.setText(path)

    browse.clicked.connect(choose)
    row.addWidget(browse)
    return row


class RunControlPanel(QWidget):
    """Buttons and read-outs of ``RunControlModel`` + the followed ``LiveRunModel``."""

    def __init__(self, control: RunControlModel, live: LiveRunModel) -> None:
        super().__init__()
        self.control = control
        self.live = live
        self.protocol = QLineEdit(placeholderText="protocol YAML")
        self.station = QLineEdit(placeholderText="station YAML")
        self.device = QLineEdit(placeholderText="device of the chip (a station file with devices:)")
        form = QFormLayout()
        form.addRow("Protocol", _path_row(self.protocol, "protocol file", "YAML (*.yaml *.yml)"))
        form.addRow("Station", _path_row(self.station, "station file", "YAML (*.yaml *.yml)"))
        form.addRow("Device", self.device)

        style = self.style()
        self.start_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "Start")
        self.start_button.setToolTip(
            "Start `nanocell run` as its own process: closing this window never stops it"
        )
        self.pause_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaPause), "Pause")
        resume_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaSkipForward)
        self.resume_button = QPushButton(resume_icon, "Resume")
        self.abort_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaStop), "Abort")
        self.resume_button.setToolTip("Continue a paused run (the engine acts between points)")
        self.abort_button.setStyleSheet("QPushButton:enabled { color: #ff7070; }")
        self.resume_run_button = QPushButton(
            style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "Resume run"
        )
        self.resume_run_button.setToolTip(
            "Continue an interrupted or aborted run, or one whose engine died, with `nanocell resume`"
            " as its own process (on the Station file above, or the run's stored station if empty)"
        )
        buttons = QHBoxLayout()
        for b in (
            self.start_button,
            self.pause_button,
            self.resume_button,
            self.abort_button,
            self.resume_run_button,
        ):
            buttons.addWidget(b)
        self.error_box: QMessageBox | None = None

        self.run_label = QLabel("no run")
        self.run_label.setTextFormat(Qt.TextFormat.RichText)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("idle")
        self.step_label = QLabel("")
        self.step_label.setStyleSheet(f"color: {MUTED}")
        self.step_label.setWordWrap(True)
        self.log_view = QPlainTextEdit(readOnly=True)
        self.log_view.setMaximumBlockCount(5000)
        self.log_view.setPlaceholderText("the run's log appears here")
        self.log_view.setMinimumHeight(90)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.run_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.step_label)
        layout.addWidget(self.log_view, 1)

        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(lambda: self._request("pause"))
        self.resume_button.clicked.connect(lambda: self._request("resume"))
        self.abort_button.clicked.connect(self._abort)
        self.resume_run_button.clicked.connect(self.resume_run)
        live.run_changed.connect(self._run_changed)
        live.status_changed.connect(self._status_changed)
        live.progress_changed.connect(self._progress_changed)
        live.events_added.connect(self._events_added)
        live.stale_changed.connect(lambda _since: self._status_changed(self.live.status))
        control.message.connect(self._message)
        control.process_ended.connect(self._process_ended)
        self._update_buttons()

    # -- actions ---------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the chosen protocol on the chosen station (errors shown, never raised into Qt)."""
        try:
            device = self.device.text().strip()
            extra = ["--device", device] if device else []
            self.control.start(self.protocol.text().strip(), self.station.text().strip(), extra)
        except UserError as exc:
            QMessageBox.warning(self, "Cannot start the run", str(exc))
            return
        self.progress.setFormat("starting…")
        self._update_buttons()

    def resume_run(self) -> None:
        """Ask, then continue the shown run with ``nanocell resume`` (errors shown, never raised into Qt)."""
        run_id = self.control.run_id
        if run_id is None or not self._resumable():
            return
        station = self.station.text().strip()
        on = f"station file {station}" if station else "the station stored with the run"
        answer = QMessageBox.question(
            self,
            "Resume the run?",
            f"Resume run {run_id} ({self.live.status}) on {on}? The engine re-checks the cell's OCV, then"
            " continues the interrupted step and runs the rest.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self.control.resume_run(run_id, station or None)
        except UserError as exc:
            QMessageBox.warning(self, f"Cannot resume run {run_id}", str(exc))
            return
        self.progress.setFormat("resuming…")
        self._update_buttons()

    def _request(self, action: str) -> None:
        try:
            self.control.request(action)
        except UserError as exc:
            QMessageBox.warning(self, f"Cannot {action}", str(exc))

    def _abort(self) -> None:
        if self.control.run_id is None:
            return
        answer = QMessageBox.question(
            self,
            "Abort the run?",
            f"Abort run {self.control.run_id}? The engine stops after the current point"
            " and turns every output off.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._request("abort")

    # -- model -> view ---------------------------------------------------------------------------------
    def _resumable(self) -> bool:
        """The shown run is interrupted, aborted or dead, and no engine started here is still running."""
        launched = self.control.process is not None
        free = self.live.lease_free
        return self.control.run_id is not None and not launched and is_resumable(self.live.status, free)

    def _update_buttons(self) -> None:
        running = self.live.status == "running"
        attached = self.control.run_id is not None
        launched = self.control.process is not None
        self.start_button.setEnabled(not running and not launched)
        for b in (self.pause_button, self.resume_button, self.abort_button):
            b.setEnabled(attached and running)
        self.resume_run_button.setEnabled(self._resumable())

    def _run_changed(self, run_id: int | None) -> None:
        self.log_view.clear()
        self.step_label.setText("")
        self._status_changed(self.live.status)
        if run_id is None:
            self.progress.setValue(0)
            self.progress.setFormat("idle")

    def _status_changed(self, status: str) -> None:
        run_id = self.live.run_id
        if run_id is None:
            self.run_label.setText("no run")
        else:
            status = self.live.shown_status  # a running run's liveness: running, paused, stale or dead
            color = STATUS_COLORS.get(status, MUTED)
            reason = f" — {self.live.reason}" if self.live.reason else ""
            since = self.live.stale_since
            if since is not None:
                reason = (
                    f" — <span style='color:{STATUS_COLORS['failed']}'>engine not responding since "
                    f"{since.astimezone():%Y-%m-%d %H:%M:%S}</span>"
                )
            self.run_label.setText(
                f"<b>Run {run_id}</b>: <span style='color:{color}'>{status or '…'}</span>{reason}"
            )
        self._show_progress()
        self._update_buttons()

    def _show_progress(self) -> None:
        view = progress_view(self.live.shown_status, self.live.reason, self.live.progress)
        self.progress.setValue(round(1000 * view.fraction))
        # Qt substitutes %p %v %m in the format and knows no escape: a zero-width space keeps a reason literal
        self.progress.setFormat(re.sub(r"%(?=[pvm])", "%\u200b", view.text))
        self.progress.setToolTip(self.live.reason or "")

    def _progress_changed(self, p: Progress) -> None:
        self._show_progress()
        self.step_label.setText(p.step_label)

    def _events_added(self, events: list[EventInfo]) -> None:
        lines = []
        for e in events:
            color = LEVEL_COLORS.get(e.level, MUTED)
            when = e.time.astimezone().strftime("%H:%M:%S")
            text = e.message.replace("&", "&amp;").replace("<", "&lt;")
            lines.append(
                f"<span style='color:{MUTED}'>{when}</span> <span style='color:{color}'>"
                f"{e.level.upper():7s} {text}</span>"
            )
        self.log_view.appendHtml("<br>".join(lines))
        self.log_view.moveCursor(QTextCursor.MoveOperation.End)

    def _message(self, text: str) -> None:
        self.log_view.appendHtml(f"<span style='color:{MUTED}'>[gui] {text.replace('<', '&lt;')}</span>")
        self._update_buttons()

    def _process_ended(self, code: int, tail: str) -> None:
        kind = self.control.ended_kind or "run"
        if code != 0:
            last = "\n".join(tail.strip().splitlines()[-12:])
            self.log_view.appendPlainText(f"[gui] {kind} process exit code {code}:\n{last}")
            ran_for = self.control.ran_for_s
            if ran_for is not None and ran_for < QUICK_EXIT_S:
                self._show_error(kind, code, last)
        self._update_buttons()

    def _show_error(self, kind: str, code: int, text: str) -> None:
        """A non-modal box: the engine refused (e.g. `nanocell resume` of a live run); polling goes on."""
        if self.error_box is not None:
            self.error_box.close()
        what = "resume the run" if kind == "resume" else "start the run"
        box = QMessageBox(QMessageBox.Icon.Warning, f"Could not {what}", "", parent=self)
        box.setText(f"`nanocell {kind}` ended at once with exit code {code}:\n\n{text or '(no output)'}")
        box.setModal(False)
        box.show()
        self.error_box = box
