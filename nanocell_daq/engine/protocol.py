"""Protocol files: YAML steps, ``repeat`` and ``parallel`` blocks, parsed with line numbers kept.

A protocol says WHAT to measure; :mod:`nanocell_daq.engine.plan` expands it into a flat plan and checks it
against a station. Format::

    protocol: Si/a-Si || LiCoO2, pristine then N cycles      # a name
    parameters: {cycles: 2, current_A: 5.0e-12}               # "$cycles" anywhere is replaced by the value
    on_fault: stop                                            # stop | continue (per run; a step may override)
    steps:
      - iv: {label: pristine, pairs: [S-D], v_max_V: 0.5}
      - repeat:
          times: $cycles
          steps:
            - galvanostatic: {label: "charge {cycle}", current_A: $current_A, v_max_V: 3.95}
      - parallel:
          - galvanostatic: {label: discharge, current_A: -5.0e-12}
          - raman_map: {label: during discharge, mode: line}

Every error is a :class:`~nanocell_daq.errors.UserError` naming ``file:line: field``. Sizes are bounded so
that no file can make ``nanocell check`` hang or fill memory: :data:`MAX_REPEAT_TIMES`,
:data:`MAX_PLAN_STEPS`, :data:`MAX_LABEL_CHARS`, and the YAML bounds of :mod:`nanocell_daq.yaml_input`.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedSeq

from nanocell_daq import yaml_input
from nanocell_daq.errors import UserError
from nanocell_daq.suggest import closest, unknown_field

FAULT_POLICIES = ("stop", "continue")
_BLOCK_KEYS = ("repeat", "parallel")
_STEP_META = ("label", "on_fault")
_REF = re.compile(r"^(-?)\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
_PLAIN_NAME = re.compile(r"^[\w.:+-]{1,80}$")

MAX_REPEAT_TIMES = 10_000
"""Most repetitions of one ``repeat`` block (10 000 cycles of a nanowire cell is years of cycling)."""
MAX_PLAN_STEPS = 20_000
"""Most steps a protocol may expand to (repeats multiplied out)."""
MAX_LABEL_CHARS = 200
"""Longest label (template or result)."""


@dataclass(frozen=True)
class Where:
    """A place in a protocol file, for error messages (line is 1-based)."""

    path: str
    line: int | None = None

    def __call__(self, field_name: str | None = None) -> str:
        out = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{out}: {field_name}" if field_name else out


@dataclass
class StepSpec:
    """One step as written: ``kind`` (e.g. ``galvanostatic``), raw parameters, label template, policy."""

    kind: str
    params: dict[str, Any]
    label: str | None
    on_fault: str | None
    where: Where
    field_lines: dict[str, int] = field(default_factory=dict)

    def where_field(self, name: str) -> str:
        line = self.field_lines.get(name, self.where.line)
        return Where(self.where.path, line)(f"{self.kind}.{name}")


@dataclass
class RepeatBlock:
    """``times`` repetitions of ``body``; ``var`` (default ``cycle``) is 1-based and usable in labels."""

    times: int
    body: list[Node]
    var: str
    where: Where


@dataclass
class ParallelBlock:
    """Steps that run at the same time (e.g. a Raman map during a galvanostatic step)."""

    steps: list[StepSpec]
    label: str | None
    where: Where


Node = StepSpec | RepeatBlock | ParallelBlock


@dataclass
class Protocol:
    """A parsed protocol file: name, parameters (after overrides), run policy and the step tree."""

    name: str
    parameters: dict[str, Any]
    on_fault: str
    body: list[Node]
    text: str
    path: str
    overrides: dict[str, Any] = field(default_factory=dict)
    """The ``--set`` overrides as given (recorded as the run's provenance)."""


_line = yaml_input.line_of


def shown_name(key: Any) -> str:
    """A key as a message shows it: plain names as they are, anything odd quoted on one short line."""
    text = str(key)
    if _PLAIN_NAME.match(text):
        return text
    return yaml_input.one_line(repr(text), 60)


def _plain(value: Any) -> Any:
    """ruamel containers -> plain dict/list (scalars stay)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


class _Parser:
    def __init__(self, path: str, parameters: dict[str, Any]) -> None:
        self.path = path
        self.parameters = parameters

    def where(self, node: Any, key: Any = None) -> Where:
        return Where(self.path, _line(node, key))

    def subst(self, value: Any, where: str) -> Any:
        """Replace ``$name`` references by protocol parameters (whole values keep their type)."""
        if isinstance(value, str):
            m = _REF.match(value.strip())
            if m:
                negate, name = m.group(1), m.group(2)
                if name not in self.parameters:
                    known = ", ".join(sorted(self.parameters)) or "none"
                    hint = closest(name, self.parameters)
                    raise UserError(f"{where}: unknown parameter ${name} ("
                                    f"{f'did you mean ${hint}?; ' if hint else ''}parameters: {known})")
                value = self.parameters[name]
                if negate:
                    if isinstance(value, bool) or not isinstance(value, int | float):
                        raise UserError(f"{where}: -${name} needs a number, ${name} is {value!r}")
                    return -value
                return value
            return value
        if isinstance(value, list):
            return [self.subst(v, where) for v in value]
        if isinstance(value, dict):
            return {k: self.subst(v, where) for k, v in value.items()}
        return value

    def nodes(self, seq: Any, where: Where, what: str) -> list[Node]:
        if not isinstance(seq, list):
            raise UserError(f"{where(what)}: expected a list of steps, got {type(seq).__name__}")
        if not seq:
            raise UserError(f"{where(what)}: the list of steps is empty")
        return [
            self.node(item, self.where(seq, i) if isinstance(seq, CommentedSeq) else where, what)
            for i, item in enumerate(seq)
        ]

    def node(self, item: Any, where: Where, what: str) -> Node:
        if not isinstance(item, dict) or len(item) != 1:
            raise UserError(
                f"{where(what)}: each entry must be a mapping with one key, the step kind "
                f"(e.g. `- iv: {{...}}`), `repeat` or `parallel`"
            )
        ((raw_key, body),) = item.items()
        key = shown_name(raw_key)
        w = self.where(item, raw_key)
        if key == "repeat":
            return self.repeat(body, w)
        if key == "parallel":
            return self.parallel(body, w)
        return self.step(key, body, w)

    def repeat(self, body: Any, where: Where) -> RepeatBlock:
        if not isinstance(body, dict):
            raise UserError(f"{where('repeat')}: expected a mapping with `times` and `steps`")
        unknown = set(map(str, body)) - {"times", "steps", "var"}
        if unknown:
            first = sorted(unknown)[0]
            raise UserError(
                f"{Where(where.path, _line(body, first))('repeat.' + first)}"
                f": {unknown_field(first, ('times', 'steps', 'var'))}; allowed: times, steps, var"
            )
        tw = Where(where.path, _line(body, "times") if "times" in body else where.line)
        if "times" not in body:
            raise UserError(f"{tw('repeat.times')}: missing (how many repetitions)")
        times = self.subst(body["times"], tw("repeat.times"))
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise UserError(f"{tw('repeat.times')}: must be a whole number >= 1, got {_short(times)}")
        if times > MAX_REPEAT_TIMES:
            raise UserError(f"{tw('repeat.times')}: at most {MAX_REPEAT_TIMES} repetitions, got {times}")
        if "steps" not in body:
            raise UserError(f"{where('repeat.steps')}: missing")
        var = body.get("var", "cycle")
        if not isinstance(var, str) or not _VAR.match(var):
            vw = Where(where.path, _line(body, "var"))
            raise UserError(f"{vw('repeat.var')}: must be a name (letters, digits, _; at most 32), "
                            f"got {_short(var)}")
        sw = Where(where.path, _line(body, "steps"))
        return RepeatBlock(
            times=times, body=self.nodes(body["steps"], sw, "repeat.steps"), var=var, where=where
        )

    def parallel(self, body: Any, where: Where) -> ParallelBlock:
        label = None
        seq = body
        if isinstance(body, dict):
            unknown = set(map(str, body)) - {"label", "steps"}
            if unknown:
                first = sorted(unknown)[0]
                raise UserError(f"{Where(where.path, _line(body, first))('parallel.' + shown_name(first))}"
                                f": {unknown_field(first, ('label', 'steps'))}; allowed: label, steps")
            label = body.get("label")
            seq = body.get("steps")
            where = Where(where.path, _line(body, "steps") if "steps" in body else where.line)
        nodes = self.nodes(seq, where, "parallel")
        steps = [n for n in nodes if isinstance(n, StepSpec)]
        if len(steps) != len(nodes):
            raise UserError(
                f"{where('parallel')}: only plain steps may run in parallel (no repeat/parallel inside)"
            )
        if len(steps) < 2:
            raise UserError(f"{where('parallel')}: a parallel block needs at least two steps")
        return ParallelBlock(steps=steps, label=_label_text(label, where("parallel.label")), where=where)

    def step(self, kind: str, body: Any, where: Where) -> StepSpec:
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise UserError(f"{where(kind)}: expected a mapping of parameters, got {type(body).__name__}")
        lines = {str(k): _line(body, k) or where.line for k in body}
        params: dict[str, Any] = {}
        for key, v in body.items():
            k = str(key)
            params[k] = self.subst(_plain(v), Where(where.path, lines[k])(f"{kind}.{k}"))
        label = params.pop("label", None)
        on_fault = params.pop("on_fault", None)
        if on_fault is not None and on_fault not in FAULT_POLICIES:
            raise UserError(
                f"{Where(where.path, lines['on_fault'])(kind + '.on_fault')}: must be one of "
                f"{', '.join(FAULT_POLICIES)}, got {_short(on_fault)}"
            )
        return StepSpec(
            kind=kind,
            params=params,
            label=_label_text(label, Where(where.path, lines.get("label"))(kind + ".label")),
            on_fault=on_fault,
            where=where,
            field_lines=lines,
        )


def _short(value: Any) -> str:
    """``repr(value)`` on one line, at most 60 characters (a message never quotes a whole file)."""
    return yaml_input.one_line(repr(value), 60)


def _label_text(label: Any, where: str) -> str | None:
    if label is None:
        return None
    if not isinstance(label, str | int | float) or isinstance(label, bool):
        raise UserError(f"{where}: must be text, got {type(label).__name__}")
    text = str(label)
    if len(text) > MAX_LABEL_CHARS:
        raise UserError(f"{where}: at most {MAX_LABEL_CHARS} characters, got {len(text)}")
    if "\n" in text or "\r" in text:
        raise UserError(f"{where}: must be one line")
    return text


def _coerce(text: str, name: str) -> Any:
    """A command-line override value: YAML scalar rules (``3`` int, ``5e-12`` float, ``true`` bool)."""
    where = f"--set {shown_name(name)}"
    value = _plain(yaml_input.load(text, where))
    yaml_input.refuse_non_finite(value, where)
    return value


def plan_steps(body: list[Node]) -> int:
    """How many steps ``body`` expands to (repeats multiplied out; Python ints, so no overflow)."""
    total = 0
    for node in body:
        if isinstance(node, RepeatBlock):
            total += node.times * plan_steps(node.body)
        elif isinstance(node, ParallelBlock):
            total += len(node.steps)
        else:
            total += 1
    return total


def _check_size(body: list[Node], path: str) -> None:
    total = 0
    for node in body:
        total += plan_steps([node])
        if total > MAX_PLAN_STEPS:
            where = node.where("repeat.times" if isinstance(node, RepeatBlock) else "steps")
            raise UserError(f"{where}: the protocol expands to more than {MAX_PLAN_STEPS} steps "
                            f"({plan_steps(body)}); split it into several runs")


def parse_protocol(text: str, path: str = "<protocol>", overrides: dict[str, Any] | None = None) -> Protocol:
    """Parse protocol YAML text; ``overrides`` replace values of its ``parameters`` (e.g. ``cycles=3``)."""
    doc = yaml_input.load(text, path)
    yaml_input.refuse_non_finite(doc, path)
    if not isinstance(doc, dict):
        raise UserError(
            f"{path}: a protocol is a YAML mapping with `protocol`, `steps` (and optional "
            f"`parameters`, `on_fault`)"
        )
    allowed = {"protocol", "name", "description", "parameters", "on_fault", "steps"}
    for key in doc:
        if str(key) not in allowed:
            raise UserError(
                f"{Where(path, _line(doc, key))(shown_name(key))}: "
                f"{unknown_field(shown_name(key), allowed)}; allowed: {', '.join(sorted(allowed))}"
            )
    raw_params = doc.get("parameters") or {}
    if not isinstance(raw_params, dict):
        raise UserError(f"{Where(path, _line(doc, 'parameters'))('parameters')}: expected a mapping")
    parameters = {str(k): _plain(v) for k, v in raw_params.items()}
    for name, value in (overrides or {}).items():
        if name not in parameters:
            known = ", ".join(sorted(parameters)) or "none"
            hint = closest(name, parameters)
            raise UserError(
                f"{path}: parameters.{shown_name(name)}: not a parameter of this protocol "
                f"({f'did you mean {hint!r}?; ' if hint else ''}parameters: {known})"
            )
        parameters[name] = _coerce(value, name) if isinstance(value, str) else value
    on_fault = str(doc.get("on_fault", "stop"))
    if on_fault not in FAULT_POLICIES:
        raise UserError(
            f"{Where(path, _line(doc, 'on_fault'))('on_fault')}: must be one of "
            f"{', '.join(FAULT_POLICIES)}, got {_short(on_fault)}"
        )
    if "steps" not in doc:
        raise UserError(f"{path}: steps: missing (the list of steps)")
    parser = _Parser(path, parameters)
    body = parser.nodes(doc["steps"], Where(path, _line(doc, "steps")), "steps")
    _check_size(body, path)
    name = str(doc.get("protocol") or doc.get("name") or Path(path).stem)
    if len(name) > MAX_LABEL_CHARS or "\n" in name:
        key = "protocol" if "protocol" in doc else "name"
        raise UserError(f"{Where(path, _line(doc, key))(key)}: the name must be one line of at most "
                        f"{MAX_LABEL_CHARS} characters")
    return Protocol(name=name, parameters=parameters, on_fault=on_fault, body=body, text=text, path=path,
                    overrides=dict(overrides or {}))


def load_protocol(path: str | Path, overrides: dict[str, Any] | None = None) -> Protocol:
    """Read and parse a protocol file (UserError if it cannot be read, is not UTF-8 or is too large)."""
    p = Path(path)
    return parse_protocol(yaml_input.read_text(p, "protocol"), str(p), overrides)


def with_parameters(text: str, parameters: dict[str, Any]) -> str:
    """The protocol text with its ``parameters`` block set to ``parameters`` (comments kept), so a stored
    run's protocol text reproduces the run exactly, overrides included."""
    yaml = YAML(typ="rt")
    doc = yaml.load(text)
    if not isinstance(doc, dict) or not parameters:
        return text
    block = doc.get("parameters")
    if block is None:
        return text
    changed = False
    for k, v in parameters.items():
        if block.get(k) != v:
            block[k] = v
            changed = True
    if not changed:
        return text
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def shipped_protocols() -> dict[str, Path]:
    """The protocols shipped with the package: name (file stem) -> path."""
    folder = Path(__file__).with_name("protocols")
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}
