"""Keithley 2600B (2636B) SourceMeter emulator: a TSP subset over a socket (``\n`` terminated).

Understood (``smua`` and ``smub``): ``smuX.source.func`` (``smuX.OUTPUT_DCVOLTS`` = 1,
``OUTPUT_DCAMPS`` = 0), ``levelv``, ``leveli``, ``limiti``, ``limitv``, ``rangev``, ``rangei``,
``autorangev``, ``autorangei``, ``output`` (``OUTPUT_ON``/``OUTPUT_OFF``), ``offmode`` (``OUTPUT_NORMAL``,
``OUTPUT_ZERO``, ``OUTPUT_HIGH_Z``: the driver sends and reads back these names, never their numbers, which
are unconfirmed here), ``print(smuX.source.compliance)`` (``true``/``false``), ``smuX.measure.nplc``
(0.001-25), ``rangei``, ``autorangei``, ``rangev``, ``autorangev``, ``smuX.measure.i()``/``v()``/``iv()``
(current then voltage)/``r()``/``p()``, ``smuX.reset()``, ``reset()``, ``delay(s)``, ``waitcomplete()``,
``errorqueue.count``/``next()``/``clear()``, ``localnode.*`` and ``format.*`` assignments,
``*IDN?``/``*RST``/``*CLS``/``*OPC?``. Numbers print like TSP with ``format.asciiprecision`` 6
(``1.00000e-09``); several ``print`` values are TAB-separated. Errors are queued, never answered: -285
syntax, -286 runtime (unknown name), 1102 parameter too small (2600B Reference Manual 2600BS-901-01 Rev F,
``smuX.source.limitY``: "Using a limit value of 0 results in error code 1102, 'Parameter too small'"),
1101 parameter too big (the neighbouring code; inferred, not confirmed).

Limits (same ``smuX.source.limitY`` entry): ``limiti`` bounds the voltage source's current, ``limitv`` the
current source's voltage; 2636B ranges 100 pA-1.5 A and 20 mV-200 V, defaults 100 mA / 20 V after a reset.
They live in the instrument: every reading of a live output is clamped by them and sets
``smuX.source.compliance``, whether or not a host is still connected.

Accepted as the firmware accepts them (each verdict from Keithley's Series 2600B Reference Manual,
2600BS-901-01 Rev. B, May 2013, section 7, unless noted):

* ``smuX.sense`` (p. 7-217): ``smuX.SENSE_LOCAL`` (0, 2-wire, the reset value), ``smuX.SENSE_REMOTE``
  (1, 4-wire; may change while the output is on), ``smuX.SENSE_CALA`` (3, calibration only: "may only be
  selected when calibration is enabled", which it never is here, so it queues -221 "Settings conflict",
  a code this emulator chose). Any other value is a parameter error (1101/1102/1115). PyMeasure writes
  ``smua.sense=1``. The emulated wiring has no lead resistance, so readings do not depend on it.
* ``format.data`` (2600BS-901-01 Rev. F, p. 9-102): ``format.ASCII`` (1), ``format.SREAL``/``REAL32`` (2),
  ``format.REAL``/``REAL64``/``DREAL`` (3); it only governs ``printnumber()``/``printbuffer()``, which this
  emulator does not implement, so ``print()`` stays ASCII whatever is set. Other values: 1101/1102/1115.
* ``localnode.model`` (``"2636B"``), ``localnode.serialno``, ``localnode.revision``: read-only attributes
  (from ``*IDN?``); writing one is a runtime error (-286).

Scripts (``loadscript``/``endscript``, ``name.run()``, ``abort``; see :mod:`simulated_instruments.tsp_script`
for what the emulator does and on what it rests): a script runs in a real Lua interpreter with ``smua``,
``smub``, ``timer``, ``delay()``, ``print()`` and ``errorqueue`` bound to this instrument; while it runs every
other command waits and runs after it, and ``abort`` ends it at once, leaving the outputs as they are.
Commands read (``print(name)``) and assign (``name = "text"``, a number, ``true``/``false``) the globals of
the same runtime environment (2600BS-901-01 Rev. F p. 8-2; Rev. B p. 6-13).

``smua`` reaches the chip through the SMU rows of the 707B matrix (C = HI, D = LO), exactly like the 2450 it
can replace; ``smub`` is connected to nothing. The lowest current range is 100 pA (measure only). A current
is read with the fixed offset of the measure range in use (within +-half the 2600B datasheet's offset term,
seeded: ``datasheets.apply_range_error``); the sourced level reaches the cell without the source error.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulated_instruments import datasheets, tsp
from simulated_instruments.emulator import Reply
from simulated_instruments.errorqueue import TspErrorQueue
from simulated_instruments.smu_readings import Reading, SmuSettings, measure, snap_range
from simulated_instruments.tsp import TspError, nil_error
from simulated_instruments.tsp_script import ScriptHost
from simulated_instruments.wiring import SourceState, Wiring

IDN = "Keithley Instruments Inc., Model 2636B, 4401234, 4.0.4"
MEASURE_CURRENT_RANGES = (100e-12, 1e-9, 10e-9, 100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0, 1.5)
SOURCE_CURRENT_RANGES = MEASURE_CURRENT_RANGES[1:]  # 100 pA is not available for sourcing
VOLTAGE_RANGES = (200e-3, 2.0, 20.0, 200.0)
CONSTANTS = {"OUTPUT_DCAMPS": 0, "OUTPUT_DCVOLTS": 1, "OUTPUT_OFF": 0, "OUTPUT_ON": 1, "OUTPUT_NORMAL": 0,
             "OUTPUT_ZERO": 1, "OUTPUT_HIGH_Z": 2, "AUTORANGE_OFF": 0, "AUTORANGE_ON": 1,
             "SENSE_LOCAL": 0, "SENSE_REMOTE": 1, "SENSE_CALA": 3}
SENSE_CALA = 3
FORMAT_CONSTANTS = {"format.ASCII": 1, "format.SREAL": 2, "format.REAL32": 2, "format.REAL": 3,
                    "format.REAL64": 3, "format.DREAL": 3}
_IDN_FIELDS = [part.strip() for part in IDN.split(",")]
LOCALNODE_READ_ONLY = {"localnode.model": _IDN_FIELDS[1].removeprefix("Model ").strip(),
                       "localnode.serialno": _IDN_FIELDS[2], "localnode.revision": _IDN_FIELDS[3]}
OFF_MODES = {0: "NORM", 1: "ZERO", 2: "HIMP"}
TOP_LEVEL_NAMES = frozenset({
    "beeper", "bit", "collectgarbage", "dataqueue", "delay", "digio", "display", "errorqueue", "eventlog",
    "exit", "format", "fs", "gcinfo", "gettimezone", "gpib", "io", "lan", "localnode", "makegetter",
    "makesetter", "math", "meminfo", "node", "opc", "os", "print", "printbuffer", "printnumber", "reset",
    "savebuffer", "script", "serial", "settime", "settimezone", "setup", "smua", "smub", "status", "string",
    "timer", "tonumber", "tostring", "trigger", "tspnet", "tsplink", "type", "userstring", "waitcomplete"})
"""The 2600B's top-level command names (2600BS-901-01 Rev. B p. 6-13, "Top level command names"): assigning
one is refused here (the firmware would hide those commands until ``restoreglobals``)."""
_LOADSCRIPT = re.compile(r"^loadscript\s+([A-Za-z_]\w*)\s*$")
_RUN = re.compile(r"^([A-Za-z_]\w*)(?:\.run)?\(\)$")
_WORD = re.compile(r"^[A-Za-z_]\w*$")


@dataclass
class _Channel:
    """One SMU channel's settings (power-on / ``smuX.reset()`` values)."""

    connected: bool
    source: dict[str, float] = field(default_factory=dict)
    measure: dict[str, float] = field(default_factory=dict)
    compliance: bool = False
    sense: int = 0

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.source = {"func": 1, "levelv": 0.0, "leveli": 0.0, "limiti": 100e-3, "limitv": 20.0,
                       "rangev": 200e-3, "rangei": 100e-9, "autorangev": 1, "autorangei": 1, "output": 0,
                       "offmode": 0}
        self.measure = {"nplc": 1.0, "rangei": 100e-9, "rangev": 200e-3, "autorangei": 1, "autorangev": 1}
        self.compliance = False
        self.sense = 0  # smuX.SENSE_LOCAL


