"""Edit a protocol file: the steps as a tree, a form per step from its pymeasure Parameters, validation.

The YAML is edited round-trip (ruamel), so comments and ``$parameter`` references survive a form edit.
Validation and the duration estimate come from the engine's planner, against a station file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from nanocell_daq.errors import UserError
from nanocell_daq.viewmodels.events import Signal

Path_ = tuple[Any, ...]  # keys from the document root to a node: ("steps", 2, "repeat", "steps", 0)


@dataclass
class TreeNode:
    """One line of the step tree: a step, a ``repeat`` or a ``parallel`` block."""

    title: str
    kind: str  # step kind ("iv", "galvanostatic", ...), "repeat" or "parallel"
    path: Path_
    line: int | None
    children: list[TreeNode] = field(default_factory=list)


@dataclass
class FieldSpec:
    """One form field generated from a step's pymeasure Parameter."""

    name: str  # parameter name in the protocol file (e.g. "current_A")
    label: str  # the Parameter's description
    type: str  # "float" | "int" | "bool" | "choice" | "list" | "text"
    units: str | None
    minimum: float | None
    maximum: float | None
    choices: list[Any] | None
    default: Any
    value: Any  # as written in the file (may be "$current_A"), or None when not written (default applies)


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.width = 110
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def step_fields(kind: str, written: dict[str, Any] | None = None) -> list[FieldSpec]:
    """Form fields of a step kind (from its pymeasure Parameters), with the values written in the file."""
    from procedures import STEPS

    cls = STEPS.get(kind)
    if cls is None:
        raise UserError(f"unknown step kind {kind!r} (known: {', '.join(sorted(STEPS))})")
    written = written or {}
    out = []
    for name, p in cls()._parameters.items():
        ptype = type(p).__name__
        kind_of = {
            "FloatParameter": "float",
            "IntegerParameter": "int",
            "BooleanParameter": "bool",
            "ListParameter": "choice",
            "VectorParameter": "list",
        }.get(ptype, "text")
        if kind_of == "text" and isinstance(p.default, list):
            kind_of = "list"
        out.append(
            FieldSpec(
                name=name,
                label=str(p.name),
                type=kind_of,
                units=getattr(p, "units", None) or None,
                minimum=getattr(p, "minimum", None),
                maximum=getattr(p, "maximum", None),
                choices=list(p.choices) if getattr(p, "choices", None) else None,
                default=p.default,
                value=written.get(name),
            )
        )
    return out


