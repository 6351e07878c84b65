"""Protocol editor: the steps as a tree, a form per step from its Parameters, the YAML, validation and ETA."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nanocell_daq.errors import UserError
from nanocell_daq.gui.theme import MUTED
from nanocell_daq.viewmodels.protocol_editor import FieldSpec, ProtocolEditorModel, TreeNode
from nanocell_daq.viewmodels.run_browser import format_duration


class ProtocolEditorPanel(QWidget):
    """View of ``ProtocolEditorModel``; keeps the run panel's protocol field on the file being edited."""

    def __init__(
        self,
        protocol_edit: QLineEdit,
        station_edit: QLineEdit,
        path: str | None = None,
        model: ProtocolEditorModel | None = None,
    ) -> None:
        super().__init__()
        self.model = model or ProtocolEditorModel()
        self.protocol_edit = protocol_edit
        self.station_edit = station_edit
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Step", "line"])
        self.tree.setColumnWidth(0, 250)
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form_host)
        self.yaml = QPlainTextEdit()
        self.yaml.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.yaml.setStyleSheet("font-family: monospace")
        tabs = QTabWidget()
        form_page = QSplitter(Qt.Orientation.Vertical)
        form_page.addWidget(self.tree)
        form_page.addWidget(scroll)
        tabs.addTab(form_page, "Steps")
        tabs.addTab(self.yaml, "YAML")
        self.result = QLabel("open a protocol, then Validate")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        self.open_button, self.save_button, self.validate_button = (
            QPushButton("Open…"),
            QPushButton("Save"),
            QPushButton("Validate"),
        )
        for b in (self.open_button, self.save_button, self.validate_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(tabs, 1)
        layout.addWidget(self.result)

        self.open_button.clicked.connect(self._choose)
        self.save_button.clicked.connect(self.save)
        self.validate_button.clicked.connect(self.validate)
        self.tree.currentItemChanged.connect(lambda item, _: self._show_form(item))
        self.yaml.textChanged.connect(self._yaml_edited)
        self.model.text_changed.connect(self._text_changed)
        self.model.validated.connect(self._validated)
        self._syncing = False
        if path:
            self.open(path)

    # -- file ------------------------------------------------------------------------------------------
    def open(self, path: str) -> None:
        """Open a protocol file (mistakes shown, not raised) and validate it."""
        try:
            self.model.open(path)
        except UserError as exc:  # shown in the panel: a modal box would block a scripted start
            self.result.setText(f"<span style='color:#ff7070'>{str(exc).replace('<', '&lt;')}</span>")
            return
        self.protocol_edit.setText(path)
        self.validate()

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a protocol", "", "YAML (*.yaml *.yml)")
        if path:
            self.open(path)

    def save(self) -> None:
        """Save (asks for a name the first time)."""
        path = self.model.path
        if path is None or "/engine/protocols/" in path:  # never overwrite a shipped protocol
            path, _ = QFileDialog.getSaveFileName(self, "Save the protocol", "protocol.yaml", "YAML (*.yaml)")
            if not path:
                return
        self.protocol_edit.setText(self.model.save(path))

    def validate(self) -> None:
        """Check the protocol against the station in the run panel."""
        self.model.validate(self.station_edit.text().strip() or None)

    # -- model -> view ---------------------------------------------------------------------------------
    def _text_changed(self, text: str) -> None:
        if self.yaml.toPlainText() != text:
            self._syncing = True
            self.yaml.setPlainText(text)
            self._syncing = False
        self._fill_tree()

    def _fill_tree(self) -> None:
        current = self.tree.currentItem()
        keep = current.data(0, Qt.ItemDataRole.UserRole).path if current is not None else None
        self.tree.clear()

        def add(parent: QTreeWidget | QTreeWidgetItem, node: TreeNode) -> None:
            item = QTreeWidgetItem([node.title, "" if node.line is None else str(node.line)])
            item.setData(0, Qt.ItemDataRole.UserRole, node)
            if isinstance(parent, QTreeWidget):
                parent.addTopLevelItem(item)
            else:
                parent.addChild(item)
            for child in node.children:
                add(item, child)
            if node.path == keep:
                self.tree.setCurrentItem(item)

        for node in self.model.tree:
            add(self.tree, node)
        self.tree.expandAll()

    def _show_form(self, item: QTreeWidgetItem | None) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        if item is None:
            return
        node: TreeNode = item.data(0, Qt.ItemDataRole.UserRole)
        try:
            fields = self.model.fields(node)
        except UserError as exc:
            self.form.addRow(QLabel(str(exc)))
            return
        for f in fields:
            label = QLabel(f"{f.label}" + (f" ({f.units})" if f.units else ""))
            label.setToolTip(
                f"{f.name}; default {f.default!r}"
                + (f"; {f.minimum} … {f.maximum}" if f.minimum is not None else "")
            )
            self.form.addRow(label, self._editor(node, f))

    def _editor(self, node: TreeNode, f: FieldSpec) -> QWidget:
        if f.type == "bool" and not isinstance(f.value, str):
            box = QCheckBox()
            box.setChecked(bool(f.default if f.value is None else f.value))
            box.toggled.connect(lambda v, n=f.name: self._set(node, n, v))
            return box
        if f.type == "choice" and f.choices:
            combo = QComboBox()
            combo.addItems([str(c) for c in f.choices])
            combo.setCurrentText(str(f.default if f.value is None else f.value))
            combo.currentTextChanged.connect(lambda v, n=f.name: self._set(node, n, v))
            return combo
        edit = QLineEdit("" if f.value is None else str(f.value))
        edit.setPlaceholderText(f"default {f.default}")
        edit.editingFinished.connect(lambda e=edit, n=f.name: self._set(node, n, e.text()))
        return edit

    def _set(self, node: TreeNode, name: str, value: Any) -> None:
        try:
            self.model.set_value(node, name, value)
        except UserError as exc:
            QMessageBox.warning(self, "Protocol", str(exc))
            return
        self.validate()

    def _yaml_edited(self) -> None:
        if not self._syncing:
            self.model.set_text(self.yaml.toPlainText())

    def _validated(
        self, errors: list[str], total_s: float | None, rows: list[tuple[int, str, str, float]]
    ) -> None:
        if errors:
            text = "<br>".join(e.replace("<", "&lt;") for e in errors[:12])
            self.result.setText(f"<span style='color:#ff7070'>{text}</span>")
        else:
            self.result.setText(
                f"<span style='color:#7bd88f'>✔ valid</span> · {len(rows)} steps · estimated "
                f"<b>{format_duration(total_s)}</b> <span style='color:{MUTED}'>(engine clock)</span>"
                + "".join(f"<br><span style='color:#e5c07b'>warning: {w.replace('<', '&lt;')}</span>"
                          for w in self.model.warnings[:12])
            )
