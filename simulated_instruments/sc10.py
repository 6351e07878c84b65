"""Thorlabs SC10 shutter controller emulator (``\\r`` terminated, echo + value + ``> `` prompt).

Exactly as the instrument (instrument-protocols.md §4.5): every command is echoed with ``\\r``; a query then
sends its value line with ``\\r``; then the prompt ``> `` with no terminator. Unknown commands answer
``CMD_NOT_DEFINED\\r``, bad arguments ``CMD_ARG_INVALID\\r`` (then the prompt). The shutter is open exactly
when it is enabled (``ens=1``); ``closed?`` answers 1 when it is closed.
"""

from __future__ import annotations

import re
from typing import Any

from simulated_instruments.emulator import Emulator, Reply

IDN = "THORLABS SC10 VERSION 1.07"
PROMPT = "> "
_INT_SETTINGS = {"mode": (1, 5), "open": (0, 999999), "shut": (0, 999999), "rep": (1, 99), "trig": (0, 1),
                 "xto": (0, 1), "baud": (0, 1)}


class SC10(Emulator):
    terminators = b"\r\n"

    def __init__(self, name: str, clock: Any, faults: Any) -> None:
        super().__init__(name, clock, faults)
        self.enabled = False
        self.settings = {"mode": 1, "open": 100, "shut": 100, "rep": 1, "trig": 0, "xto": 0, "baud": 0}

    def output_on(self) -> bool:
        """The shutter is open."""
        return self.enabled

    def is_open(self) -> bool:
        with self.lock:
            return self.enabled

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
        low = cmd.lower()
        if low == "id?":
            return IDN
        if low == "ens?":
            return "1" if self.enabled else "0"
        if low == "ens":  # older firmware: toggle
            self.enabled = not self.enabled
            return None
        if low == "closed?":
            return "0" if self.enabled else "1"
        if low == "interlock?":
            return "0"
        if low in ("savp", "save", "resp"):
            return None
        if low == "default":
            self.enabled = False
            return None
        m = re.fullmatch(r"ens=(\S*)", low)
        if m:
            if m.group(1) not in ("0", "1"):
                self.record_error(f"bad argument {cmd!r}")
                return "CMD_ARG_INVALID"
            self.enabled = m.group(1) == "1"
            return None
        m = re.fullmatch(r"([a-z]+)\?", low)
        if m and m.group(1) in _INT_SETTINGS:
            return str(self.settings[m.group(1)])
        m = re.fullmatch(r"([a-z]+)=(\S*)", low)
        if m and m.group(1) in _INT_SETTINGS:
            lo, hi = _INT_SETTINGS[m.group(1)]
            if not m.group(2).isdigit() or not lo <= int(m.group(2)) <= hi:
                self.record_error(f"bad argument {cmd!r}")
                return "CMD_ARG_INVALID"
            self.settings[m.group(1)] = int(m.group(2))
            return None
        self.record_error(f"unknown command {cmd!r}")
        return "CMD_NOT_DEFINED"
