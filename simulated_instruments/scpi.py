"""A small SCPI parser: compound messages, short/long header forms, optional nodes, quoted arguments.

Used by the Keithley 2450 and spectrometer emulators. Header patterns are written like the manuals,
``:SOURce:VOLTage[:LEVel]``: upper-case letters are the short form, the whole word the long form, square
brackets an optional node; matching is case-insensitive. A unit without a leading colon after ``;`` is
relative to the previous unit's path (IEEE 488.2); ``:*CLS`` is read as ``*CLS``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass


class ScpiError(Exception):
    """A SCPI error to queue: ``code`` (e.g. -113) and message (e.g. "Undefined header")."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code},{message}")
        self.code = code
        self.message = message


def undefined_header() -> ScpiError:
    return ScpiError(-113, "Undefined header")


def split_outside_quotes(text: str, sep: str) -> list[str]:
    """Split on ``sep`` except inside single or double quotes."""
    parts: list[str] = []
    cur: list[str] = []
    quote = ""
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            cur.append(ch)
        elif ch == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


@dataclass(frozen=True)
class _Node:
    short: str
    long: str
    optional: bool

    def matches(self, word: str) -> bool:
        w = word.upper()
        return w in (self.short, self.long)


def _compile(pattern: str) -> list[_Node]:
    nodes: list[_Node] = []
    for m in re.finditer(r"(\[)?:?([A-Za-z*]+\??)(\])?", pattern):
        word = m.group(2)
        short = "".join(c for c in word if c.isupper() or c in "*?") or word.upper()
        nodes.append(_Node(short.upper(), word.upper(), bool(m.group(1))))
    return nodes


def _match(nodes: list[_Node], words: list[str]) -> bool:
    if not nodes:
        return not words
    head, rest = nodes[0], nodes[1:]
    if words and head.matches(words[0]) and _match(rest, words[1:]):
        return True
    return head.optional and _match(rest, words)


Handler = Callable[[list[str]], str | bytes | None]


@dataclass(frozen=True)
class Unit:
    """One program unit of a compound message: path words, query flag and raw argument text."""

    words: list[str]
    query: bool
    args: str


def parse_units(message: str, relative: bool = True) -> list[Unit]:
    """Split a message into units, resolving relative headers (unless ``relative`` is False: every unit
    is then absolute); raises ScpiError -102/-113 on a bad header."""
    units: list[Unit] = []
    prefix: list[str] = []
    pieces = split_outside_quotes(message, ";")
    # a trailing ';' (PyMeasure sends one) leaves an empty last piece: not a command
    if len(pieces) > 1 and not pieces[-1].strip():
        pieces = pieces[:-1]
    for piece in pieces:
        text = piece.strip()
        if not text:
            raise ScpiError(-102, "Syntax error")
        m = re.match(r"^(\S+)\s*(.*)$", text, re.S)
        assert m is not None
        header, args = m.group(1), m.group(2).strip()
        query = header.endswith("?")
        if query:
            header = header[:-1]
        absolute = header.startswith(":")
        header = header.lstrip(":")
        if not header or not re.fullmatch(r"\*?[A-Za-z][A-Za-z0-9]*(:[A-Za-z][A-Za-z0-9]*)*", header):
            raise ScpiError(-102, "Syntax error") if not header else undefined_header()
        words = header.split(":")
        if header.startswith("*"):
            units.append(Unit(words, query, args))
            continue
        if relative and not absolute and prefix:
            words = prefix + words
        prefix = words[:-1]
        units.append(Unit(words, query, args))
    return units


class CommandTable:
    """Header pattern -> handler; ``query`` patterns end with ``?``."""

    def __init__(self) -> None:
        self._entries: list[tuple[list[_Node], bool, Handler]] = []

    def add(self, pattern: str, handler: Handler) -> None:
        query = pattern.endswith("?")
        self._entries.append((_compile(pattern.rstrip("?")), query, handler))

    def find(self, unit: Unit) -> Handler:
        words = [re.sub(r"\d+$", "", w) if not w.startswith("*") else w for w in unit.words]
        for nodes, query, handler in self._entries:
            if query == unit.query and _match(nodes, words):
                return handler
        raise undefined_header()


def execute(table: CommandTable, message: str, queue: Callable[[int, str], None],
            relative: bool = True) -> list[str | bytes]:
    """Run each unit of ``message`` from ``table``: the replies, in order. A :class:`ScpiError` goes to
    ``queue(code, message)`` and ends the message (the units after it are not run)."""
    try:
        units = parse_units(message, relative)
    except ScpiError as err:
        queue(err.code, err.message)
        return []
    replies: list[str | bytes] = []
    for unit in units:
        try:
            out = table.find(unit)(parse_args(unit.args))
        except ScpiError as err:
            queue(err.code, err.message)
            break
        if out is not None:
            replies.append(out)
    return replies


def parse_args(args: str) -> list[str]:
    """Comma-separated arguments, stripped; quoted strings keep their quotes (see ``unquote``)."""
    if not args.strip():
        return []
    return [a.strip() for a in split_outside_quotes(args, ",")]


def unquote(arg: str) -> str:
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'":
        return arg[1:-1]
    return arg


def to_float(arg: str, minimum: float | None = None, maximum: float | None = None,
             default: float | None = None) -> float:
    """A numeric argument (also MIN/MAX/DEF when bounds are known); -104 / -222 on bad values."""
    a = arg.strip().upper()
    if a in ("MIN", "MINIMUM") and minimum is not None:
        return minimum
    if a in ("MAX", "MAXIMUM") and maximum is not None:
        return maximum
    if a in ("DEF", "DEFAULT") and default is not None:
        return default
    try:
        value = float(a)
    except ValueError:
        raise ScpiError(-104, "Data type error") from None
    if math.isnan(value):
        raise ScpiError(-104, "Data type error")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ScpiError(-222, "Data out of range")
    return value


def to_bool(arg: str) -> bool:
    a = arg.strip().upper()
    if a in ("1", "ON"):
        return True
    if a in ("0", "OFF"):
        return False
    raise ScpiError(-104, "Data type error")


def need(args: list[str], n: int) -> None:
    if len(args) < n:
        raise ScpiError(-109, "Missing parameter")


def ieee_block(payload: bytes, terminator: bytes = b"\n") -> bytes:
    """IEEE 488.2 definite-length block ``#<n><len><payload>`` plus the terminator."""
    length = str(len(payload))
    return b"#" + str(len(length)).encode() + length.encode() + payload + terminator
