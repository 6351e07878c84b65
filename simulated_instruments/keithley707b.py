"""Keithley 707B switch matrix emulator: a TSP subset over a socket (``\\n`` terminated).

Understood: ``channel.close("1A01,1B04")``, ``channel.open("1A01" | "slot1" | "allslots")``,
``channel.exclusiveclose(...)``, ``channel.reset(...)``, ``print(channel.getclose("allslots" | "slot1"))``
(``1A01;1B04``, or ``nil`` when none is closed), ``channel.connectrule = channel.BREAK_BEFORE_MAKE`` and
``print(channel.connectrule)``, ``channel.setforbidden``/``clearforbidden``/
``print(channel.getforbidden(..))``,
``print(slot[1].idn)``, ``*IDN?``, ``reset()``, ``errorqueue.clear()``, ``print(errorqueue.count)``,
``print(errorqueue.next())`` (TAB-separated ``code, message, severity, node``; ``0 Queue Is Empty`` when
empty), ``localnode.*`` assignments. Several statements may share a line. Channel lists accept commas and
rectangular ranges (``1A01:1B04``). Numbers print like TSP with ``format.asciiprecision`` 6
(``0.00000e+00``). Anything else queues error -285 (TSP syntax error) and replies nothing.
The card is an 8x12 low-current matrix in slot 1 (rows A-H, columns 01-12); rows A-D / columns 01-04 are
wired to the chip (``wiring``).

Verdicts as strict as the firmware (Models 707B and 708B Switching Matrix Reference Manual, 707B-901-01
Rev. B, January 2015, section 7 "TSP command reference"):

* ``channel.close(list)`` (p. 7-17): "An error is generated if the parameter string contains slotX, where X
  is 1 to 6, or allslots"; "once an error is detected ... no channels are closed". So
  ``channel.close("allslots")`` or ``("slot1")`` queues a parameter error and closes nothing (it never
  closes the 96 crosspoints).
* ``channel.exclusiveclose(list)`` (p. 7-22): "If the channelList parameter is an empty string or a string
  of spaces, all channels are opened" (accepted, also when nothing is closed); ``slotX``/``allslots`` in the
  list is an error, as for ``close``; channels open or close only if no errors are found.
* ``channel.open(list)`` accepts ``slotX`` and ``allslots`` (the manual's own example,
  ``channel.open("allslots")``, p. 7-17).

The error code queued for these (1115, "Parameter error") is this emulator's choice: the manual lists the
conditions, not the code.
"""

from __future__ import annotations

import re
from typing import Any

from simulated_instruments.emulator import Reply
from simulated_instruments.errorqueue import TspErrorQueue
from simulated_instruments.tsp import TspError, tsp_number
from simulated_instruments.wiring import CARD_COLUMNS, CARD_ROWS, Wiring

IDN = "KEITHLEY INSTRUMENTS INC.,MODEL 707B,04123456,1.5.0"
CARD_IDN = "7174A,8x12 Low Current Matrix,01.00a,1234567"
RULES = {"BREAK_BEFORE_MAKE": 1, "MAKE_BEFORE_BREAK": 2, "OFF": 0}


_STR = r"""\s*(?:"([^"]*)"|'([^']*)')\s*"""
_STATEMENTS: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern)) for name, pattern in [
        ("idn", r"\*IDN\?"),
        ("rst", r"\*RST|reset\(\s*\)"),
        ("cls", r"\*CLS|errorqueue\.clear\(\s*\)"),
        ("opc", r"\*OPC\?"),
        ("close", r"channel\.close\(" + _STR + r"\)"),
        ("open", r"channel\.open\(" + _STR + r"\)"),
        ("exclusiveclose", r"channel\.exclusiveclose\(" + _STR + r"\)"),
        ("reset_ch", r"channel\.reset\(" + _STR + r"\)"),
        ("setforbidden", r"channel\.setforbidden\(" + _STR + r"\)"),
        ("clearforbidden", r"channel\.clearforbidden\(" + _STR + r"\)"),
        ("print_getclose", r"print\(\s*channel\.getclose\(" + _STR + r"\)\s*\)"),
        ("print_getforbidden", r"print\(\s*channel\.getforbidden\(" + _STR + r"\)\s*\)"),
        ("set_rule", r"channel\.connectrule\s*=\s*(?:channel\.)?([A-Z_]+|\d+)"),
        ("print_rule", r"print\(\s*channel\.connectrule\s*\)"),
        ("print_slot_idn", r"print\(\s*slot\[\s*(\d+)\s*\]\.idn\s*\)"),
        ("print_err_count", r"print\(\s*errorqueue\.count\s*\)"),
        ("print_err_next", r"print\(\s*errorqueue\.next\(\s*\)\s*\)"),
        ("localnode", r"localnode\.[a-z_.]+\s*=\s*[\w.]+"),
        ("print_string", r"print\(" + _STR + r"\)"),
    ]
]


