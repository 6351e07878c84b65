"""The run queue panel: the queue's entries, adding the protocol and station of Run control for a device,
hold / release / cancel. ``nanocell queue run`` works through it (a shell or a service, not the GUI)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
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
from nanocell_daq.viewmodels.run_queue import COLUMNS, RunQueueModel


class RunQueuePanel(QWidget):
    """Shows a :class:`RunQueueModel`; ``protocol``/``station``/``device`` are Run control's fields."""

    def __init__(
        self, model: RunQueueModel, protocol: QLineEdit, station: QLineEdit, device: QLineEdit
    ) -> None:
        super().__init__()
        self.model = model
        self.protocol, self.station, self.device = protocol, station, device
        self.sets = QLineEdit(placeholderText="NAME=VALUE ... (protocol parameters)")
        self.stop_on_failure = QCheckBox("stop the queue if this run does not complete")
        self.add_button = QPushButton("Add to queue")
        self.add_button.setToolTip("Plan Run control's protocol on its station and device now, then queue it")
        form = QFormLayout()
        form.addRow("Set", self.sets)
        form.addRow("", self.stop_on_failure)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QHBoxLayout()
        self.action_buttons = {}
        buttons.addWidget(self.add_button)
        for action in ("hold", "release", "cancel"):
            button = QPushButton(action.capitalize())
            button.clicked.connect(lambda _=False, a=action: self._act(a))
            self.action_buttons[action] = button
            buttons.addWidget(button)
        hint = QLabel("run it unattended with: nanocell queue run --station FILE --db DB")
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(hint)
        self.add_button.clicked.connect(self.add)
        model.changed.connect(self._show)
        self._show()

    def add(self) -> None:
        try:
            self.model.add(self.protocol.text().strip(), self.station.text().strip(),
                           self.device.text().strip() or None, self.sets.text(),
                           self.stop_on_failure.isChecked())
        except UserError as exc:
            QMessageBox.warning(self, "Not added to the queue", str(exc))

    def _selected(self) -> list[int]:
        picked = {index.row() for index in self.table.selectionModel().selectedRows()}
        return [self.model.rows[row].entry.id for row in sorted(picked) if row < len(self.model.rows)]

    def _act(self, action: str) -> None:
        refused = self.model.act(self._selected(), action)
        if refused:
            QMessageBox.information(self, f"Queue: {action}", "; ".join(refused))

    def _show(self) -> None:
        self.table.setRowCount(len(self.model.rows))
        for r, row in enumerate(self.model.rows):
            for c, text in enumerate(row.cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
