"""Start the GUI: one QApplication, the theme, the main window over a database."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from nanocell_daq.gui.main_window import MainWindow
from nanocell_daq.gui.theme import apply_theme
from nanocell_daq.storage import Store


def default_db() -> str:
    """``$NANOCELL_DB`` or ``./nanocell-runs.db``."""
    return os.environ.get("NANOCELL_DB", str(Path.cwd() / "nanocell-runs.db"))


def make_app() -> QApplication:
    """The QApplication (reused if one exists), themed."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("nanocell-daq")
    apply_theme(app)  # type: ignore[arg-type]
    return app  # type: ignore[return-value]


def run_gui(
    db: str | None = None,
    station: str | None = None,
    protocol: str | None = None,
    screenshot: str | None = None,
    quit_after_s: float | None = None,
    device: str | None = None,
) -> int:
    """Open the main window; returns the exit code. ``screenshot``: save a PNG after ``quit_after_s``."""
    from PySide6.QtCore import QTimer

    app = make_app()
    db = db or default_db()
    store = Store.open(db)
    window = MainWindow(store, db, station=station, protocol=protocol)
    if device:
        window.run_panel.device.setText(device)
    window.show()
    if quit_after_s is not None:

        def finish() -> None:
            if screenshot:
                window.save_screenshot(screenshot)
            window.close()
            app.quit()

        QTimer.singleShot(int(quit_after_s * 1000), finish)
    code = app.exec()
    window.station_panel.shutdown()  # the window's own simulated bench stops with it, however it ended
    window.deleteLater()  # tear the widgets down while Qt still runs, not during interpreter finalization
    app.processEvents()
    store.close()
    return int(code)