class Keithley707B(TspErrorQueue):
    """The matrix: crosspoint state lives in ``wiring`` (shared with the SMU and potentiostat emulators)."""

    def __init__(self, name: str, clock: Any, faults: Any, wiring: Wiring) -> None:
        super().__init__(name, clock, faults)
        self.wiring = wiring
        self.connectrule = 1
        self.forbidden: set[str] = set()

    def output_on(self) -> bool:
        return bool(self.wiring.closed)

    def handle(self, line: str, conn: Reply) -> str | None:
        out: list[str] = []
        pos = 0
        text = line.strip()
        while pos < len(text):
            while pos < len(text) and text[pos] in " \t;":
                pos += 1
            if pos >= len(text):
                break
            for name, pattern in _STATEMENTS:
                m = pattern.match(text, pos)
                if m:
                    try:
                        reply = self._run(name, m)
                    except TspError as err:
                        self._queue(err.code, err.message)
                        return "\n".join(out) + "\n" if out else None
                    if reply is not None:
                        out.append(reply)
                    pos = m.end()
                    break
            else:
                near = text[pos:pos + 20]
                self._queue(-285, f"TSP Syntax error at line 1: unexpected symbol near `{near}'")
                break
        return "\n".join(out) + "\n" if out else None

    def _run(self, name: str, m: re.Match[str]) -> str | None:
        arg = next((g for g in m.groups() if g is not None), "") if m.groups() else ""
        if name == "idn":
            return IDN
        if name == "rst":
            self.wiring.open()
            self.queue.clear()
            self.connectrule = 1
            self.forbidden.clear()
        elif name == "cls":
            self.queue.clear()
        elif name == "opc":
            return "1"
        elif name == "close":
            self._refuse_slots("channel.close", arg)
            channels = self._channels(arg)
            self._check_forbidden(channels)
            self.wiring.close(channels)
        elif name in ("open", "reset_ch"):
            channels = self._channels(arg)
            self.wiring.open(None if arg.strip().lower() == "allslots" else channels)
        elif name == "exclusiveclose":
            if not arg.strip():  # 707B-901-01 p. 7-22: an empty list (or spaces) opens every channel
                self.wiring.open()
                return None
            self._refuse_slots("channel.exclusiveclose", arg)
            channels = self._channels(arg)
            self._check_forbidden(channels)
            # break before make: everything else opens first
            self.wiring.open(self.wiring.closed - channels)
            self.wiring.close(channels)
        elif name == "setforbidden":
            self.forbidden |= self._channels(arg)
        elif name == "clearforbidden":
            self.forbidden -= self._channels(arg)
        elif name == "print_getclose":
            scope = self._channels(arg)
            closed = sorted(self.wiring.closed & scope, key=_channel_key)
            return ";".join(closed) if closed else "nil"
        elif name == "print_getforbidden":
            forb = sorted(self.forbidden & self._channels(arg), key=_channel_key)
            return ";".join(forb) if forb else "nil"
        elif name == "set_rule":
            value = m.group(1)
            rule = RULES.get(value) if not value.isdigit() else int(value)
            if rule not in (0, 1, 2):
                raise TspError(-286, f"TSP Runtime error: invalid connect rule {value}")
            self.connectrule = rule
        elif name == "print_rule":
            return tsp_number(self.connectrule)
        elif name == "print_slot_idn":
            if m.group(1) != "1":
                return "Empty Slot"
            return CARD_IDN
        elif name == "print_err_count":
            return tsp_number(len(self.queue))
        elif name == "print_err_next":
            if not self.queue:
                return f"{tsp_number(0)}\tQueue Is Empty\t{tsp_number(0)}\t{tsp_number(1)}"
            code, message = self.queue.popleft()
            return f"{tsp_number(code)}\t{message}\t{tsp_number(2)}\t{tsp_number(1)}"
        elif name == "print_string":
            return arg
        return None

    @staticmethod
    def _refuse_slots(call: str, spec: str) -> None:
        """``close``/``exclusiveclose`` refuse ``slotX`` and ``allslots`` (707B-901-01 pp. 7-17, 7-22)."""
        for raw in spec.split(","):
            item = raw.strip().lower()
            if item == "allslots" or re.fullmatch(r"slot[1-6]", item):
                raise TspError(1115, f"Parameter error: {call} does not accept {raw.strip()!r}")

    def _check_forbidden(self, channels: set[str]) -> None:
        bad = channels & self.forbidden
        if bad:
            raise TspError(1115, f"Parameter error: channel {sorted(bad)[0]} is forbidden to close")

    def _channels(self, spec: str) -> set[str]:
        """Expand a channel list (``1A01,1B04``, ``1A01:1B04``, ``slot1``, ``allslots``)."""
        out: set[str] = set()
        for raw in spec.split(","):
            item = raw.strip()
            low = item.lower()
            if low in ("allslots", "slot1"):
                out |= {f"1{r}{c:02d}" for r in CARD_ROWS for c in range(1, CARD_COLUMNS + 1)}
                continue
            if re.fullmatch(r"slot[2-6]", low):
                continue
            if ":" in item:
                a, b = (_parse_channel(x.strip()) for x in item.split(":", 1))
                if a[0] != b[0]:
                    raise TspError(1115, f"Parameter error: invalid channel range {item}")
                r0, r1 = sorted((CARD_ROWS.index(a[1]), CARD_ROWS.index(b[1])))
                c0, c1 = sorted((a[2], b[2]))
                out |= {f"1{CARD_ROWS[r]}{c:02d}" for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}
            else:
                slot, row, col = _parse_channel(item)
                out.add(f"{slot}{row}{col:02d}")
        return out


def _parse_channel(item: str) -> tuple[int, str, int]:
    m = re.fullmatch(r"([1-6])([A-Ha-h])(\d{2})", item)
    if not m or m.group(1) != "1" or not 1 <= int(m.group(3)) <= CARD_COLUMNS:
        raise TspError(1115, f"Parameter error: invalid channel {item or '(empty)'}")
    return int(m.group(1)), m.group(2).upper(), int(m.group(3))


def _channel_key(ch: str) -> tuple[int, str, int]:
    return int(ch[0]), ch[1], int(ch[2:])
