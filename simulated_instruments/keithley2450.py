"""Keithley 2450 SourceMeter emulator: the native SCPI command set, enough for PyMeasure's ``Keithley2450``.

Short and long forms, any case, ``;`` compound messages (trailing ``;`` and ``:*CLS`` tolerated), single or
double quotes. Source V or I with ILIM/VLIM compliance (a clamp, with the trip flag, like the instrument),
current ranges down to 10 nA (10 fA resolution), NPLC = simulated integration time (NPLC / 50 Hz per reading),
``:READ?`` (last reading, also stored in defbuffer1), ``:MEAS:<f>?``, linear and list sweeps into a buffer
(``:INIT``, ``*WAI``, ``:TRAC:ACT:END?``, ``:TRAC:DATA?``), and the event log (``:SYST:ERR?`` answers
``0,"No error;0;0 0"`` when empty, ``-113,"Undefined header;1;<date time>"`` for an unknown header).
The terminals reach the chip only through the 707B matrix (``wiring``).

Status model (Model 2450 Interactive SourceMeter Reference Manual, 2450-901-01 Rev. B, September 2013,
section 6 "STATus subsystem", pp. 6-89 to 6-93): ``:STATus:OPERation:ENABle <n>`` and
``:STATus:QUEStionable:ENABle <n>`` are accepted (n 0 to 65535, the range the 2470 manual 2470-901-01 states
for the same commands; decimal, ``#b`` binary or ``#h`` hexadecimal as p. 6-90 allows; -222 outside) and
their queries answer the register. ``:STATus:OPERation[:EVENt]?``/``:CONDition?`` and the QUEStionable ones
answer 0 (no status events are emulated). ``:STATus:PRESet`` clears both enable registers; ``*RST`` does not
touch them. ``:STATus:MEASurement:ENABle`` and ``:TRACe:FEED`` are 2400-only: -113 here, as on a 2450.

Ranges (SPEC-2450 Rev. A, tables in ``simulated_instruments.datasheets``; 2450-901-01 ``:SOURce[1]:<function>:
RANGe`` and ``:SENSe[1]:<function>:RANGe``): a range value is the largest value to be sourced or measured, so
``:SOUR:CURR:RANG 1e-9`` is accepted and selects the lowest source range, 10 nA (accepted as the manual's
parameter range -1.05..1.05 A allows; not checked on an instrument); a level beyond 1.05 x a fixed range,
an ILIM outside 1 nA..1.05 A or a VLIM outside 20 mV..210 V is -222 "Data out of range". A current is read
with the fixed offset of the measure range in use (within +-half of SPEC-2450's offset, seeded by the
bench seed: ``datasheets.apply_range_error``); the sourced level reaches the cell without the source error
(not emulated yet).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulated_instruments import datasheets, scpi
from simulated_instruments.emulator import Reply
from simulated_instruments.errorqueue import QueuedErrors
from simulated_instruments.scpi import CommandTable, ScpiError, need, to_bool, to_float, unquote
from simulated_instruments.smu_readings import (
    CURRENT_RANGES,
    VOLTAGE_RANGES,
    Reading,
    SmuSettings,
    measure,
    snap_range,
)
from simulated_instruments.wiring import SourceState, Wiring

IDN = "KEITHLEY INSTRUMENTS,MODEL 2450,04470001,1.7.12b"
MAX_EVENTS = 1000
SENSE_NAMES = {"CURR": "CURR", "CURRENT": "CURR", "CURR:DC": "CURR", "CURRENT:DC": "CURR",
               "VOLT": "VOLT", "VOLTAGE": "VOLT", "VOLT:DC": "VOLT", "VOLTAGE:DC": "VOLT",
               "RES": "RES", "RESISTANCE": "RES"}
FUNC_NAMES = {"VOLT": "VOLT", "VOLTAGE": "VOLT", "CURR": "CURR", "CURRENT": "CURR"}
UNITS = {"CURR": "Amp DC", "VOLT": "Volt DC", "RES": "Ohm"}


@dataclass(frozen=True)
class BufferEntry:
    reading: float
    source: float
    t_sim: float
    wall: float
    status: int
    unit: str
    source_unit: str


class ReadingBuffer:
    """A reading buffer (defbuffer1/2 or user-made), fill-continuous with a capacity."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.entries: deque[BufferEntry] = deque(maxlen=capacity)

    def resize(self, capacity: int) -> None:
        self.capacity = capacity
        self.entries = deque(maxlen=capacity)