_SOURCE_LIMITS: dict[str, tuple[float, float]] = {
    "levelv": (-202.0, 202.0), "leveli": (-1.515, 1.515), "limiti": (1e-10, 1.515), "limitv": (0.02, 202.0),
    "rangev": (0.0, 202.0), "rangei": (0.0, 1.515),
}
_MEASURE_LIMITS: dict[str, tuple[float, float]] = {
    "nplc": (0.001, 25.0), "rangei": (0.0, 1.515), "rangev": (0.0, 202.0),
}
_ENUMS = {("source", "func"): (0, 1), ("source", "output"): (0, 1), ("source", "offmode"): (0, 1, 2),
          ("source", "autorangev"): (0, 1), ("source", "autorangei"): (0, 1),
          ("measure", "autorangei"): (0, 1), ("measure", "autorangev"): (0, 1)}


class Keithley2600(TspErrorQueue):
    """The 2636B state machine; see the module docstring for the command subset."""

    def __init__(self, name: str, clock: Any, faults: Any, *, model: Any, wiring: Wiring,
                 seed: int = 0) -> None:
        super().__init__(name, clock, faults)
        self.model = model
        self.wiring = wiring
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.channels = {"a": _Channel(connected=True), "b": _Channel(connected=False)}
        self._script_clock = threading.local()
        """``t``: the running script's own time (simulated s), in the script's thread only."""
        self.misc: dict[str, Any] = {"format.asciiprecision": 6.0, "format.data": 1.0,
                                     "localnode.prompts": 0.0, "localnode.showerrors": 0.0}
        self._push_wiring()
        self._timer0 = clock.now()
        self._loading: tuple[str, list[str]] | None = None
        self._waiting: list[tuple[str, Reply]] = []
        """Commands that arrived while a script ran: they run, in order, when it has ended."""
        self._scripts: ScriptHost | None = None

    # ------------------------------------------------------------------ scripts
    @property
    def scripts(self) -> ScriptHost:
        if self._scripts is None:
            names = _Names(self)
            self._scripts = ScriptHost(self.lock, names.get, names.set, names.call, self._sleep, self._queue,
                                       self._script_started)
        return self._scripts

    @property
    def script_running(self) -> bool:
        return self._scripts is not None and self._scripts.running

    def now(self) -> float:
        """The instrument's time (simulated s). In a script it runs on the script's own clock: each
        ``delay()`` and integration adds exactly its time, and the thread waits for the bench clock only
        when ahead of it. So a script whose thread wakes late (a busy host at a high speed factor) still
        samples on its grid, like the instrument's own timer, instead of jumping simulated seconds."""
        t = getattr(self._script_clock, "t", None)
        return self.clock.now() if t is None else t

    def _advance(self, sim_s: float, abort: threading.Event | None = None) -> None:
        """Let ``sim_s`` simulated seconds pass on the instrument (a delay, an integration)."""
        t = getattr(self._script_clock, "t", None)
        if t is None:
            self.clock.sleep(sim_s)
            return
        self._script_clock.t = t + sim_s
        wall = self.clock.wall_for(self._script_clock.t - self.clock.now())
        if wall > 0:
            if abort is not None:
                abort.wait(wall)
            else:
                self.clock.sleep(self._script_clock.t - self.clock.now())

    def _sleep(self, sim_s: float, abort: threading.Event) -> None:
        """``delay()`` in a script: simulated seconds, cut short by an abort."""
        self._advance(sim_s, abort)

    def _script_started(self) -> None:
        """In the script's thread, before its first statement: its clock starts at the bench's now."""
        self._script_clock.t = self.clock.now()

    def _script_line(self, text: str, conn: Reply) -> bool:
        """Handle ``text`` if it is script business (loading, running, abort, waiting); True if handled."""
        if self._loading is not None:
            name, lines = self._loading
            if text.strip() == "endscript":
                self._loading = None
                try:
                    self.scripts.load(name, lines)
                except TspError as err:
                    self._queue(err.code, err.message)
            else:
                lines.append(text)
            return True
        if text.strip() == "abort":
            if self._scripts is not None:
                self._scripts.abort()
            return True
        if self.script_running:
            self._waiting.append((text, conn))
            return True
        m = _LOADSCRIPT.match(text.strip())
        if m:
            self._loading = (m.group(1), [])
            return True
        m = _RUN.match(text.strip())
        if m and self._scripts is not None and m.group(1) in self._scripts.scripts:
            self._scripts.run(m.group(1), lambda line: _send_if_open(conn, line), self._script_done)
            return True
        return False

    def _script_done(self) -> None:
        """A script has ended: run what waited meanwhile (unless another script starts)."""
        self._script_clock.t = None  # back on the bench's clock
        with self.lock:
            while self._waiting and not self.script_running:
                text, conn = self._waiting.pop(0)
                reply = self.handle(text, conn)
                if reply is not None:
                    _send_if_open(conn, reply)

    def stop(self) -> None:
        if self._scripts is not None:
            self._scripts.abort()
            self._scripts.join(2.0)

    # ------------------------------------------------------------------ state
    def output_on(self) -> bool:
        return bool(self.channels["a"].source["output"])

    def _push_wiring(self) -> None:
        a = self.channels["a"].source
        mode = "potential" if a["func"] == 1 else "current"
        level = a["levelv"] if a["func"] == 1 else a["leveli"]
        state = SourceState(bool(a["output"]), mode, level)
        t = getattr(self._script_clock, "t", None)
        if t is None:
            self.wiring.set_smu(state)
        else:  # a script's drive starts at the script's time
            self.wiring.set_smu(state, t=t)

    def _reset_all(self) -> None:
        for ch in self.channels.values():
            ch.reset()
        self._timer0 = self.now()
        self.misc["format.data"] = 1.0  # format.data is "affected by instrument reset" (ASCII)
        self.queue.clear()
        self._push_wiring()

    # ------------------------------------------------------------------ dispatch
    def handle(self, line: str, conn: Reply) -> str | None:
        if self._script_line(line, conn):
            return None
        text = line.strip()
        common = text.upper()
        if common.startswith("*"):
            return self._common(common)
        out: list[str] = []
        try:
            tsp.run(text, _Names(self), out.append)
        except TspError as err:
            self._queue(err.code, err.message)
        return "\n".join(out) + "\n" if out else None

    def _common(self, command: str) -> str | None:
        if command == "*IDN?":
            return IDN + "\n"
        if command == "*RST":
            self._reset_all()
        elif command == "*CLS":
            self.queue.clear()
        elif command == "*OPC?":
            return "1\n"
        elif command not in ("*OPC", "*WAI", "*TRG"):
            self._queue(-285, f"TSP Syntax error at line 1: unexpected symbol near '{command[:20]}'")
        return None

    # ------------------------------------------------------------------ readings
    def reading(self, ch: _Channel, sense: str, *, take_time: bool = True) -> Reading:
        s, m = ch.source, ch.measure
        if take_time:
            self._advance(m["nplc"] / 50.0)  # integration takes NPLC power-line cycles (50 Hz)
        src = "VOLT" if s["func"] == 1 else "CURR"
        auto = bool(m["autorangei"] if sense == "CURR" else m["autorangev"])
        rng = m["rangei"] if sense == "CURR" else m["rangev"]
        settings = SmuSettings(src, s["levelv"] if src == "VOLT" else s["leveli"], s["limiti"], s["limitv"],
                               sense, rng, auto, m["nplc"], bool(s["output"]), OFF_MODES[int(s["offmode"])])
        path = self.wiring.smu_path() if ch.connected else ("open",)
        force = take_time and self.faults.take("compliance_trip") is not None
        reading = measure(self.model, path, self.now(), settings, self.rng, force_trip=force,
                          current_ranges=MEASURE_CURRENT_RANGES, voltage_ranges=VOLTAGE_RANGES,
                          current_error=self._current_error)
        ch.compliance = reading.tripped and bool(s["output"])
        return reading

    def _current_error(self, range_A: float, current_A: float) -> float:
        """A current as read on ``range_A``: plus that range's fixed offset (the 2600B datasheet's measure
        accuracy, ``simulated_instruments.datasheets``; seeded by the bench seed), as the 2450 emulator."""
        return datasheets.apply_range_error("2636B", "measure", "current", range_A, current_A, self.rng,
                                            self.seed)

    def measure_values(self, ch: _Channel, what: str) -> list[float]:
        """``smuX.measure.<what>()``: i, v, iv (current, voltage), r, p."""
        if what == "i":
            return [self.reading(ch, "CURR").value]
        if what == "v":
            return [self.reading(ch, "VOLT").value]
        if what in ("iv", "r", "p"):
            current = self.reading(ch, "CURR")
            volts = (current.source if ch.source["func"] == 1
                     else self.reading(ch, "VOLT", take_time=False).value)
            if what == "iv":
                return [current.value, volts]
            if what == "r":
                return [volts / current.value if current.value else 9.91e37]
            return [volts * current.value]
        raise nil_error(f"smu.measure.{what}")

    def compliance(self, ch: _Channel) -> bool:
        """Live: is the source at its limit now (false with the output off)."""
        if not ch.source["output"]:
            return False
        self.reading(ch, "CURR" if ch.source["func"] == 1 else "VOLT", take_time=False)
        return ch.compliance

    def set_channel(self, ch: _Channel, group: str, key: str, value: Any) -> None:
        store = ch.source if group == "source" else ch.measure
        if key not in store:
            raise nil_error(f"smu.{group}.{key}")
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise TspError(-286, f"TSP Runtime error at line 1: bad value for {group}.{key}")
        enum = _ENUMS.get((group, key))
        if enum is not None:
            if int(value) != value or int(value) not in enum:
                raise TspError(1101 if value > max(enum) else 1102,
                               f"Parameter too {'big' if value > max(enum) else 'small'}")
            store[key] = int(value)
        else:
            lo, hi = (_SOURCE_LIMITS if group == "source" else _MEASURE_LIMITS)[key]
            if value > hi:
                raise TspError(1101, f"Parameter too big ({group}.{key})")
            if value < lo:
                raise TspError(1102, f"Parameter too small ({group}.{key})")
            store[key] = self._ranged(ch, group, key, float(value))
        if group == "source" and key in ("func", "levelv", "leveli", "output"):
            self._push_wiring()

    def _ranged(self, ch: _Channel, group: str, key: str, value: float) -> float:
        """Setting a range picks the smallest range >= value and turns that autorange off."""
        if key in ("rangei", "rangev"):
            table = VOLTAGE_RANGES if key == "rangev" else (
                MEASURE_CURRENT_RANGES if group == "measure" else SOURCE_CURRENT_RANGES)
            store = ch.source if group == "source" else ch.measure
            store["autorange" + key[-1]] = 0
            return snap_range(value, table)
        return value


