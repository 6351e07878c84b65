"""A tiny TSP (Lua) statement reader for the 2600B emulator: assignments, calls and ``print(...)``.

Enough of Lua for what instrument drivers send over VISA: ``a.b.c = <expr>``, ``f(<expr>, ...)``,
``print(<expr>, ...)``, several statements on one line (separated by spaces or ``;``), numbers with
exponents, unary minus, quoted strings, dotted names. Anything else raises :class:`TspError` with the
instrument's syntax error (-285), which the emulator queues without answering.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class TspError(Exception):
    """An error for the TSP error queue: ``code`` and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


def syntax_error(near: str) -> TspError:
    return TspError(-285, f"TSP Syntax error at line 1: unexpected symbol near '{near[:20]}'")


def nil_error(name: str) -> TspError:
    return TspError(-286, f"TSP Runtime error at line 1: attempt to index or call a nil value ({name})")


def tsp_number(value: float) -> str:
    """TSP prints numbers with ``format.asciiprecision`` 6: ``1.00000e-09``."""
    return f"{value:.5e}"


def tsp_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return tsp_number(float(value))
    if value is None:
        return "nil"
    return str(value)


_TOKEN = re.compile(r"""\s*(?:
    (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<str>"[^"]*"|'[^']*')
  | (?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)
  | (?P<op>[()=,;\-])
)""", re.X)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def tokenize(line: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    text = line.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise syntax_error(text[pos:].strip())
        kind = m.lastgroup
        assert kind is not None
        tokens.append(Token(kind, m.group(kind)))
        pos = m.end()
    return tokens


class Namespace:
    """What a statement can reach: ``get(name)``, ``set(name, value)``, ``call(name, args)``."""

    def get(self, name: str) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def set(self, name: str, value: Any) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def call(self, name: str, args: list[Any]) -> list[Any]:  # pragma: no cover - interface
        raise NotImplementedError


def run(line: str, ns: Namespace, out: Callable[[str], None]) -> None:
    """Execute every statement of ``line``; ``print`` output goes to ``out`` (one line per print)."""
    _Runner(tokenize(line), ns, out).statements()


class _Runner:
    def __init__(self, tokens: list[Token], ns: Namespace, out: Callable[[str], None]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.ns = ns
        self.out = out

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, text: str | None = None, kind: str | None = None) -> Token:
        tok = self.peek()
        if tok is None or (text is not None and tok.text != text) or (kind is not None and tok.kind != kind):
            raise syntax_error(tok.text if tok else "<eof>")
        self.pos += 1
        return tok

    def statements(self) -> None:
        while self.peek() is not None:
            if self.peek().text == ";":  # type: ignore[union-attr]
                self.pos += 1
                continue
            name = self.take(kind="name").text
            nxt = self.peek()
            if nxt is not None and nxt.text == "=":
                self.pos += 1
                self.ns.set(name, self.expr())
            elif nxt is not None and nxt.text == "(":
                args = self.args()
                if name == "print":
                    self.out("\t".join(tsp_value(v) for v in args))
                else:
                    self.ns.call(name, args)
            else:
                raise syntax_error(nxt.text if nxt else name)

    def args(self) -> list[Any]:
        self.take("(")
        values: list[Any] = []
        if self.peek() is not None and self.peek().text == ")":  # type: ignore[union-attr]
            self.pos += 1
            return values
        while True:
            values.extend(self.expr_multi())
            tok = self.take()
            if tok.text == ")":
                return values
            if tok.text != ",":
                raise syntax_error(tok.text)

    def expr_multi(self) -> list[Any]:
        """An expression; a call in argument position may give several values (``smua.measure.iv()``)."""
        tok = self.peek()
        if tok is not None and tok.kind == "name":
            after = self.tokens[self.pos + 1] if self.pos + 1 < len(self.tokens) else None
            if after is not None and after.text == "(":
                self.pos += 1
                return self.ns.call(tok.text, self.args())
        return [self.expr()]

    def expr(self) -> Any:
        tok = self.take()
        if tok.text == "-":
            value = self.expr()
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise TspError(-286, "TSP Runtime error at line 1: attempt to perform arithmetic on a value")
            return -value
        if tok.kind == "num":
            return float(tok.text)
        if tok.kind == "str":
            return tok.text[1:-1]
        if tok.kind == "name":
            if tok.text in ("true", "false"):
                return tok.text == "true"
            if tok.text == "nil":
                return None
            nxt = self.peek()
            if nxt is not None and nxt.text == "(":
                values = self.ns.call(tok.text, self.args())
                return values[0] if values else None
            return self.ns.get(tok.text)
        if tok.text == "(":
            value = self.expr()
            self.take(")")
            return value
        raise syntax_error(tok.text)
