"""The probe-station main window: live plots in the centre; station, protocol, run control, runs in docks."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QWidget

from nanocell_daq.errors import UserError
from nanocell_daq.gui.analysis_actions import AnalysisActions
from nanocell_daq.gui.live_plots import LivePlotsWidget
from nanocell_daq.gui.poller import RunPoller
from nanocell_daq.gui.run_browser_view import RunBrowserView
from nanocell_daq.gui.run_control_panel import RunControlPanel
from nanocell_daq.gui.run_queue_panel import RunQueuePanel
from nanocell_daq.gui.theme import MUTED, STATUS_COLORS
from nanocell_daq.storage import Store
from nanocell_daq.storage.location import redact
from nanocell_daq.viewmodels import LiveRunModel, RunBrowserModel, RunControlModel
from nanocell_daq.viewmodels.live_fit_map import LiveFitMap
from nanocell_daq.viewmodels.run_queue import RunQueueModel


class MainWindow(QMainWindow):
    """Builds the models for one database and the views over them; owns no instrument and no run."""

    def __init__(
        self,
        store: Store | None,
        db_path: str | None,
        *,
        station: str | None = None,
        protocol: str | None = None,
        interval_ms: int = 100,
        reattach: bool = True,
    ) -> None:
        super().__init__()
        self.store = store
        self.db_path = db_path
        self.setWindowTitle("nanocell-daq — probe station")
        self.resize(1600, 980)

        self.live = LiveRunModel(store)
        self.live.map.attach_fits(LiveFitMap())  # map pixels fitted in a worker process as they arrive
        self.control = RunControlModel(store, db_path)
        self.browser = RunBrowserModel(store)
        self.queue = RunQueueModel(store)
        self.analysis = AnalysisActions(self, lambda: self.store)

        self.plots = LivePlotsWidget(self.live)
        self.setCentralWidget(self.plots)
        self.run_panel = RunControlPanel(self.control, self.live)
        self.browser_view = RunBrowserView(self.browser, self.export_run, self.report_run)
        self.station_panel, self.protocol_panel = self._side_panels(station, protocol)

        self.docks: dict[str, QDockWidget] = {}
        self._dock("Station", self.station_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Protocol", self.protocol_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tabifyDockWidget(self.docks["Station"], self.docks["Protocol"])
        self._dock("Run control", self.run_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Runs", self.browser_view, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.queue_panel = RunQueuePanel(
            self.queue, self.run_panel.protocol, self.run_panel.station, self.run_panel.device
        )
        self._dock("Queue", self.queue_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.docks["Runs"], self.docks["Queue"])
        self.docks["Runs"].raise_()
        self.resizeDocks(
            [self.docks["Station"], self.docks["Run control"]], [470, 470], Qt.Orientation.Vertical
        )
        self.resizeDocks([self.docks["Run control"]], [430], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["Runs"]], [170], Qt.Orientation.Vertical)
        self.docks["Station"].raise_()

        self.status_run = QLabel("")
        self.status_db = QLabel(f"database: {redact(db_path) if db_path else '(none)'}")
        self.status_db.setStyleSheet(f"color: {MUTED}")
        self.statusBar().addWidget(self.status_run)
        self.statusBar().addPermanentWidget(self.status_db)
        self._menus()

        self.control.attached.connect(self.live.set_run)
        self.browser_view.open_run.connect(self.control.attach)
        self.live.status_changed.connect(self._show_status)
        self.live.run_changed.connect(lambda _: self._show_status(self.live.status))
        self.live.cycling_changed.connect(lambda _: self._show_status(self.live.status))

        self.poller = RunPoller(
            self.live, self.plots.schedule_refresh, interval_ms, draw_now=self.plots.refresh
        )
        self.poller.error.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.slow = QTimer(self)
        self.slow.setInterval(1000)
        self.slow.timeout.connect(self._slow_tick)
        if station:
            self.run_panel.station.setText(station)
        if protocol:
            self.run_panel.protocol.setText(protocol)
        self.browser.refresh()
        if reattach and store is not None and self.control.reattach() is None and self.browser.rows:
            self.control.attach(self.browser.rows[0].summary.id)  # nothing running: show the latest run
        self.poller.start()
        self.slow.start()

    # -- building --------------------------------------------------------------------------------------
    def _side_panels(self, station: str | None, protocol: str | None) -> tuple[QWidget, QWidget]:
        from nanocell_daq.gui.protocol_editor import ProtocolEditorPanel
        from nanocell_daq.gui.station_panel import StationPanel

        station_panel = StationPanel(
            self.run_panel.station, station, run_active=lambda: self.live.status == "running"
        )
        station_panel.model.db = self.db_path  # a check is refused while a run of it uses the station
        self.station_model = station_panel.model
        protocol_panel = ProtocolEditorPanel(self.run_panel.protocol, self.run_panel.station, protocol)
        return station_panel, protocol_panel

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        self.docks[title] = dock
        return dock

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for text, slot, key in (
            ("Open &database…", self.open_database_dialog, QKeySequence.StandardKey.Open),
            ("Save &screenshot…", self.save_screenshot_dialog, None),
            ("&Quit (runs keep going)", self.close, QKeySequence.StandardKey.Quit),
        ):
            action = QAction(text, self)
            action.triggered.connect(slot)
            if key is not None:
                action.setShortcut(key)
            file_menu.addAction(action)
        view = self.menuBar().addMenu("&View")
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        sim = self.menuBar().addMenu("&Simulation")
        action = QAction("Start &simulated station", self)
        action.triggered.connect(self.station_panel.start_simulated)
        sim.addAction(action)

    # -- actions ---------------------------------------------------------------------------------------
    def open_database(self, path: str) -> None:
        """Show another database (created if it does not exist)."""
        store = Store.open(path)
        if self.store is not None:
            self.store.close()
        self.store, self.db_path = store, path
        self.control.store, self.control.db_path = store, path
        self.station_model.db = path
        self.live.set_store(store)
        self.browser.set_store(store)
        self.queue.set_store(store)
        self.status_db.setText(f"database: {store.location.shown}")
        if self.control.reattach() is None and self.browser.rows:
            self.control.attach(self.browser.rows[0].summary.id)

    def open_database_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Open or create a run database",
            self.db_path or "",
            "SQLite (*.db *.sqlite);;All files (*)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if path:
            try:
                self.open_database(path)
            except UserError as exc:
                QMessageBox.warning(self, "Cannot open the database", str(exc))

    def save_screenshot(self, path: str | Path) -> Path:
        """Render the window to a PNG."""
        path = Path(path)
        self.grab().save(str(path))
        return path

    def save_screenshot_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save a screenshot", "nanocell-gui.png", "PNG (*.png)")
        if path:
            self.save_screenshot(path)

    def export_run(self, run_id: int) -> None:
        """Export a run's tables (HDF5 file or CSV folder) with the analysis package."""
        self.analysis.export_run(run_id)

    def report_run(self, run_id: int) -> None:
        """Write a run's one-page report (PNG/PDF) with the analysis package."""
        self.analysis.report_run(run_id)

    # -- periodic --------------------------------------------------------------------------------------
    def _slow_tick(self) -> None:
        try:
            self.browser.refresh()
            self.queue.refresh()
            self.control.check()
        except Exception as exc:  # noqa: BLE001 - shown to the user; the GUI goes on
            self.statusBar().showMessage(f"database busy: {exc}", 5000)

    def _show_status(self, status: str) -> None:
        run_id = self.live.run_id
        if run_id is None:
            self.status_run.setText("no run shown")
            return
        color = STATUS_COLORS.get(status, MUTED)
        self.status_run.setText(
            f"run {run_id}: <span style='color:{color}'>{status}</span>"
            f" · {self.live.n_points:,} cycling points"
            f" · {self.live.n_spectra:,} spectra"
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop polling and this window's simulated bench; a run started from here keeps going (own process).

        A run on the window's own simulated bench cannot outlive it: the user is asked first.
        """
        sim = self.station_panel.sim
        if sim is not None and sim.running and self.live.status == "running" and self.isVisible():
            answer = QMessageBox.question(
                self,
                "Stop the simulated bench?",
                f"Run {self.live.run_id} is still running, perhaps on this window's simulated bench, which"
                " stops when the window closes (the run would then fail). Close anyway?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.slow.stop()
        self.poller.stop()
        if self.live.map.fits is not None:
            self.live.map.fits.close()  # pending fits are dropped, the worker process stops
        self.analysis.shutdown()
        self.station_panel.shutdown()
        super().closeEvent(event)