class _Names(tsp.Namespace):
    """The names a TSP chunk can reach on the 2636B."""

    def __init__(self, emu: Keithley2600) -> None:
        self.emu = emu

    def _channel(self, name: str) -> tuple[_Channel, list[str]]:
        head, _, rest = name.partition(".")
        if head not in ("smua", "smub"):
            raise nil_error(name)
        return self.emu.channels[head[-1]], rest.split(".") if rest else []

    def get(self, name: str) -> Any:
        emu = self.emu
        if name == "errorqueue.count":
            return float(len(emu.queue))
        if name in emu.misc:
            return emu.misc[name]
        if name in FORMAT_CONSTANTS:
            return float(FORMAT_CONSTANTS[name])
        if name in LOCALNODE_READ_ONLY:
            return LOCALNODE_READ_ONLY[name]
        if _WORD.match(name):  # a global of the runtime environment; an unset one is nil
            return emu._scripts.global_value(name) if emu._scripts is not None else None
        ch, parts = self._channel(name)
        if len(parts) == 1 and parts[0] in CONSTANTS:
            return float(CONSTANTS[parts[0]])
        if parts == ["sense"]:
            return float(ch.sense)
        if len(parts) == 2 and parts[0] in ("source", "measure"):
            if parts == ["source", "compliance"]:
                return emu.compliance(ch)
            store = ch.source if parts[0] == "source" else ch.measure
            if parts[1] in store:
                return float(store[parts[1]])
        raise nil_error(name)

    def set(self, name: str, value: Any) -> None:
        emu = self.emu
        if name in LOCALNODE_READ_ONLY or name in FORMAT_CONSTANTS:
            raise TspError(-286, f"TSP Runtime error at line 1: attempt to write a read-only value ({name})")
        if name == "format.data":
            emu.misc[name] = float(_enum_value(value, (1, 2, 3), name))
            return
        if name.startswith(("localnode.", "format.")):
            emu.misc[name] = value
            return
        if _WORD.match(name) and name not in TOP_LEVEL_NAMES:
            # a global of the runtime environment, shared with scripts (see simulated_instruments.tsp_script:
            # 2600BS-901-01 Rev. F p. 8-2, Rev. B p. 6-13 "A global variable is accessible by all commands")
            emu.scripts.set_global(name, value)
            return
        ch, parts = self._channel(name)
        if parts == ["sense"]:
            mode = _enum_value(value, (0, 1, SENSE_CALA), name)
            if mode == SENSE_CALA:  # 2600BS-901-01 p. 7-217: only with calibration enabled
                raise TspError(-221, "Settings conflict: smuX.SENSE_CALA needs calibration enabled")
            ch.sense = mode
            return
        if len(parts) != 2 or parts[0] not in ("source", "measure") or parts == ["source", "compliance"]:
            raise nil_error(name)
        emu.set_channel(ch, parts[0], parts[1], value)

    def call(self, name: str, args: list[Any]) -> list[Any]:
        emu = self.emu
        if name == "reset":
            emu._reset_all()
            return []
        if name == "errorqueue.clear":
            emu.queue.clear()
            return []
        if name == "errorqueue.next":
            if not emu.queue:
                return [0.0, "Queue Is Empty", 0.0, 0.0]
            code, message = emu.queue.popleft()
            return [float(code), message, 2.0, 0.0]
        if name == "delay":
            if len(args) != 1 or not isinstance(args[0], float) or args[0] < 0:
                raise TspError(-286, "TSP Runtime error at line 1: bad argument #1 to 'delay'")
            emu._advance(args[0])
            return []
        if name == "waitcomplete":
            return []
        if name == "timer.reset":
            emu._timer0 = emu.now()
            return []
        if name == "timer.measure.t":
            return [emu.now() - emu._timer0]
        ch, parts = self._channel(name)
        if parts == ["reset"]:
            ch.reset()
            emu._push_wiring()
            return []
        if len(parts) == 2 and parts[0] == "measure":
            return list(emu.measure_values(ch, parts[1]))
        raise nil_error(name)


def _enum_value(value: Any, allowed: tuple[int, ...], name: str) -> int:
    """An enumerated attribute's value: a number among ``allowed``; otherwise 1101/1102 (too big/small,
    like the channel enums), 1115 for a number between allowed values, -286 for a value that is no number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise TspError(-286, f"TSP Runtime error at line 1: bad value for {name}")
    if value > max(allowed):
        raise TspError(1101, f"Parameter too big ({name})")
    if value < min(allowed):
        raise TspError(1102, f"Parameter too small ({name})")
    if int(value) != value or int(value) not in allowed:
        raise TspError(1115, f"Parameter error: {name} takes one of {', '.join(map(str, allowed))}")
    return int(value)


def _send_if_open(conn: Reply, text: str) -> None:
    """Send ``text`` (a line gets its ``\n``) to ``conn``; dropped when that host has gone."""
    if not conn.closed:
        conn.send(text if text.endswith("\n") else text + "\n")
