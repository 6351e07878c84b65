"""One dark theme for Qt widgets and pyqtgraph plots, so the whole window reads as one instrument."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QGraphicsItem

BACKGROUND = "#1e2127"
PANEL = "#262a31"
BASE = "#1a1d22"
TEXT = "#d7dae0"
MUTED = "#8b93a1"
ACCENT = "#4fa3e0"
GRID_ALPHA = 0.18

# Colours of the traces: E (potential) warm, I (current) cool; status colours for the run.
E_COLOR = "#f0a04b"
I_COLOR = "#4fa3e0"
SPECTRUM_COLOR = "#7bd88f"
PIXEL_COLOR = "#ff6b9a"
STATUS_COLORS = {
    "running": "#4fa3e0",
    "completed": "#7bd88f",
    "aborted": "#f0a04b",
    "failed": "#ff5c5c",
    "interrupted": "#c792ea",
    "paused": "#e5c07b",
    "stale": "#f0a04b",
    "dead": "#ff5c5c",
}


def checkpoint_color(i: int, n: int) -> tuple[int, int, int]:
    """Colour of checkpoint ``i`` of ``n``: early ones cool, late ones warm (a run reads left to right)."""
    cmap = pg.colormap.get("plasma")
    frac = 0.12 + 0.8 * (i / max(n - 1, 1))
    c = cmap.map(frac, mode="qcolor")
    return c.red(), c.green(), c.blue()


def apply_theme(app: QApplication) -> None:
    """Dark Fusion palette for widgets and the matching pyqtgraph defaults."""
    app.setStyle("Fusion")
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: BACKGROUND,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: BASE,
        QPalette.ColorRole.AlternateBase: PANEL,
        QPalette.ColorRole.ToolTipBase: PANEL,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: PANEL,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#101215",
        QPalette.ColorRole.PlaceholderText: MUTED,
    }
    for role, colour in roles.items():
        pal.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(MUTED))
    app.setPalette(pal)
    app.setStyleSheet(
        f"""
        QDockWidget::title {{ background: {PANEL}; padding: 4px 8px; font-weight: bold; }}
        QGroupBox {{ border: 1px solid #3a3f4b; border-radius: 4px; margin-top: 14px; }}
        QGroupBox::title {{ subcontrol-origin: margin; left: 8px; padding: 0 4px; color: {MUTED}; }}
        QTabBar::tab {{ background: {PANEL}; padding: 4px 10px; border: 1px solid #3a3f4b; }}
        QTabBar::tab:selected {{ background: {BASE}; color: {ACCENT}; }}
        QProgressBar {{ border: 1px solid #3a3f4b; text-align: center; background: {BASE}; }}
        QProgressBar::chunk {{ background: {ACCENT}; }}
        QHeaderView::section {{ background: {PANEL}; padding: 3px; border: 0; }}
        QToolBar {{ border: 0; spacing: 6px; }}
        """
    )
    configure_pyqtgraph()


def configure_pyqtgraph() -> None:
    """pyqtgraph defaults matching the palette (antialiasing off: it costs frames at 1M points)."""
    pg.setConfigOptions(background=BASE, foreground=TEXT, antialias=False, imageAxisOrder="row-major")


def style_plot(plot: pg.PlotItem, title: str, x: tuple[str, str | None], y: tuple[str, str | None]) -> None:
    """Title, labelled axes with units (pyqtgraph adds SI prefixes: pA, mV, ...) and a faint grid."""
    plot.setTitle(title, color=TEXT, size="10pt")
    plot.setLabel("bottom", x[0], units=x[1])
    plot.setLabel("left", y[0], units=y[1])
    plot.showGrid(x=True, y=True, alpha=GRID_ALPHA)
    plot.getAxis("left").setWidth(62)
    for name in ("left", "bottom"):  # axes re-render only when their range changes, else a cached pixmap
        plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
