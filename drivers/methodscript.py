"""PalmSens MethodSCRIPT text codec: SI literals for scripts, data packages and error lines (pure, no I/O)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

SI_PREFIXES: dict[str, float] = {
    "a": 1e-18, "f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, " ": 1.0,
    "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18, "i": 1.0,
}
"""SI prefix character of a data-package value -> factor (``i`` marks an integer)."""

VALUE_OFFSET = 2**27
"""Data-package values are sent as 7 hex digits of ``value + 2**27``."""

STATUS_FLAGS = {0x1: "timing error", 0x2: "overload", 0x4: "underload", 0x8: "overload warning"}

_ERROR = re.compile(r"!([0-9A-Fa-f]{4})(?::\s*(.*))?")
_LITERAL_PREFIXES = ("E", "P", "T", "G", "M", "k", "", "m", "u", "n", "p", "f", "a")
_LITERAL_FACTORS = {"": 1.0, **{k: v for k, v in SI_PREFIXES.items() if k not in (" ", "i")}}

ERROR_MEANINGS = {
    0x0001: "unknown error", 0x0002: "invalid VarType", 0x0003: "command not known",
    0x0004: "unknown register", 0x0005: "register is read-only", 0x0006: "wrong mode / nothing to abort",
    0x0007: "invalid argument", 0x0008: "argument out of range", 0x0009: "script syntax error",
}
"""A few MethodSCRIPT error codes (the full table is in the MethodSCRIPT manual; meanings are indicative)."""


class MethodScriptFormatError(ValueError):
    """A line that should be a data package or an error line cannot be decoded."""


@dataclass(frozen=True)
class Variable:
    """One decoded package variable: 2-char type id, SI value, optional status bits and range index."""

    type_id: str
    value: float
    status: int = 0
    current_range: int | None = None


@dataclass(frozen=True)
class Package:
    """One decoded data package (``P...`` line), variables in the order the script added them."""

    variables: tuple[Variable, ...] = field(default_factory=tuple)

    def get(self, *type_ids: str) -> float | None:
        """Value of the first variable whose type id is one of ``type_ids`` (in that order), else None."""
        for wanted in type_ids:
            for var in self.variables:
                if var.type_id == wanted:
                    return var.value
        return None


def si_literal(value: float) -> str:
    """Encode a number as a MethodSCRIPT literal: an integer with an SI prefix (``4.05`` -> ``4050m``).

    The smallest mantissa that represents ``value`` to 1 ppm is chosen, so 1e-11 becomes ``10p``, never 0.
    """
    if not math.isfinite(value):
        raise ValueError(f"cannot encode {value!r} as a MethodSCRIPT literal")
    if value == 0:
        return "0"
    for prefix in _LITERAL_PREFIXES:
        factor = _LITERAL_FACTORS[prefix]
        mantissa = round(value / factor)
        if mantissa != 0 and abs(mantissa * factor - value) <= 1e-6 * abs(value):
            return f"{mantissa}{prefix}"
    mantissa = round(value / 1e-18)
    return f"{mantissa}a"


def decode_value(text: str) -> float:
    """Decode ``7 hex digits + SI prefix`` (8 characters) into a float in SI units."""
    if text.strip() == "nan":
        return math.nan
    if len(text) < 8:
        raise MethodScriptFormatError(f"value field {text!r} is shorter than 8 characters")
    try:
        raw = int(text[:7], 16) - VALUE_OFFSET
        factor = SI_PREFIXES[text[7]]
    except (ValueError, KeyError) as exc:
        raise MethodScriptFormatError(f"cannot decode value field {text!r}") from exc
    return raw * factor


def encode_value(value: float, prefix: str) -> str:
    """Inverse of :func:`decode_value` for a chosen SI prefix (used by tests and fakes)."""
    raw = round(value / SI_PREFIXES[prefix]) + VALUE_OFFSET
    if not 0 <= raw < 16**7:
        raise ValueError(f"{value!r} does not fit 7 hex digits with prefix {prefix!r}")
    return f"{raw:07X}{prefix}"


def decode_variable(text: str) -> Variable:
    """Decode one ``;``-separated package field, e.g. ``ba82AB973f,14,284``."""
    head, *meta = text.split(",")
    if len(head) < 3:
        raise MethodScriptFormatError(f"package field {text!r} is too short")
    value = decode_value(head[2:])
    status = 0
    current_range = None
    for token in meta:
        if len(token) == 2 and token[0] == "1":
            status = int(token[1], 16)
        elif len(token) == 3 and token[0] == "2":
            current_range = int(token[1:], 16)
    return Variable(head[:2], value, status, current_range)


def decode_package(line: str) -> Package:
    """Decode a data package line (``P`` + fields), with or without the trailing newline."""
    line = line.rstrip("\r\n")
    if not line.startswith("P"):
        raise MethodScriptFormatError(f"not a data package: {line!r}")
    return Package(tuple(decode_variable(field_) for field_ in line[1:].split(";") if field_))


def find_error(line: str) -> tuple[int, str] | None:
    """``(code, detail)`` if the line carries a MethodSCRIPT error (``!XXXX[: detail]``), else None."""
    match = _ERROR.search(line)
    if match is None:
        return None
    code = int(match.group(1), 16)
    detail = (match.group(2) or "").strip() or ERROR_MEANINGS.get(code, "see the MethodSCRIPT manual")
    return code, detail


def status_text(status: int) -> str:
    """Human-readable status bits of a package variable (``"OK"`` when none is set)."""
    names = [name for bit, name in STATUS_FLAGS.items() if status & bit]
    return " | ".join(names) if names else "OK"
