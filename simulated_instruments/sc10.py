"""Thorlabs SC10 shutter controller emulator (``\\r`` terminated, echo + value + ``> `` prompt).

Framing (instrument-protocols.md §4.5): every command is echoed with ``\\r``; a query then sends its value
line with ``\\r``; then the prompt ``> `` with no terminator. Unknown commands answer ``CMD_NOT_DEFINED\\r``,
bad arguments ``CMD_ARG_INVALID\\r`` (then the prompt).

Verdicts, from the SC10 manual's "Keywords (Commands and Queries)" table (instrument-protocols.md §8):

- Keywords are lower case only ("All commands and queries are in lower case letters"): ``ENS?`` is refused.
- ``ens`` toggles the enable state and takes no argument; ``ens=1``/``ens=0`` are not in the table and are
  refused (InstrumentKit issue 368 / PR 370: a user could not enable a shutter that way).
- ``mode=1..5`` (manual, auto, single, repeat, external gate), ``rep=1..99``, ``open=``/``shut=`` in ms
  with at most 6 digits, ``trig=0|1``, ``xto=0|1``, ``baud=0|1``; anything else is ``CMD_ARG_INVALID``.
- ``closed?`` answers 1 when closed, 0 when open; ``ens?`` 1 when enabled.

What the shutter does once enabled, on the bench's simulated clock (no command needed, so a host that stops
talking still sees it close): manual, open until ``ens`` again; single, open for ``open`` ms, then closed
and disabled; repeat, ``rep`` cycles of ``open`` ms open and ``shut`` ms closed, then disabled; auto, such
cycles until ``ens`` again. External gate mode and the external trigger (``trig=1``) wait for a TTL input the
bench does not have: the shutter stays closed. Emulator assumptions, not in the manual: single and repeat
mode clear the enable state at the end of their cycles, and a mode change while enabled disables first.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass
from typing import Any

from simulated_instruments.emulator import Emulator, Reply

IDN = "THORLABS SC10 VERSION 1.07"
PROMPT = "> "
_INT_SETTINGS = {"mode": (1, 5), "open": (0, 999999), "shut": (0, 999999), "rep": (1, 99), "trig": (0, 1),
                 "xto": (0, 1), "baud": (0, 1)}
_KEYWORDS = ("?", "id?", "ens", "ens?", "rep=n", "rep?", "mode=n", "mode?", "trig=n", "trig?", "xto=n",
             "xto?", "open=n", "open?", "shut=n", "shut?", "closed?", "interlock?", "baud=n", "baud?", "save",
             "savp", "resp")
_HISTORY = 256


@dataclass
class _Enable:
    """One enabled period: open for ``open_s`` then shut for ``shut_s``, ``cycles`` times (None: until
    disabled), from ``start``; ``end`` once disabled by a command. ``open_s`` is inf in manual mode."""

    start: float
    open_s: float
    shut_s: float
    cycles: int | None
    end: float | None = None

    def finish(self) -> float:
        """When it ends by itself (inf when it does not)."""
        if self.cycles is None or math.isinf(self.open_s):
            return math.inf
        return self.start + self.cycles * (self.open_s + self.shut_s) - self.shut_s

    def stop(self) -> float:
        return min(self.finish(), math.inf if self.end is None else self.end)

    def open_intervals(self, t0: float, t1: float) -> list[tuple[float, float]]:
        """The open intervals of this period that overlap [t0, t1]."""
        stop = min(self.stop(), t1)
        if stop <= max(self.start, t0):
            return []
        if math.isinf(self.open_s):
            return [(max(self.start, t0), stop)]
        if self.open_s <= 0:
            return []
        period = self.open_s + self.shut_s
        if period <= 0:
            return []
        k = max(0, math.floor((t0 - self.start) / period))
        out = []
        while True:
            a = self.start + k * period
            if a >= stop or (self.cycles is not None and k >= self.cycles):
                return out
            b = min(a + self.open_s, stop)
            if b > t0 and b > a:
                out.append((max(a, t0), b))
            k += 1


class SC10(Emulator):
    terminators = b"\r\n"

    def __init__(self, name: str, clock: Any, faults: Any) -> None:
        super().__init__(name, clock, faults)
        self.settings = {"mode": 1, "open": 100, "shut": 100, "rep": 1, "trig": 0, "xto": 0, "baud": 0}
        self._periods: deque[_Enable] = deque(maxlen=_HISTORY)

    # --- state on the simulated clock ---------------------------------------------------------------------
    def _current(self, t: float) -> _Enable | None:
        """The enabled period at ``t``, if any."""
        if self._periods:
            last = self._periods[-1]
            if last.start <= t < last.stop():
                return last
        return None

    @property
    def enabled(self) -> bool:
        with self.lock:
            return self._current(self.clock.now()) is not None

    def open_fraction(self, t0: float, t1: float) -> float:
        """Fraction of [t0, t1] (simulated s) during which the shutter was open (a CCD exposure's light)."""
        if t1 <= t0:
            return 1.0 if self._open_at(t0) else 0.0
        with self.lock:
            total = sum(b - a for p in self._periods for a, b in p.open_intervals(t0, t1))
        return min(max(total / (t1 - t0), 0.0), 1.0)

    def _open_at(self, t: float) -> bool:
        with self.lock:
            return any(a <= t < b for p in self._periods for a, b in p.open_intervals(t, t + 1e-9))

    def output_on(self) -> bool:
        """The shutter is open."""
        return self.is_open()

    def is_open(self) -> bool:
        return self._open_at(self.clock.now())

    def _toggle(self) -> None:
        now = self.clock.now()
        current = self._current(now)
        if current is not None:
            current.end = now
            return
        s = self.settings
        mode, open_s, shut_s = s["mode"], s["open"] / 1000.0, s["shut"] / 1000.0
        if mode == 5 or (s["trig"] == 1 and mode in (2, 3, 4)):
            period = _Enable(now, 0.0, math.inf, None)  # armed, waiting for a TTL edge that never comes
        elif mode == 1:
            period = _Enable(now, math.inf, 0.0, 1)
        elif mode == 2:
            period = _Enable(now, open_s, shut_s, None)
        elif mode == 3:
            period = _Enable(now, open_s, 0.0, 1)
        else:
            period = _Enable(now, open_s, shut_s, s["rep"])
        self._periods.append(period)

    def _disable(self) -> None:
        current = self._current(self.clock.now())
        if current is not None:
            current.end = self.clock.now()

    # --- protocol -----------------------------------------------------------------------------------------
    def overlong(self, conn: Reply) -> str:
        self.record_error("input line too long")
        return "CMD_NOT_DEFINED\r" + PROMPT

    def injected_error(self, line: str, conn: Reply) -> str:
        self.record_error(f"injected error on {line!r}")
        return f"{line}\rCMD_ARG_INVALID\r{PROMPT}"

    def handle(self, line: str, conn: Reply) -> str:
        cmd = line.strip()
        value = self._execute(cmd)
        body = "" if value is None else f"{value}\r"
        return f"{line}\r{body}{PROMPT}"

    def _execute(self, cmd: str) -> str | None:
        if cmd != cmd.lower():
            self.record_error(f"unknown command {cmd!r} (keywords are lower case)")
            return "CMD_NOT_DEFINED"
        now = self.clock.now()
        if cmd == "id?":
            return IDN
        if cmd == "ens?":
            return "1" if self._current(now) is not None else "0"
        if cmd == "ens":
            self._toggle()
            return None
        if cmd == "closed?":
            return "0" if self._open_at(now) else "1"
        if cmd == "interlock?":
            return "0"
        if cmd in ("savp", "save", "resp"):
            return None
        if cmd == "?":
            return " ".join(_KEYWORDS)
        m = re.fullmatch(r"([a-z]+)\?", cmd)
        if m and m.group(1) in _INT_SETTINGS:
            return str(self.settings[m.group(1)])
        m = re.fullmatch(r"([a-z]+)=(\S*)", cmd)
        if m and m.group(1) in _INT_SETTINGS:
            key, arg = m.groups()
            lo, hi = _INT_SETTINGS[key]
            if not arg.isdigit() or len(arg) > 6 or not lo <= int(arg) <= hi:
                self.record_error(f"bad argument {cmd!r}")
                return "CMD_ARG_INVALID"
            if key == "mode" and int(arg) != self.settings["mode"]:
                self._disable()
            self.settings[key] = int(arg)
            return None
        self.record_error(f"unknown command {cmd!r}")
        return "CMD_NOT_DEFINED"