@dataclass
class _Sweep:
    values: list[float]
    func: str
    delay: float
    fail_abort: bool
    buffer: str


class Keithley2450(QueuedErrors):
    """The SMU state machine; see the module docstring for the command set."""

    def __init__(self, name: str, clock: Any, faults: Any, *, model: Any, wiring: Wiring,
                 seed: int = 0) -> None:
        super().__init__(name, clock, faults)
        self.model = model
        self.wiring = wiring
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.table = CommandTable()
        self._build_table()
        self.events: deque[tuple[int, str, str]] = deque(maxlen=MAX_EVENTS)
        self.status_enable = {"OPER": 0, "QUES": 0}
        """Status-model enable registers (``:STAT:OPER:ENAB``, ``:STAT:QUES:ENAB``); not reset by ``*RST``."""
        self._reset()

    # ------------------------------------------------------------------ state
    def _reset(self) -> None:
        self.source_func = "VOLT"
        self.level = {"VOLT": 0.0, "CURR": 0.0}
        self.ilim = 1.05e-4
        self.vlim = 21.0
        self.src_range = {"VOLT": 20.0, "CURR": 1e-4}
        self.src_auto = {"VOLT": True, "CURR": True}
        self.sense_func = "CURR"
        self.sense_range = {"CURR": 1e-4, "VOLT": 20.0, "RES": 2e5}
        self.sense_auto = {"CURR": True, "VOLT": True, "RES": True}
        self.nplc = {"CURR": 1.0, "VOLT": 1.0, "RES": 1.0}
        self.output = False
        self.off_mode = {"VOLT": "NORM", "CURR": "NORM"}
        self.tripped = {"VOLT": False, "CURR": False}  # keyed by source function
        self.precision = 0
        self.buffers = {"defbuffer1": ReadingBuffer(100000), "defbuffer2": ReadingBuffer(100000)}
        self.lists: dict[str, list[float]] = {"VOLT": [], "CURR": []}
        self.sweep: _Sweep | None = None
        self.settings: dict[str, str] = {}
        self._push_wiring()

    def output_on(self) -> bool:
        return self.output

    def _push_wiring(self) -> None:
        mode = "current" if self.source_func == "CURR" else "potential"
        self.wiring.set_smu(SourceState(self.output, mode, self.level[self.source_func]))

    # ------------------------------------------------------------------ errors
    def _queue(self, code: int, message: str) -> None:
        stamp = time.strftime("%Y/%m/%d %H:%M:%S") + f".{int(time.time() * 1000) % 1000:03d}"
        self.events.append((code, message, stamp))
        self.record_error(f"{code},{message}")

    # ------------------------------------------------------------------ dispatch
    def handle(self, line: str, conn: Reply) -> str | None:
        replies = scpi.execute(self.table, line, self._queue)
        return ";".join(replies) + "\n" if replies else None  # type: ignore[arg-type]

    def _fmt(self, value: float) -> str:
        digits = self.precision if self.precision > 0 else 7
        return f"{value:.{digits - 1}E}"

    # ------------------------------------------------------------------ table
    def _build_table(self) -> None:
        t = self.table
        t.add("*IDN?", lambda a: IDN)
        t.add("*RST", lambda a: self._reset())
        t.add("*CLS", lambda a: self.events.clear())
        t.add("*OPC?", lambda a: "1")
        t.add("*OPC", lambda a: None)
        t.add("*WAI", lambda a: None)
        t.add("*TRG", lambda a: None)
        t.add("*STB?", lambda a: "0")
        t.add("*ESR?", lambda a: "0")
        t.add("*SRE", lambda a: None)
        t.add("*ESE", lambda a: None)
        t.add("*LANG?", lambda a: "SCPI")
        t.add(":STATus:PRESet", lambda a: self.status_enable.update(OPER=0, QUES=0))
        t.add(":STATus:CLEar", lambda a: None)
        for reg, long in (("OPER", "OPERation"), ("QUES", "QUEStionable")):
            t.add(f":STATus:{long}:ENABle", lambda a, reg=reg: self._set_status_enable(reg, a))
            t.add(f":STATus:{long}:ENABle?", lambda a, reg=reg: str(self.status_enable[reg]))
            t.add(f":STATus:{long}[:EVENt]?", lambda a: "0")
            t.add(f":STATus:{long}:CONDition?", lambda a: "0")
        t.add(":SYSTem:ERRor[:NEXT]?", lambda a: self._next_error())
        t.add(":SYSTem:ERRor:COUNt?", lambda a: str(len(self.events)))
        t.add(":SYSTem:CLEar", lambda a: self.events.clear())
        t.add(":SYSTem:BEEPer[:IMMediate]", lambda a: None)
        t.add(":FORMat:ASCii:PRECision", self._set_precision)
        t.add(":FORMat:ASCii:PRECision?", lambda a: str(self.precision))
        t.add(":FORMat[:DATA]", lambda a: self._setting(":FORM:DATA", a, ("ASC", "ASCII")))
        t.add(":FORMat[:DATA]?", lambda a: "ASC")
        t.add(":SOURce:FUNCtion[:MODE]", self._set_source_func)
        t.add(":SOURce:FUNCtion[:MODE]?", lambda a: self.source_func)
        for f in ("VOLT", "CURR"):
            long = "VOLTage" if f == "VOLT" else "CURRent"
            lim = "ILIMit" if f == "VOLT" else "VLIMit"
            t.add(f":SOURce:{long}[:LEVel][:IMMediate][:AMPLitude]", lambda a, f=f: self._set_level(f, a))
            t.add(f":SOURce:{long}[:LEVel][:IMMediate][:AMPLitude]?", lambda a, f=f: self._fmt(self.level[f]))
            t.add(f":SOURce:{long}:{lim}[:LEVel]", lambda a, f=f: self._set_limit(f, a))
            t.add(f":SOURce:{long}:{lim}[:LEVel]?",
                  lambda a, f=f: self._fmt(self.ilim if f == "VOLT" else self.vlim))
            t.add(f":SOURce:{long}:{lim}[:LEVel]:TRIPped?", lambda a, f=f: "1" if self.tripped[f] else "0")
            t.add(f":SOURce:{long}:RANGe", lambda a, f=f: self._set_source_range(f, a))
            t.add(f":SOURce:{long}:RANGe?", lambda a, f=f: self._fmt(self.src_range[f]))
            t.add(f":SOURce:{long}:RANGe:AUTO", lambda a, f=f: self._set_flag(self.src_auto, f, a))
            t.add(f":SOURce:{long}:RANGe:AUTO?", lambda a, f=f: "1" if self.src_auto[f] else "0")
            for sub in ("DELay", "DELay:AUTO", "READ:BACK", "HIGH:CAPacitance"):
                key = f":SOUR:{f}:{sub}"
                t.add(f":SOURce:{long}:{sub}", lambda a, key=key: self._setting(key, a))
                t.add(f":SOURce:{long}:{sub}?", lambda a, key=key: self.settings.get(key, "0"))
            t.add(f":SOURce:LIST:{long}", lambda a, f=f: self._set_list(f, a, append=False))
            t.add(f":SOURce:LIST:{long}:APPend", lambda a, f=f: self._set_list(f, a, append=True))
            t.add(f":SOURce:LIST:{long}?", lambda a, f=f: ",".join(self._fmt(v) for v in self.lists[f]))
            t.add(f":SOURce:LIST:{long}:POINts?", lambda a, f=f: str(len(self.lists[f])))
            t.add(f":SOURce:SWEep:{long}:LINear", lambda a, f=f: self._sweep_linear(f, a))
            t.add(f":SOURce:SWEep:{long}:LIST", lambda a, f=f: self._sweep_list(f, a))
            t.add(f":OUTPut[:STATe]:{long}:SMODe", lambda a, f=f: self._set_off_mode(f, a))
            t.add(f":OUTPut:{long}:SMODe", lambda a, f=f: self._set_off_mode(f, a))
            t.add(f":OUTPut:{long}:SMODe?", lambda a, f=f: self.off_mode[f])
        t.add(":SENSe[:FUNCtion][:ON]", self._set_sense_func)
        t.add(":SENSe[:FUNCtion][:ON]?", lambda a: f'"{self.sense_func}:DC"' if self.sense_func != "RES"
              else '"RES"')
        for f, long in (("CURR", "CURRent"), ("VOLT", "VOLTage"), ("RES", "RESistance")):
            t.add(f":SENSe:{long}[:DC]:RANGe[:UPPer]", lambda a, f=f: self._set_sense_range(f, a))
            t.add(f":SENSe:{long}[:DC]:RANGe[:UPPer]?", lambda a, f=f: self._fmt(self.sense_range[f]))
            t.add(f":SENSe:{long}[:DC]:RANGe:AUTO", lambda a, f=f: self._set_flag(self.sense_auto, f, a))
            t.add(f":SENSe:{long}[:DC]:RANGe:AUTO?", lambda a, f=f: "1" if self.sense_auto[f] else "0")
            t.add(f":SENSe:{long}[:DC]:NPLCycles", lambda a, f=f: self._set_nplc(f, a))
            t.add(f":SENSe:{long}[:DC]:NPLCycles?", lambda a, f=f: self._fmt(self.nplc[f]))
            for sub in ("AZERo[:STATe]", "AVERage[:STATe]", "AVERage:COUNt", "AVERage:TCONtrol",
                        "RANGe:AUTO:LLIMit", "RANGe:AUTO:ULIMit", "RSENse", "OCOMpensated"):
                key = f":SENS:{f}:{sub}"
                t.add(f":SENSe:{long}[:DC]:{sub}", lambda a, key=key: self._setting(key, a))
                t.add(f":SENSe:{long}[:DC]:{sub}?", lambda a, key=key: self.settings.get(key, "0"))
        t.add(":OUTPut[:STATe]", self._set_output)
        t.add(":OUTPut[:STATe]?", lambda a: "1" if self.output else "0")
        t.add(":READ?", self._read)
        t.add(":MEASure?", lambda a: self._measure_func(None, a))
        for f, long in (("CURR", "CURRent"), ("VOLT", "VOLTage"), ("RES", "RESistance")):
            t.add(f":MEASure:{long}[:DC]?", lambda a, f=f: self._measure_func(f, a))
        t.add(":FETCh?", self._fetch)
        t.add(":INITiate[:IMMediate]", lambda a: self._run_sweep())
        t.add(":ABORt", lambda a: None)
        t.add(":TRACe:MAKE", self._make_buffer)
        t.add(":TRACe:CLEar", lambda a: self._buffer(a, 0).entries.clear())
        t.add(":TRACe:POINts", self._set_points)
        t.add(":TRACe:POINts?", lambda a: str(self._buffer(a, 0).capacity))
        t.add(":TRACe:ACTual?", lambda a: str(len(self._buffer(a, 0).entries)))
        t.add(":TRACe:ACTual:STARt?", lambda a: "1" if self._buffer(a, 0).entries else "0")
        t.add(":TRACe:ACTual:END?", lambda a: str(len(self._buffer(a, 0).entries)))
        t.add(":TRACe:DATA?", self._trace_data)
        for stat, fn in (("AVERage", np.mean), ("MAXimum", np.max), ("MINimum", np.min), ("STDDev", np.std)):
            t.add(f":TRACe:STATistics:{stat}?", lambda a, fn=fn: self._stat(a, fn))
        t.add(":ROUTe:TERMinals", lambda a: self._setting(":ROUT:TERM", a, ("FRON", "FRONT", "REAR")))
        t.add(":ROUTe:TERMinals?", lambda a: self.settings.get(":ROUT:TERM", "FRON"))
        t.add(":DISPlay:LIGHt:STATe", lambda a: self._setting(":DISP:LIGH", a))

    # ------------------------------------------------------------------ setters
    def _setting(self, key: str, args: list[str], allowed: tuple[str, ...] | None = None) -> None:
        need(args, 1)
        value = unquote(args[0]).upper()
        if allowed is not None and value not in allowed:
            raise ScpiError(-224, "Illegal parameter value")
        if value in ("ON", "OFF"):
            value = "1" if value == "ON" else "0"
        self.settings[key] = value

    def _set_status_enable(self, register: str, args: list[str]) -> None:
        """``<n>``: decimal, ``#b...`` or ``#h...`` (2450-901-01 p. 6-90), 0 to 65535."""
        need(args, 1)
        text = args[0].strip().upper()
        try:
            if text.startswith("#B"):
                value = int(text[2:], 2)
            elif text.startswith("#H"):
                value = int(text[2:], 16)
            else:
                number = to_float(text)
                if number != int(number):
                    raise ScpiError(-222, "Data out of range")
                value = int(number)
        except ValueError:
            raise ScpiError(-104, "Data type error") from None
        if not 0 <= value <= 65535:
            raise ScpiError(-222, "Data out of range")
        self.status_enable[register] = value

    def _set_precision(self, args: list[str]) -> None:
        need(args, 1)
        self.precision = int(to_float(args[0], 0, 16, default=0))

    def _set_source_func(self, args: list[str]) -> None:
        need(args, 1)
        func = FUNC_NAMES.get(unquote(args[0]).upper())
        if func is None:
            raise ScpiError(-224, "Illegal parameter value")
        if func != self.source_func and self.output:
            self.output = False  # the 2450 turns the output off when the source function changes
        self.source_func = func
        self._push_wiring()

    def _set_level(self, func: str, args: list[str]) -> None:
        need(args, 1)
        top = 210.0 if func == "VOLT" else 1.05
        value = to_float(args[0], -top, top, default=0.0)
        if not self.src_auto[func] and abs(value) > 1.05 * self.src_range[func]:
            raise ScpiError(-222, "Data out of range")
        if self.src_auto[func]:
            ranges = VOLTAGE_RANGES if func == "VOLT" else CURRENT_RANGES
            self.src_range[func] = snap_range(abs(value) / 1.05, ranges)
        self.level[func] = value
        self._push_wiring()

    def _set_limit(self, func: str, args: list[str]) -> None:
        need(args, 1)
        if func == "VOLT":
            self.ilim = to_float(args[0], 1e-9, 1.05, default=1.05e-4)
        else:
            self.vlim = to_float(args[0], 0.02, 210.0, default=21.0)

    def _set_source_range(self, func: str, args: list[str]) -> None:
        need(args, 1)
        ranges = VOLTAGE_RANGES if func == "VOLT" else CURRENT_RANGES
        value = to_float(args[0], -ranges[-1], ranges[-1], default=ranges[-1])
        self.src_range[func] = snap_range(value, ranges)
        self.src_auto[func] = False

    def _set_flag(self, store: dict[str, bool], key: str, args: list[str]) -> None:
        need(args, 1)
        store[key] = to_bool(args[0])

    def _set_off_mode(self, func: str, args: list[str]) -> None:
        need(args, 1)
        mode = args[0].upper()[:4]
        if mode not in ("NORM", "HIMP", "ZERO", "GUAR"):
            raise ScpiError(-224, "Illegal parameter value")
        self.off_mode[func] = mode

    def _set_sense_func(self, args: list[str]) -> None:
        need(args, 1)
        func = SENSE_NAMES.get(unquote(args[0]).upper())
        if func is None:
            raise ScpiError(-224, "Illegal parameter value")
        self.sense_func = func

    def _set_sense_range(self, func: str, args: list[str]) -> None:
        need(args, 1)
        if func == "CURR":
            self.sense_range[func] = snap_range(to_float(args[0], -1.05, 1.05, default=1e-4), CURRENT_RANGES)
        elif func == "VOLT":
            if self.source_func == "VOLT":
                # the measure range follows the source range when sourcing voltage
                raise ScpiError(-221, "Settings conflict")
            self.sense_range[func] = snap_range(to_float(args[0], -210, 210, default=20), VOLTAGE_RANGES)
        else:
            self.sense_range[func] = to_float(args[0], 0, 2e8, default=2e5)
        self.sense_auto[func] = False

    def _set_nplc(self, func: str, args: list[str]) -> None:
        need(args, 1)
        self.nplc[func] = to_float(args[0], 0.01, 10.0, default=1.0)

    def _set_output(self, args: list[str]) -> None:
        need(args, 1)
        self.output = to_bool(args[0])
        self._push_wiring()

    def _set_list(self, func: str, args: list[str], append: bool) -> None:
        need(args, 1)
        top = 210.0 if func == "VOLT" else 1.05
        values = [to_float(a, -top, top) for a in args]
        new = (self.lists[func] + values) if append else values
        if len(new) > 2500:
            raise ScpiError(-222, "Data out of range")
        self.lists[func] = new

    # ------------------------------------------------------------------ readings
    def _settings(self, sense: str | None = None) -> SmuSettings:
        f = sense or self.sense_func
        return SmuSettings(self.source_func, self.level[self.source_func], self.ilim, self.vlim, f,
                           self.sense_range[f], self.sense_auto[f], self.nplc[f], self.output,
                           self.off_mode[self.source_func])

    def _take_reading(self, sense: str | None = None) -> Reading:
        f = sense or self.sense_func
        self.clock.sleep(self.nplc[f] / 50.0)  # integration takes NPLC power-line cycles (50 Hz)
        force = self.faults.take("compliance_trip") is not None
        reading = measure(self.model, self.wiring.smu_path(), self.clock.now(), self._settings(f), self.rng,
                          force_trip=force, current_error=self._current_error)
        self.tripped[self.source_func] = reading.tripped
        return reading

    def _current_error(self, range_A: float, current_A: float) -> float:
        """A current as read on ``range_A``: plus that range's offset (SPEC-2450 measure accuracy, see
        ``simulated_instruments.datasheets``); the datasheet gives no measure noise beyond what
        ``smu_readings`` adds."""
        return datasheets.apply_range_error("2450", "measure", "current", range_A, current_A, self.rng,
                                            self.seed)

    def _store(self, buffer: str, reading: Reading, sense: str) -> None:
        status = 0x04 if reading.tripped else 0  # bit 2: source limit
        self.buffers[buffer].entries.append(BufferEntry(
            reading.value, reading.source, self.clock.now(), time.time(), status, UNITS[sense],
            "Volt DC" if self.source_func == "VOLT" else "Amp DC"))

    def _read(self, args: list[str]) -> str:
        name = unquote(args[0]) if args else "defbuffer1"
        if name not in self.buffers:
            raise ScpiError(-224, "Illegal parameter value")
        reading = self._take_reading()
        self._store(name, reading, self.sense_func)
        elements = [e.upper() for e in args[1:]] or ["READ"]
        buf = self.buffers[name]
        return ",".join(self._element(buf.entries[-1], e, buf) for e in elements)

    def _measure_func(self, func: str | None, args: list[str]) -> str:
        if func is not None:
            self.sense_func = func
        return self._read(args)

    def _fetch(self, args: list[str]) -> str:
        buf = self._buffer(args, 0)
        if not buf.entries:
            raise ScpiError(-230, "Data corrupt or stale")
        elements = [e.upper() for e in args[1:]] or ["READ"]
        return ",".join(self._element(buf.entries[-1], e, buf) for e in elements)

    # ------------------------------------------------------------------ sweeps
    def _sweep_linear(self, func: str, args: list[str]) -> None:
        need(args, 3)
        top = 210.0 if func == "VOLT" else 1.05
        start, stop = to_float(args[0], -top, top), to_float(args[1], -top, top)
        points = int(to_float(args[2], 2, 1e6))
        values = list(np.linspace(start, stop, points))
        self._configure_sweep(func, values, args[3:], dual_index=3)

    def _sweep_list(self, func: str, args: list[str]) -> None:
        need(args, 1)
        first = int(to_float(args[0], 1, max(1, len(self.lists[func]))))
        if not self.lists[func]:
            raise ScpiError(-221, "Settings conflict")
        rest = [args[1] if len(args) > 1 else "-1", args[2] if len(args) > 2 else "1", "FIX",
                args[3] if len(args) > 3 else "OFF", "OFF", args[4] if len(args) > 4 else '"defbuffer1"']
        self._configure_sweep(func, list(self.lists[func][first - 1:]), rest, dual_index=None)

    def _configure_sweep(self, func: str, values: list[float], opts: list[str],
                         dual_index: int | None) -> None:
        # opts: delay, count, rangeType, failAbort, dual, "buffer"
        delay = to_float(opts[0], -1, 1e4) if len(opts) > 0 else -1.0
        count = int(to_float(opts[1], 0, 1e6)) if len(opts) > 1 else 1
        if len(opts) > 2 and opts[2].upper() not in ("AUTO", "BEST", "FIX", "FIXED"):
            raise ScpiError(-224, "Illegal parameter value")
        fail_abort = to_bool(opts[3]) if len(opts) > 3 else True
        dual = to_bool(opts[4]) if len(opts) > 4 else False
        buffer = unquote(opts[5]) if len(opts) > 5 else "defbuffer1"
        if buffer not in self.buffers:
            raise ScpiError(-224, "Illegal parameter value")
        if dual:
            values = values + values[::-1]
        self.source_func = func
        self.sweep = _Sweep(values * max(count, 1), func, 0.0 if delay < 0 else delay, fail_abort, buffer)

    def _run_sweep(self) -> None:
        sweep = self.sweep
        if sweep is None:
            return
        was_on = self.output
        self.output = True  # the sweep's trigger model turns the source on
        self.output_was_on = True  # the log of ":INIT" says so even though the output is off afterwards
        for value in sweep.values:
            self.level[sweep.func] = float(value)
            self._push_wiring()
            self.clock.sleep(sweep.delay)
            reading = self._take_reading()
            self._store(sweep.buffer, reading, self.sense_func)
            if reading.tripped and sweep.fail_abort:
                break
        self.output = was_on
        self._push_wiring()

    # ------------------------------------------------------------------ buffers
    def _buffer(self, args: list[str], index: int) -> ReadingBuffer:
        name = unquote(args[index]) if len(args) > index else "defbuffer1"
        buf = self.buffers.get(name)
        if buf is None:
            raise ScpiError(-224, "Illegal parameter value")
        return buf

    def _make_buffer(self, args: list[str]) -> None:
        need(args, 2)
        name = unquote(args[0])
        if not name or name in self.buffers:
            raise ScpiError(-224, "Illegal parameter value")
        self.buffers[name] = ReadingBuffer(int(to_float(args[1], 1, 6875000)))

    def _set_points(self, args: list[str]) -> None:
        need(args, 1)
        self._buffer(args, 1).resize(int(to_float(args[0], 1, 6875000)))

    def _trace_data(self, args: list[str]) -> str:
        need(args, 2)
        buf = self._buffer(args, 2)
        n = len(buf.entries)
        start, end = int(to_float(args[0], 1, max(n, 1))), int(to_float(args[1], 1, max(n, 1)))
        if n == 0 or end < start:
            raise ScpiError(-222, "Data out of range")
        elements = [e.upper() for e in args[3:]] or ["READ"]
        entries = list(buf.entries)[start - 1:end]
        return ",".join(self._element(e, el, buf) for e in entries for el in elements)

    def _element(self, entry: BufferEntry, element: str, buf: ReadingBuffer) -> str:
        key = element.upper()
        if key.startswith("READ"):
            return self._fmt(entry.reading)
        if key in ("SOUR", "SOURCE"):
            return self._fmt(entry.source)
        if key in ("REL", "RELATIVE"):
            return self._fmt(entry.t_sim - buf.entries[0].t_sim)
        if key in ("SEC", "SECONDS"):
            return str(int(entry.wall))
        if key in ("FRAC", "FRACTIONAL"):
            return self._fmt(entry.wall % 1.0)
        if key in ("STAT", "STATUS"):
            return str(entry.status)
        if key == "UNIT":
            return entry.unit
        if key in ("SOURUNIT", "SOURCEUNIT"):
            return entry.source_unit
        if key in ("TST", "TSTAMP", "DATE", "TIME"):
            return time.strftime("%m/%d/%Y %H:%M:%S", time.localtime(entry.wall))
        raise ScpiError(-224, "Illegal parameter value")

    def _stat(self, args: list[str], fn: Any) -> str:
        buf = self._buffer(args, 0)
        if not buf.entries:
            return self._fmt(0.0)
        return self._fmt(float(fn([e.reading for e in buf.entries])))

    def _next_error(self) -> str:
        if not self.events:
            return '0,"No error;0;0 0"'
        code, message, stamp = self.events.popleft()
        return f'{code},"{message};1;{stamp}"'
