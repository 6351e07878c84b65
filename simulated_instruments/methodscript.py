"""MethodSCRIPT: parsing a script into a tree, SI literals, and the data-package encoding.

The interpreter that runs a parsed script against the cell lives in ``emstat``; this module is pure.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

SI_PREFIXES = {"a": 1e-18, "f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, " ": 1.0, "k": 1e3,
               "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_PREFIX_ORDER = "afpnum kMGTPE"
OFFSET = 1 << 27
VAR_TYPES = {"aa", "ab", "ac", "ad", "ae", "af", "ag", "ah", "ai", "aj", "as", "at", "au", "av", "ba", "bb",
             "bc", "bd", "ca", "cb", "cc", "cd", "ce", "cf", "cg", "da", "db", "dc", "dd", "de", "df", "dg",
             "eb", "ec", "ed", "ee", "ja", "jb", "jc", "jd", "je", "jf", "jg", "jh"}
_LITERAL = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))([afpnumkMGTPE]|i)?$")
COMPARISONS = (">=", "<=", "==", "!=", ">", "<")


class ScriptError(Exception):
    """A script error: ``code`` (4 hex digits) at ``line`` (1-based, counted after the ``e`` line)."""

    def __init__(self, code: int, line: int, detail: str) -> None:
        super().__init__(f"!{code:04X}: Line {line}, Col 1: {detail}")
        self.code = code
        self.line = line
        self.detail = detail

    def wire(self) -> str:
        return f"!{self.code:04X}: Line {self.line}, Col 1"


ERR_UNKNOWN_COMMAND = 0x4001
ERR_ARGUMENT = 0x4002
ERR_UNKNOWN_VAR = 0x4003
ERR_BLOCK = 0x4004


def parse_literal(text: str) -> float | None:
    """``100m`` -> 0.1, ``10p`` -> 1e-11, ``5i`` -> 5.0, ``2k`` -> 2000.0; None if not a literal."""
    m = _LITERAL.match(text)
    if not m:
        return None
    value = float(m.group(1))
    prefix = m.group(2)
    if prefix and prefix != "i":
        value *= SI_PREFIXES[prefix]
    return value


def encode_value(var_type: str, value: float, meta: str = "") -> str:
    """One package variable: type, 7 hex digits (value/prefix + 2^27) and the prefix char."""
    if math.isnan(value):
        return f"{var_type}     nan{meta}"
    for prefix in _PREFIX_ORDER:
        scaled = round(value / SI_PREFIXES[prefix])
        if -OFFSET < scaled < OFFSET:
            return f"{var_type}{scaled + OFFSET:07X}{prefix}{meta}"
    raise ValueError(f"value {value} too large to encode")


def decode_value(text: str) -> float:
    """The inverse of ``encode_value`` for one variable (metadata ignored); used by the tests."""
    body = text.split(",", maxsplit=1)[0]
    return (int(body[2:9], 16) - OFFSET) * SI_PREFIXES[body[9]]


@dataclass
class Stmt:
    line: int
    cmd: str
    args: list[str]


@dataclass
class Block:
    """``loop``/``meas_loop_*`` (``stmt`` holds the header) or ``if`` (``branches``: condition -> body)."""

    stmt: Stmt
    body: list[Stmt | Block] = field(default_factory=list)
    branches: list[tuple[Stmt | None, list[Stmt | Block]]] = field(default_factory=list)


@dataclass
class Program:
    body: list[Stmt | Block]
    on_finished: list[Stmt | Block]


KNOWN = {"var", "store_var", "copy_var", "add_var", "sub_var", "mul_var", "div_var", "set_pgstat_chan",
         "set_pgstat_mode", "set_max_bandwidth", "set_range", "set_autoranging", "set_range_minmax",
         "set_acquisition_frac", "set_acquisition_frac_autoadjust", "set_gpio_cfg", "set_gpio", "set_e",
         "set_i", "cell_on", "cell_off", "wait", "timer_start", "timer_get", "pck_start", "pck_add",
         "pck_end",
         "breakloop", "send_string", "meas_loop_ocp", "meas_loop_cp", "meas_loop_ca", "meas_loop_cv", "loop",
         "endloop", "if", "elseif", "else", "endif", "on_finished:"}
MIN_ARGS = {"var": 1, "store_var": 3, "copy_var": 2, "add_var": 2, "sub_var": 2, "mul_var": 2, "div_var": 2,
            "set_pgstat_chan": 1, "set_pgstat_mode": 1, "set_max_bandwidth": 1, "set_range": 2,
            "set_autoranging": 3, "set_range_minmax": 3, "set_e": 1, "set_i": 1, "wait": 1, "timer_get": 1,
            "pck_add": 1, "meas_loop_ocp": 3, "meas_loop_cp": 5, "meas_loop_ca": 5, "meas_loop_cv": 7,
            "loop": 3, "if": 3, "elseif": 3}


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    for m in re.finditer(r'"[^"]*"|\S+', text):
        out.append(m.group(0))
    return out


def parse(lines: list[str]) -> Program:
    """Parse script lines (without the ``e`` and the final empty line) into a Program."""
    stmts: list[Stmt] = []
    for i, raw in enumerate(lines, start=1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        toks = _tokens(text)
        cmd = toks[0]
        if cmd not in KNOWN:
            raise ScriptError(ERR_UNKNOWN_COMMAND, i, f"unknown command {cmd!r}")
        if len(toks) - 1 < MIN_ARGS.get(cmd, 0):
            raise ScriptError(ERR_ARGUMENT, i, f"{cmd} needs {MIN_ARGS[cmd]} arguments")
        if cmd in ("loop", "if", "elseif") and toks[2] not in COMPARISONS:
            raise ScriptError(ERR_ARGUMENT, i, f"bad comparison {toks[2]!r}")
        stmts.append(Stmt(i, cmd, toks[1:]))
    pos = 0

    def block(until: tuple[str, ...]) -> tuple[list[Stmt | Block], Stmt | None]:
        nonlocal pos
        body: list[Stmt | Block] = []
        while pos < len(stmts):
            s = stmts[pos]
            pos += 1
            if s.cmd in until:
                return body, s
            if s.cmd in ("endloop", "endif", "else", "elseif"):
                raise ScriptError(ERR_BLOCK, s.line, f"unexpected {s.cmd}")
            if s.cmd == "loop" or s.cmd.startswith("meas_loop_"):
                inner, _ = block(("endloop",))
                if _ is None:
                    raise ScriptError(ERR_BLOCK, s.line, "missing endloop")
                body.append(Block(s, inner))
            elif s.cmd == "if":
                b = Block(s)
                cond: Stmt | None = s
                while True:
                    inner, end = block(("elseif", "else", "endif"))
                    if end is None:
                        raise ScriptError(ERR_BLOCK, s.line, "missing endif")
                    b.branches.append((cond, inner))
                    if end.cmd == "endif":
                        break
                    cond = end if end.cmd == "elseif" else None
                body.append(b)
            elif s.cmd == "on_finished:":
                pos -= 1
                return body, None
            else:
                body.append(s)
        return body, None

    main, _ = block(())
    finished: list[Stmt | Block] = []
    if pos < len(stmts) and stmts[pos].cmd == "on_finished:":
        pos += 1
        finished, _ = block(())
        if pos < len(stmts):
            raise ScriptError(ERR_BLOCK, stmts[pos].line, "unexpected statement after on_finished")
    return Program(main, finished)
