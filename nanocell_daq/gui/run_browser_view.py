"""The run browser: a table of the database's runs; open one in the live plots, export it, make its report."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from nanocell_daq.gui.theme import STATUS_COLORS
from nanocell_daq.viewmodels.run_browser import COLUMNS, RunBrowserModel

Index = QModelIndex | QPersistentModelIndex


class RunTableModel(QAbstractTableModel):
    """Qt adapter of ``RunBrowserModel`` (rows newest first)."""

    def __init__(self, model: RunBrowserModel) -> None:
        super().__init__()
        self.model = model
        model.changed.connect(self._reset)

    def _reset(self) -> None:
        self.beginResetModel()
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.model.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        row = self.model.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.cells[index.column()]
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 1:
            return QColor(STATUS_COLORS.get(row.summary.status, "#d7dae0"))
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"run {row.summary.id} ({row.summary.uuid})"
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None


class RunBrowserView(QWidget):
    """Table + buttons; ``open_run(run_id)`` when a run is double-clicked or "Open" pressed."""

    open_run = Signal(int)

    def __init__(
        self, model: RunBrowserModel, export: Callable[[int], None], report: Callable[[int], None]
    ) -> None:
        super().__init__()
        self.model = model
        self.table = QTableView()
        self.table.setModel(RunTableModel(model))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda idx: self.open_run.emit(model.rows[idx.row()].summary.id))
        self.open_button = QPushButton("Open in plots")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("CSV and HDF5 of every table of the run (analysis module)")
        self.report_button = QPushButton("Report…")
        self.report_button.setToolTip("One-page report figure of the run (analysis module)")
        self.refresh_button = QPushButton("Refresh")
        buttons = QHBoxLayout()
        for b in (self.open_button, self.export_button, self.report_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.open_button.clicked.connect(lambda: self._with_selected(self.open_run.emit))
        self.export_button.clicked.connect(lambda: self._with_selected(export))
        self.report_button.clicked.connect(lambda: self._with_selected(report))
        self.refresh_button.clicked.connect(model.refresh)

    def selected_run(self) -> int | None:
        """Id of the selected run, if any."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.rows[rows[0].row()].summary.id if rows else None

    def _with_selected(self, action: Callable[[int], None]) -> None:
        run_id = self.selected_run()
        if run_id is not None:
            action(run_id)
