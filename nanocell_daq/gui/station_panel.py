"""Station panel: load a station file (or start the simulated one), its instruments, roles, device limits."""

from __future__ import annotations

import concurrent.futures as cf

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nanocell_daq.errors import UserError
from nanocell_daq.gui.theme import MUTED
from nanocell_daq.viewmodels.station import StationModel

STATUS = {"ok": "#7bd88f", "error": "#ff5c5c", "not checked": MUTED}


class StationPanel(QWidget):
    """View of ``StationModel``; writes the loaded path into ``station_edit`` (the run panel's field)."""

    def __init__(
        self, station_edit: QLineEdit, path: str | None = None, model: StationModel | None = None
    ) -> None:
        super().__init__()
        self.model = model or StationModel()
        self.station_edit = station_edit
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="station-check")
        self._pending: cf.Future[object] | None = None
        self.title = QLabel("no station loaded")
        self.title.setWordWrap(True)
        self.title.setStyleSheet("font-weight: bold")
        self.load_button = QPushButton("Open station…")
        self.sim_button = QPushButton("Simulated station")
        self.sim_button.setToolTip("Start the emulator bench (`nanocell sim serve`, Si preset, 1000× speed)")
        self.check_button = QPushButton("Check instruments")
        buttons = QHBoxLayout()
        for b in (self.load_button, self.sim_button, self.check_button):
            buttons.addWidget(b)
        self.instruments = QTableWidget(0, 4)
        self.instruments.setHorizontalHeaderLabels(["Instrument", "Roles", "Status", "Identity / resource"])
        self.instruments.verticalHeader().setVisible(False)
        self.instruments.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.instruments.horizontalHeader().setStretchLastSection(True)
        self.limits = QTableWidget(0, 2)
        self.limits.setHorizontalHeaderLabels(["Device / limit", "Value"])
        self.limits.verticalHeader().setVisible(False)
        self.limits.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.limits.horizontalHeader().setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(buttons)
        layout.addWidget(self.instruments, 3)
        layout.addWidget(self.limits, 2)

        self.load_button.clicked.connect(self._choose)
        self.sim_button.clicked.connect(self.start_simulated)
        self.check_button.clicked.connect(self.check)
        self.model.loaded.connect(self._loaded)
        self.model.checked.connect(self._show)
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._poll_check)
        if path:
            self.load(path)

    def load(self, path: str) -> None:
        """Load a station file; mistakes are shown, not raised."""
        try:
            self.model.load(path)
        except UserError as exc:  # shown in the panel: a modal box would block a scripted start
            self.title.setText(f"<span style='color:#ff7070'>{str(exc).replace('<', '&lt;')}</span>")

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a station file", "", "YAML (*.yaml *.yml)")
        if path:
            self.load(path)

    def start_simulated(self) -> None:
        """Start the simulated bench and load its station."""
        self.title.setText("starting the simulated bench…")
        self.repaint()
        try:
            self.model.start_simulated()
        except UserError as exc:
            QMessageBox.warning(self, "Simulated station", str(exc))
            self.title.setText("no station loaded")

    def check(self) -> None:
        """Check the instruments on a worker thread (connecting can take seconds)."""
        if self._pending is not None:
            return
        self.check_button.setEnabled(False)
        self.check_button.setText("checking…")
        self._pending = self._pool.submit(self.model.check)
        self._timer.start()

    def _poll_check(self) -> None:
        if self._pending is None or not self._pending.done():
            return
        self._timer.stop()
        future, self._pending = self._pending, None
        self.check_button.setEnabled(True)
        self.check_button.setText("Check instruments")
        try:
            future.result()
        except Exception as exc:  # noqa: BLE001 - shown to the user; the GUI goes on
            QMessageBox.warning(self, "Instrument check", str(exc))
        self._show()

    def _loaded(self, path: str) -> None:
        self.station_edit.setText(path)
        speed = f" · simulated, {self.model.speed:g}× speed" if self.model.speed != 1 else ""
        self.title.setText(f"{self.model.name}{speed}")
        self.title.setToolTip(path)
        self._show()

    def _show(self) -> None:
        self.instruments.setRowCount(len(self.model.instruments))
        for r, row in enumerate(self.model.instruments):
            status = QTableWidgetItem(row.status)
            status.setForeground(QColor(STATUS.get(row.status, MUTED)))
            cells = [
                QTableWidgetItem(f"{row.name} ({row.driver})"),
                QTableWidgetItem(", ".join(row.roles)),
                status,
                QTableWidgetItem(row.identity or row.resource),
            ]
            for c, item in enumerate(cells):
                self.instruments.setItem(r, c, item)
        self.limits.setRowCount(len(self.model.limits))
        for r, (k, v) in enumerate(self.model.limits):
            self.limits.setItem(r, 0, QTableWidgetItem(k))
            self.limits.setItem(r, 1, QTableWidgetItem(v))

    def shutdown(self) -> None:
        """Stop the check thread (the simulated bench keeps serving a run that may still use it)."""
        self._timer.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