class ProtocolEditorModel:
    """A protocol file being edited.

    Signals: ``text_changed(text)``, ``validated(errors, total_s, plan_rows)``.
    """

    def __init__(self) -> None:
        self.path: str | None = None
        self.text = ""
        self.doc: Any = None
        self.tree: list[TreeNode] = []
        self.parse_error: str | None = None
        self.errors: list[str] = []
        self.warnings: list[str] = []
        """What the capability check warns about (the plan is still valid)."""
        self.total_s: float | None = None
        self.plan_rows: list[tuple[int, str, str, float]] = []  # (index, kind, label, estimate s)
        self.modified = False
        self.text_changed = Signal("text_changed")
        self.validated = Signal("validated")

    # -- file ------------------------------------------------------------------------------------------
    def open(self, path: str | Path) -> None:
        """Load a protocol file."""
        p = Path(path)
        if not p.is_file():
            raise UserError(f"{p}: protocol file not found")
        self.path = str(p)
        self.set_text(p.read_text(encoding="utf-8"))
        self.modified = False

    def save(self, path: str | Path | None = None) -> str:
        """Write the text to ``path`` (default: where it came from); returns the path."""
        target = path or self.path
        if target is None:
            raise UserError("no file name: choose where to save the protocol")
        Path(target).write_text(self.text, encoding="utf-8")
        self.path, self.modified = str(target), False
        return self.path

    def set_text(self, text: str) -> None:
        """Replace the whole text (e.g. typed in the YAML editor); rebuilds the tree."""
        self.text = text
        self.modified = True
        try:
            self.doc = _yaml().load(text) if text.strip() else CommentedMap()
            self.parse_error = None
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            where = f"{self.path or '<protocol>'}{line}"
            self.doc, self.parse_error = None, f"{where}: {getattr(exc, 'problem', exc)}"
        self.tree = self._build_tree()
        self.text_changed.emit(text)

    # -- tree and forms --------------------------------------------------------------------------------
    def _build_tree(self) -> list[TreeNode]:
        if not isinstance(self.doc, dict) or not isinstance(self.doc.get("steps"), list):
            return []
        return self._nodes(self.doc["steps"], ("steps",))

    def _nodes(self, seq: list[Any], path: Path_) -> list[TreeNode]:
        out = []
        for i, item in enumerate(seq):
            if not isinstance(item, dict) or len(item) != 1:
                continue
            key = str(next(iter(item)))
            body = item[key]
            line = item.lc.line + 1 if hasattr(item, "lc") else None
            here = (*path, i, key)
            if key == "repeat" and isinstance(body, dict):
                node = TreeNode(f"repeat × {body.get('times', '?')}", "repeat", here, line)
                node.children = self._nodes(body.get("steps") or [], (*here, "steps"))
            elif key == "parallel" and isinstance(body, list):
                node = TreeNode("parallel", "parallel", here, line)
                node.children = self._nodes(body, here)
            else:
                label = body.get("label") if isinstance(body, dict) else None
                node = TreeNode(f"{key}: {label}" if label else key, key, here, line)
            out.append(node)
        return out

    def node_at(self, path: Path_) -> Any:
        """The YAML body at ``path`` (a step's parameter mapping)."""
        node = self.doc
        for key in path:
            node = node[key]
        return node

    def fields(self, node: TreeNode) -> list[FieldSpec]:
        """Form fields of a step node (empty for blocks)."""
        if node.kind in ("repeat", "parallel"):
            return []
        body = self.node_at(node.path)
        return step_fields(node.kind, dict(body) if isinstance(body, dict) else {})

    def set_value(self, node: TreeNode, name: str, value: Any) -> None:
        """Write one parameter of a step (None removes it, so the default applies) and refresh the text."""
        body = self.node_at(node.path)
        if not isinstance(body, dict):
            where = f"{self.path or '<protocol>'}:{node.line}"
            raise UserError(f"{where}: {node.kind}: parameters must be a mapping")
        if isinstance(value, str):  # typed text: "1e-11" is a number, "$current_A" stays a reference
            try:
                value = _yaml().load(value) if value.strip() else None
            except YAMLError:
                pass
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
        buf = io.StringIO()
        _yaml().dump(self.doc, buf)
        self.set_text(buf.getvalue())

    # -- validation ------------------------------------------------------------------------------------
    def validate(self, station_path: str | Path | None) -> list[str]:
        """Parse and plan against the station; sets ``errors``, ``total_s`` (s), ``plan_rows``; emits."""
        from nanocell_daq.engine.plan import expand
        from nanocell_daq.engine.protocol import parse_protocol
        from nanocell_daq.engine.stationview import StationView

        self.errors, self.total_s, self.plan_rows = [], None, []
        self.warnings = []
        try:
            if self.parse_error:
                raise UserError(self.parse_error)
            protocol = parse_protocol(self.text, self.path or "<protocol>")
            if not station_path:
                raise UserError("choose a station file to check the protocol against its limits")
            plan = expand(protocol, StationView.from_file(station_path))
        except UserError as exc:
            self.errors = [line for line in str(exc).splitlines() if line.strip()]
        else:
            self.total_s = plan.total_s
            self.warnings = list(plan.warnings)  # capability check: shown with the verdict, never blocking
            self.plan_rows = [(i.index, i.kind, i.label, i.estimate_s) for i in plan.items]
        self.validated.emit(self.errors, self.total_s, self.plan_rows)
        return self.errors
