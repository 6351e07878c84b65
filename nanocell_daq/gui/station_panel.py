"""Station panel: load a station file (or start the simulated one), its instruments, roles, device limits."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nanocell_daq.errors import UserError
from nanocell_daq.gui.theme import MUTED, STATUS_COLORS
from nanocell_daq.viewmodels.sim_server import SimServer
from nanocell_daq.viewmodels.station import StationModel

STATUS = {"ok": STATUS_COLORS["completed"], "error": STATUS_COLORS["failed"], "not checked": MUTED}


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("\n", "<br>")


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class StationPanel(QWidget):
    """View of ``StationModel``; writes the loaded path into ``station_edit`` (the run panel's field).

    ``run_active()`` says whether a run is in progress: the check then refuses to talk to the instruments.
    The simulated bench started here is this window's own: ``shutdown()`` stops it.
    """

    simulated_ready = Signal(str)

    def __init__(
        self,
        station_edit: QLineEdit,
        path: str | None = None,
        model: StationModel | None = None,
        run_active: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__()
        self.model = model or StationModel()
        self.station_edit = station_edit
        self.run_active = run_active
        self.sim: SimServer | None = None
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="station-check")
        self._pending: cf.Future[object] | None = None
        self.title = QLabel("no station loaded")
        self.title.setWordWrap(True)
        self.title.setStyleSheet("font-weight: bold")
        self.load_button = QPushButton("Open station…")
        self.sim_button = QPushButton("Simulated station")
        self.sim_button.setToolTip(
            "Start the emulator bench (`nanocell sim serve`, Si preset, 1000× speed) and load its station;"
            " it stops when this window closes"
        )
        self.check_button = QPushButton("Check instruments")
        self.check_button.setToolTip("Connect, read identities, check roles and wirings; switches nothing on")
        buttons = QHBoxLayout()
        for b in (self.load_button, self.sim_button, self.check_button):
            buttons.addWidget(b)
        self.instruments = _table(["Instrument", "Status", "Roles", "Identity / resource"])
        self.limits = _table(["Device / limit", "Value"])
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(buttons)
        layout.addWidget(self.instruments, 3)
        layout.addWidget(self.summary)
        layout.addWidget(self.limits, 2)

        self.load_button.clicked.connect(self._choose)
        self.sim_button.clicked.connect(self.start_simulated)
        self.check_button.clicked.connect(self.check)
        self.model.loaded.connect(self._loaded)
        self._check_timer = QTimer(self)
        self._check_timer.setInterval(100)
        self._check_timer.timeout.connect(self._poll_check)
        self._sim_timer = QTimer(self)
        self._sim_timer.setInterval(100)
        self._sim_timer.timeout.connect(self._poll_sim)
        if path:
            self.load(path)

    # -- loading ---------------------------------------------------------------------------------------
    def load(self, path: str) -> None:
        """Load a station file; mistakes are shown in the panel, not raised (no modal box)."""
        try:
            self.model.load(path)
        except UserError as exc:
            self._error(str(exc))

    def _error(self, text: str) -> None:
        self.title.setText(f"<span style='color:{STATUS_COLORS['failed']}'>{_html(text)}</span>")

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a station file", "", "YAML (*.yaml *.yml)")
        if path:
            self.load(path)

    # -- the simulated bench ---------------------------------------------------------------------------
    def start_simulated(self) -> None:
        """Start this window's simulated bench (or reload its station if it runs); loads when ready."""
        if self.sim is not None and self.sim.running:
            self.load(str(self.sim.station_path))
            return
        self.sim = SimServer(preset="si", speed=1000.0)
        try:
            self.sim.start()
        except (OSError, UserError) as exc:
            self._error(f"simulated bench: {exc}")
            return
        self.sim_button.setEnabled(False)
        self.title.setText("starting the simulated bench…")
        self._sim_timer.start()

    def _poll_sim(self) -> None:
        if self.sim is None:
            self._sim_timer.stop()
            return
        try:
            path = self.sim.poll()
        except UserError as exc:
            self._sim_timer.stop()
            self.sim_button.setEnabled(True)
            self._error(str(exc))
            return
        if path is None:
            return
        self._sim_timer.stop()
        self.sim_button.setEnabled(True)
        self.load(path)
        self.simulated_ready.emit(path)

    def stop_simulated(self) -> None:
        """Stop this window's simulated bench (a run still using it then fails)."""
        self._sim_timer.stop()
        if self.sim is not None:
            self.sim.stop()
        self.sim = None

    # -- checking --------------------------------------------------------------------------------------
    def check(self) -> None:
        """Check the instruments on a worker thread (an unreachable one waits for its timeout)."""
        if self._pending is not None:
            return
        if self.model.config is None:
            self._set_summary("load a station file first", STATUS_COLORS["failed"])
            return
        if self.run_active():
            self._set_summary(
                "a run is in progress: the check would talk to its instruments — wait for it to end",
                STATUS_COLORS["paused"],
            )
            return
        self.check_button.setEnabled(False)
        self.check_button.setText("checking…")
        self._set_summary("connecting to every instrument…", MUTED)
        self._pending = self._pool.submit(self.model.check)
        self._check_timer.start()

    def wait_check(self, timeout_s: float = 60.0) -> None:
        """Block until a running check ends and show it (tests)."""
        if self._pending is not None:
            cf.wait([self._pending], timeout=timeout_s)
        self._poll_check()

    def _poll_check(self) -> None:
        if self._pending is None or not self._pending.done():
            return
        self._check_timer.stop()
        future, self._pending = self._pending, None
        self.check_button.setEnabled(True)
        self.check_button.setText("Check instruments")
        try:
            future.result()
        except Exception as exc:  # noqa: BLE001 - shown to the user; the GUI goes on
            self._set_summary(f"check failed: {type(exc).__name__}: {exc}", STATUS_COLORS["failed"])
            return
        self._show()
        summary = self.model.summary
        failed = self.model.failed() + (summary.problems if summary else [])
        failed += [f"wiring {w}: {d}" for w, ok, d in (summary.wirings if summary else []) if not ok]
        if failed:
            self._set_summary("not ready:\n" + "\n".join(failed), STATUS_COLORS["failed"])
        else:
            self._set_summary("station ready: every instrument answered, roles and wirings ok",
                              STATUS_COLORS["completed"])

    def _set_summary(self, text: str, color: str) -> None:
        self.summary.setText(f"<span style='color:{color}'>{_html(text)}</span>")

    # -- model -> view ---------------------------------------------------------------------------------
    def _loaded(self, path: str) -> None:
        self.station_edit.setText(path)
        own = self.sim is not None and path == str(self.sim.station_path)
        speed = f" · simulated, {self.model.speed:g}× speed" if self.model.speed != 1 else ""
        pid = f" (pid {self.sim.process.pid})" if own and self.sim and self.sim.process else ""
        self.title.setText(_html(f"{self.model.name}{speed}{pid}"))
        self.title.setToolTip(path)
        self.summary.setText("")
        self._show()

    def _show(self) -> None:
        self.instruments.setRowCount(len(self.model.instruments))
        for r, row in enumerate(self.model.instruments):
            short = row.problem.split(":")[0] if row.problem else row.status  # "unreachable", "wrong ..."
            status = QTableWidgetItem(short if row.status == "error" else row.status)
            status.setForeground(QColor(STATUS.get(row.status, MUTED)))
            status.setToolTip(row.problem or row.status)
            cells = [
                QTableWidgetItem(row.name),
                status,
                QTableWidgetItem(", ".join(row.roles)),
                QTableWidgetItem(row.identity or row.resource),
            ]
            cells[0].setToolTip(f"driver {row.driver}")
            cells[3].setToolTip(row.resource)
            for c, item in enumerate(cells):
                self.instruments.setItem(r, c, item)
        rows = list(self.model.limits)
        summary = self.model.summary
        if summary is not None:
            rows += [(f"wiring {w}", "ok" if ok else d) for w, ok, d in summary.wirings]
        self.limits.setRowCount(len(rows))
        for r, (k, v) in enumerate(rows):
            self.limits.setItem(r, 0, QTableWidgetItem(k))
            self.limits.setItem(r, 1, QTableWidgetItem(v))

    def shutdown(self) -> None:
        """Stop the check thread and this window's simulated bench."""
        self._check_timer.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.stop_simulated()
