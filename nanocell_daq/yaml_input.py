"""Reading user YAML (protocol and station files) with bounds: every bad input is a one-line UserError.

A file is refused, naming ``file:line``, when it is not UTF-8, holds NUL or other control characters,
is larger than :data:`MAX_FILE_BYTES`, nests deeper than :data:`MAX_DEPTH`, expands (through aliases)
to more than :data:`MAX_VALUES` values (an "alias bomb" is refused while composing, before anything is
expanded), uses a recursive alias, or holds a number that is NaN or infinite.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode
from ruamel.yaml.reader import ReaderError

from nanocell_daq.errors import UserError

MAX_FILE_BYTES = 1_000_000
"""A protocol or station file is a few kB; anything above 1 MB is not one."""
MAX_DEPTH = 40
"""Deepest nesting of mappings and lists (the shipped files use fewer than 10 levels)."""
MAX_VALUES = 100_000
"""Most values (scalars, lists, mappings) a document may have once its aliases are expanded."""

# YAML 1.2 printable characters, plus TAB, LF and CR (everything else is refused with its position)
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONTROL_NAMES = {0: "NUL", 0x7F: "DEL", 0x1B: "ESC", 0x0C: "form feed", 0x0B: "vertical tab"}


class _TooBig(Exception):
    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.line = None if mark is None else mark.line + 1


class _BoundedComposer(Composer):
    """Composes as ruamel does (aliases are shared references, nothing is expanded yet), then measures
    the document as it would be once expanded; refuses it before the constructor or any reader walks it."""

    def compose_document(self: Any) -> Any:
        node = super().compose_document()
        if node is not None:
            _measure(node)
        return node


def _measure(root: Node) -> None:
    """Expanded size and depth of a node graph, each shared node visited once (iterative: no recursion)."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        kids = _children(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] > MAX_VALUES:
                raise _TooBig(f"aliases expand this document to more than {MAX_VALUES} values "
                              f"(an alias bomb?)", node.start_mark)
            if depth[key] > MAX_DEPTH:
                raise _TooBig(f"nested more than {MAX_DEPTH} levels deep (counting aliases)", node.start_mark)
            continue
        if key in size:
            continue
        if key in on_path:
            raise _TooBig("recursive alias (a value that contains itself)", node.start_mark)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in size)


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def read_text(path: str | Path, what: str) -> str:
    """The UTF-8 text of a user file; UserError naming the file (and line) when it cannot be one."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"{p}: no such {what} file") from None
    except IsADirectoryError:
        raise UserError(f"{p}: is a folder, not a {what} file") from None
    except OSError as exc:
        raise UserError(f"{p}: cannot read {what} file: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise UserError(f"{p}: larger than {MAX_FILE_BYTES // 1000} kB; not a {what} file")
    return decode(data, str(p))


def decode(data: bytes, path: str) -> str:
    """UTF-8 bytes -> text; UserError naming the line of the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                        f"save it as UTF-8") from None


def check_characters(text: str, path: str) -> None:
    """Refuse NUL and other control characters (YAML cannot hold them), naming line and column."""
    m = _NOT_PRINTABLE.search(text)
    if m is None:
        return
    char = m.group()
    line = text.count("\n", 0, m.start()) + 1
    column = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
    code = ord(char)
    control = code < 0x20 or 0x7F <= code < 0xA0
    name = _CONTROL_NAMES.get(code, "control character" if control else "character")
    raise UserError(f"{path}:{line}: {name} U+{code:04X} at column {column} is not allowed in a YAML file")


def load(text: str, path: str) -> Any:
    """Round-trip YAML (line numbers kept) of ``text`` with the bounds above; UserError names ``path``."""
    if len(text) > MAX_FILE_BYTES:
        raise UserError(f"{path}: larger than {MAX_FILE_BYTES // 1000} kB; not a protocol or station file")
    check_characters(text, path)
    yaml = YAML(typ="rt", pure=True)
    yaml.Composer = _BoundedComposer
    yaml.max_depth = MAX_DEPTH
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ReusedAnchorWarning)  # legal YAML: the last anchor wins
            doc = yaml.load(text)
    except _TooBig as exc:
        raise UserError(f"{path}{'' if exc.line is None else f':{exc.line}'}: {exc}") from None
    except MarkedYAMLError as exc:
        raise UserError(syntax_message(exc, path)) from None
    except ReaderError as exc:
        raise UserError(f"{path}: not a YAML text file ({exc.reason})") from None
    except YAMLError as exc:
        raise UserError(f"{path}: YAML error: {one_line(str(exc))}") from None
    except RecursionError:
        raise UserError(f"{path}: nested too deeply to read") from None
    return doc


def syntax_message(exc: MarkedYAMLError, path: str) -> str:
    """``file:line: YAML syntax error: problem`` (also naming where an unclosed bracket opened)."""
    mark = exc.problem_mark or exc.context_mark
    line = f":{mark.line + 1}" if mark is not None else ""
    problem = exc.problem or exc.context or "syntax error"
    opened = exc.context_mark
    if exc.problem and exc.context and opened is not None and mark is not None and opened.line != mark.line:
        # an unclosed bracket or quote is found lines later: also name the line where it opened
        problem += f" ({exc.context} that starts on line {opened.line + 1})"
    if problem.startswith("maximum depth of data structure exceeded"):
        problem = f"nested more than {MAX_DEPTH} levels deep"
    return f"{path}{line}: YAML syntax error: {one_line(problem)}"


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def line_of(node: Any, key: Any = None) -> int | None:
    """1-based line of ``key`` in a round-trip mapping/list ``node`` (of the node itself without a key)."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        if key is not None and isinstance(node, dict):
            return lc.key(key)[0] + 1
        if key is not None and isinstance(node, list):
            return lc.item(key)[0] + 1
        return lc.line + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return lc.line + 1 if lc.line is not None else None


def non_finite(doc: Any) -> Iterator[tuple[tuple[str | int, ...], int | None, float]]:
    """(path of keys, line, value) of every NaN or infinite number in a loaded document."""
    stack: list[tuple[Any, tuple[str | int, ...], int | None]] = [(doc, (), line_of(doc))]
    seen: set[int] = set()
    while stack:
        node, loc, line = stack.pop()
        if isinstance(node, dict | list):
            if id(node) in seen:
                continue
            seen.add(id(node))
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for k, v in items:
                stack.append((v, (*loc, k if isinstance(k, int | str) else str(k)), line_of(node, k) or line))
        elif isinstance(node, float) and not math.isfinite(node):
            yield loc, line, node


def refuse_non_finite(doc: Any, path: str) -> None:
    """UserError naming ``file:line: field`` of the first NaN or infinite number in ``doc``."""
    found = sorted(non_finite(doc), key=lambda hit: hit[1] or 0)
    if found:
        loc, line, value = found[0]
        where = path if line is None else f"{path}:{line}"
        name = ".".join(str(part) for part in loc)
        field = f" {name}:" if name else ""
        raise UserError(f"{where}:{field} must be a finite number, got {yaml_float(value)}")


def yaml_float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    return ".inf" if value > 0 else "-.inf"
