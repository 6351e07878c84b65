"""Acton SpectraPro monochromator emulator (SP-2150i type): CR-terminated commands, echo + ``" ok"`` CR LF.

Framing, as the SP-2150i manual documents it and controller transcripts show (instrument-protocols.md §4.4;
``drivers/spectrapro.py`` cites the sources): the controller echoes what it received, the CR as a space,
then the value (if any) followed by a space, then ``" ok"`` CR LF once the command completed:

- ``?NM``        -> ``?NM 500.000 nm  ok\\r\\n``
- ``500.0 GOTO`` -> ``500.0 GOTO  ok\\r\\n``
- ``?GRATINGS``  -> ``?GRATINGS \\r\\n``, one line per position (``\\x1a`` marks the one in use),
  ``" ok\\r\\n"``
- an unknown word -> ``<echo> <word> ? \\r\\n`` (no ok).

Emulator assumptions, not in the manual: a GOTO beyond the grating's mechanical limit (``11200 * 150 / g``
nm), a negative wavelength, a parameter that is not a number, a missing parameter, and a grating position
that is not 1..9 or holds no grating, are all refused in the same ``?`` form and change nothing. Keywords
are matched case-insensitively. One command per line (the real controller also takes strings of several).
Moves complete before the reply (the real one answers when the grating stopped; the emulator does not
model the slew time).
"""

from __future__ import annotations

import re
from typing import Any

from simulated_instruments.emulator import Emulator, Reply

MODEL = "SP-2-150i"
SERIAL = "21509999"
LIMIT_NM_G_PER_MM = 11200.0 * 150.0
DEFAULT_GRATINGS: dict[int, tuple[float, str]] = {1: (1200.0, "500NM"), 2: (600.0, "750NM"),
                                                   3: (150.0, "800NM")}
"""Turret 1 as shipped here: position -> (grooves/mm, blaze); positions 4..9 not installed."""
_NUMBER = re.compile(r"^-?\d+(?:\.\d*)?$|^-?\.\d+$")
_QUERIES = ("?NM", "?GRATING", "?GRATINGS", "MODEL", "SERIAL", "?NM/MIN", "?TURRET")
_WITH_PARAMETER = ("GOTO", "GRATING")


class SpectraPro(Emulator):
    terminators = b"\r"

    def __init__(self, name: str, clock: Any, faults: Any,
                 gratings: dict[int, tuple[float, str]] | None = None) -> None:
        super().__init__(name, clock, faults)
        self.gratings = dict(DEFAULT_GRATINGS if gratings is None else gratings)
        self.grating = min(self.gratings)
        self.wavelength_nm = 0.0

    def limit_nm(self) -> float:
        return LIMIT_NM_G_PER_MM / self.gratings[self.grating][0]

    # --- protocol -----------------------------------------------------------------------------------------
    def overlong(self, conn: Reply) -> str:
        self.record_error("input line too long")
        return " ? \r\n"

    def injected_error(self, line: str, conn: Reply) -> str:
        self.record_error(f"injected error on {line!r}")
        words = line.split()
        return f"{line} {words[-1] if words else ''} ? \r\n"

    def handle(self, line: str, conn: Reply) -> str | None:
        tokens = line.split()
        if not tokens:
            return None
        *params, word = tokens
        refused = self._refusal(params, word.upper())
        if refused is not None:
            self.record_error(f"refused {line!r}: {refused}")
            return f"{line} {refused} ? \r\n"
        return self._execute(line, params[0] if params else None, word.upper())

    def _refusal(self, params: list[str], word: str) -> str | None:
        """The offending token, or None when the line is one the emulator executes."""
        if len(params) > 1:
            return params[0]
        if word in _QUERIES:
            return params[0] if params else None
        if word not in _WITH_PARAMETER:
            return word
        if not params or not _NUMBER.match(params[0]):
            return word if not params else params[0]
        value = float(params[0])
        if word == "GOTO" and not 0.0 <= value <= self.limit_nm():
            return params[0]
        if word == "GRATING" and (value != int(value) or int(value) not in self.gratings):
            return params[0]
        return None

    def _execute(self, line: str, param: str | None, word: str) -> str:
        if word == "GOTO":
            self.wavelength_nm = round(float(param or 0.0), 3)
            return f"{line}  ok\r\n"
        if word == "GRATING":
            self.grating = int(float(param or 0.0))
            return f"{line}  ok\r\n"
        if word == "?GRATINGS":
            return f"{line} \r\n{self._grating_lines()} ok\r\n"
        value = {"?NM": f"{self.wavelength_nm:.3f} nm", "?GRATING": str(self.grating), "MODEL": MODEL,
                 "SERIAL": SERIAL, "?NM/MIN": "100.000 nm/min", "?TURRET": "1"}[word]
        return f"{line} {value}  ok\r\n"

    def _grating_lines(self) -> str:
        out = []
        for position in range(1, 10):
            mark = "\x1a" if position == self.grating else " "
            if position in self.gratings:
                grooves, blaze = self.gratings[position]
                out.append(f"{mark} {position} {grooves:4.0f} g/mm BLZ= {blaze:>6} \r\n")
            else:
                out.append(f"{mark} {position}  Not Installed     \r\n")
        return "".join(out)
