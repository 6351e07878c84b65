"""PalmSens EmStat4 HR potentiostat emulator speaking MethodSCRIPT over a socket (``\\n`` line endings).

The HR (high range) model is emulated because its applied potential range is +-6 V: the benches' cells are
full cells at 2.5-4 V, which the LR model (+-3 V) cannot hold. A script that applies a potential outside
+-6 V (``set_e``, ``meas_loop_ca``, ``meas_loop_cv``) fails with ``!4002`` (bad argument).

Device commands: ``t`` (firmware: ``tes4_hr...`` then a line ending with ``*``), ``v``, ``i`` (serial),
``Z`` (abort: ``Z`` then the rest of the output and an empty line; ``Z!0006`` when nothing runs) and ``e``
followed by script lines and an empty line. The reply stream of a script: ``e``, then ``M0000`` at each
measurement-loop start, data packages ``P<type><7 hex><prefix>[,1<status>,2<range>];...``, ``*`` at each
measurement-loop end (``L``/``+`` for plain loops), ``T<text>`` for ``send_string``, an empty line at the
end. Errors are ``!XXXX`` lines: ``<c>!0001`` unknown device command, ``!0003`` line too long, ``!0004``
execution error (``error_next`` fault), ``!0008`` busy, script errors ``!4001`` unknown command,
``!4002`` bad argument, ``!4003`` unknown variable, ``!4004`` unbalanced block (``: Line n, Col 1``).

Script statements as PalmSens' MethodSCRIPT 1.8 examples use them (PalmSens/MethodSCRIPT_Examples):
``meas_loop_cp`` with ``if potential > potential_max`` / ``breakloop`` inside the loop (MSExample029,
charge versus cycles), ``store_var`` and ``if``/``else``/``endif`` inside a measurement loop (MSExample034),
``elseif`` and ``>=`` (MSExample026), ``copy_var``/``add_var``/``sub_var``/``mul_var`` (MSExample029, 006).

Packages stream in simulated time (one per interval; wall = interval / speed). A loop samples at its
nominal times on the device's clock; the statements after a loop that ended (``cell_off`` in
``on_finished``, the next loop) act at its last sample's time, as on the instrument, even when the emulator
thread runs behind at a high speed factor. The potentiostat drives the
cell only if the matrix closes WE onto a wire contact and CE/RE onto the counter film; otherwise a
galvanostatic loop rails at the compliance voltage (status overload) and the current is noise.

Current ranges are the HR's (100 nA .. 100 mA; ``simulated_instruments.datasheets``, PalmSens' range table
in its MethodSCRIPT example code). ``set_range ba|db <value>`` selects the smallest range that holds the
value (the MethodSCRIPT manual's example ``set_range ba 50u`` names the largest expected current, not a
range), so the LR-only ``1n`` selects 100 nA; a value beyond 100 mA is ``!4002`` (no range holds it; the
code the firmware gives there is not documented in what was checked). ``set_autoranging ba|db <min> <max>``
lets the range follow the current between those. A current is read with the fixed offset of the range in
use (within +-half of the 0.2 %-of-range bound, seeded: ``datasheets.apply_range_error``), so 20 pA on the
HR's 100 nA range reads wrong by up to 100 pA, as the datasheet allows; the applied current reaches the
cell without the source error (not emulated yet).
"""

from __future__ import annotations

import collections
import threading
from typing import Any

import numpy as np

from simulated_instruments import datasheets
from simulated_instruments.emulator import Emulator, Reply
from simulated_instruments.methodscript import (
    ERR_ARGUMENT,
    ERR_UNKNOWN_VAR,
    Block,
    Program,
    ScriptError,
    Stmt,
    encode_value,
    parse,
    parse_literal,
)
from simulated_instruments.wiring import SourceState, Wiring

FIRMWARE = ["tes4_hr1.3.0.18#2025-01-15", "R1.8*"]
POTENTIAL_RANGE_V = (-6.0, 6.0)  # EmStat4 HR applied-potential range
COMPLIANCE_V = 10.0  # V reached by a galvanostat with no path
E_NOISE = 20e-6  # V rms
I_NOISE = 50e-15  # A rms
GALVANOSTATIC_MODES = (6,)
BACKLOG_LINES = 20_000
"""Output lines a script keeps for the next host when the one that started it is gone (a serial link's
buffer: nobody reads, the device keeps writing); beyond it the oldest lines are lost. The real device's
buffer depends on its link and is not documented: the host recovers what it gets and records the rest as
a gap."""


class _Abort(Exception):
    pass


class _Break(Exception):
    pass


class EmStat4(Emulator):
    terminators = b"\n"
    keep_empty_lines = True

    def __init__(self, name: str, clock: Any, faults: Any, *, model: Any, wiring: Wiring,
                 seed: int = 0, ideal: bool = False) -> None:
        super().__init__(name, clock, faults)
        self.model = model
        self.ideal = ideal
        """True: no range offset on readings (``SimulatedBench(ideal_pstat=True)``, engine tests only)."""
        self.wiring = wiring
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.model_key = "es4_hr"
        """The emulated model (``drivers.capability`` key): its current ranges are the HR's."""
        self.current_range = datasheets.ranges(self.model_key, "measure")[0]
        """The current range (A) ``set_range ba|db`` selected; the one in use unless autoranging."""
        self.autorange: tuple[float, float] | None = None
        """(lowest, highest) current range ``set_autoranging ba|db`` allows; None: fixed range."""
        self._script: list[str] | None = None
        self._script_conn: Reply | None = None
        self._script_error: str | None = None
        """An injected error on a line of the script being uploaded: the script is rejected at its end."""
        self._run: _ScriptRun | None = None
        self.cell_on = False
        self.pgstat_mode = 2
        self.set_e = 0.0
        self.set_i = 0.0
        self.loop_drive: tuple[str, float] | None = None
        self.backlog: collections.deque[str] = collections.deque(maxlen=BACKLOG_LINES)
        """Output of a script whose host connection closed, for the next host (oldest lost first)."""
        self.out_lock = threading.Lock()

    # ------------------------------------------------------------------ state
    def output_on(self) -> bool:
        return self.cell_on

    @property
    def running(self) -> bool:
        return self._run is not None and not self._run.done

    def push_wiring(self, t: float | None = None) -> None:
        """Tell the wiring what the cell terminals drive now (or from simulated time ``t``)."""
        if self.loop_drive is not None:
            mode, value = self.loop_drive
        elif self.pgstat_mode in GALVANOSTATIC_MODES:
            mode, value = "current", self.set_i
        else:
            mode, value = "potential", self.set_e
        self.wiring.set_pstat(SourceState(self.cell_on, mode if self.cell_on else "open", value), t=t)

    def measure(self, t: float | None = None) -> tuple[float, float, int]:
        """(potential V, current A, status bits) at simulated time ``t`` (now by default)."""
        t = self.clock.now() if t is None else t
        we = self.wiring.pstat_we_pads()
        mode = self.wiring.pstat.mode
        if we is not None:
            e = float(self.model.cell_voltage(t)) + self.rng.normal(0, E_NOISE)
            i = float(self.model.cell_current(t)) + self.rng.normal(0, I_NOISE) if self.cell_on else \
                self.rng.normal(0, I_NOISE)
            return e, self.read_current(i), 0
        if self.cell_on and mode == "current":
            value = self.wiring.pstat.value
            return (COMPLIANCE_V if value >= 0 else -COMPLIANCE_V), self.rng.normal(0, I_NOISE), 2
        if self.cell_on and mode == "potential":
            return self.wiring.pstat.value + self.rng.normal(0, E_NOISE), self.rng.normal(0, I_NOISE), 0
        return self.rng.normal(0, 5e-3), self.rng.normal(0, I_NOISE), 0

    def range_in_use(self, current: float) -> float:
        """The current range (A) a reading of ``current`` is taken on: the fixed one, or with autoranging
        the smallest allowed range that holds it."""
        if self.autorange is None:
            return self.current_range
        low, high = self.autorange
        for rng in datasheets.ranges(self.model_key, "measure"):
            if low <= rng <= high and abs(current) <= rng:
                return rng
        return high

    def read_current(self, current: float) -> float:
        """``current`` as read on the range in use: plus that range's offset (datasheets)."""
        if self.ideal:
            return current
        rng = self.range_in_use(current)
        return datasheets.apply_range_error(self.model_key, "measure", "current", rng, current, self.rng,
                                            self.seed)

    def select_range(self, s: Stmt, value: float) -> float:
        """The model's range that ``set_range``/``set_autoranging`` with ``value`` (A) selects: the smallest
        that holds it (MethodSCRIPT's ``set_range ba 50u`` example: the argument is the largest expected
        current), so an LR-only ``1n`` on the HR selects 100 nA; beyond the largest range: !4002."""
        ranges = datasheets.ranges(self.model_key, "measure")
        for rng in ranges:
            if abs(value) <= rng * (1 + 1e-9):
                return rng
        raise ScriptError(ERR_ARGUMENT, s.line, f"current range {value:g} A beyond the largest "
                                                f"{ranges[-1]:g} A of the EmStat4 HR")

    # ------------------------------------------------------------------ protocol
    def overlong(self, conn: Reply) -> str:
        self.record_error("!0003 line too long")
        self._script = None
        return "!0003\n"

    def injected_error(self, line: str, conn: Reply) -> str | None:
        self.record_error(f"!0004 injected error on {line!r}")
        if self._script is not None and conn is self._script_conn and line.strip():
            # a line of a script upload: the device takes the rest of the script and rejects it as a whole
            # at its end (``e`` then the error, then the empty line), as it does a script it cannot parse
            self._script_error = f"!0004: Line {len(self._script) + 1}, Col 1"
            self._script.append(line)
            return None
        self._script = None
        return "!0004\n"

    def adopt(self, conn: Reply) -> None:
        """A new host talks: what the script wrote while no host read comes first, and the rest of a
        running script's output goes to this host (one link, as on a serial port)."""
        with self.out_lock:
            run = self._run
            if run is None or run.conn is conn or not run.conn.closed:
                return
            if self.backlog:
                conn.send("".join(line + "\n" for line in self.backlog))
                self.backlog.clear()
            run.conn = conn

    def handle(self, line: str, conn: Reply) -> str | None:
        self.adopt(conn)
        if self._script is not None and (conn is not self._script_conn or conn.closed):
            self._script = None  # a script upload abandoned by another (dead) connection
        if self._script is not None:
            if line.strip():
                self._script.append(line)
                return None
            lines, self._script = self._script, None
            if self._script_error is not None:
                error, self._script_error = self._script_error, None
                conn.send(f"e\n{error}\n\n")
                return None
            return self._start(lines, conn)
        cmd = line.strip()
        if cmd == "Z":
            if self.running:
                assert self._run is not None
                conn.send("Z\n")  # before the script's closing lines, which the abort releases
                self._run.abort.set()
                return None
            return "Z!0006\n"
        if self.running:
            self.record_error(f"!0008 busy: {cmd!r}")
            return f"{cmd[:1]}!0008\n" if cmd else None
        if not cmd:
            return None
        if cmd == "e":
            self._script = []
            self._script_conn = conn
            self._script_error = None
            return None
        if cmd == "t":
            return "\n".join(FIRMWARE) + "\n"
        if cmd == "v":
            return "vmscr1.8\n"
        if cmd == "i":
            return "iES4E21A0001\n"
        self.record_error(f"!0001 unknown command {cmd!r}")
        return f"{cmd[:1]}!0001\n"

    def _start(self, lines: list[str], conn: Reply) -> None:
        try:
            program = parse(lines)
        except ScriptError as err:
            self.record_error(str(err))
            conn.send(f"e\n{err.wire()}\n\n")
            return None
        conn.send("e\n")
        self._run = _ScriptRun(self, program, conn)
        self._run.thread.start()
        return None

    def stop(self) -> None:
        run = self._run
        if run is not None:
            run.abort.set()
            run.thread.join(timeout=2)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no script runs (tests)."""
        run = self._run
        if run is not None:
            run.thread.join(timeout)
        return not self.running


class _ScriptRun:
    """Executes a Program in its own thread, streaming lines to ``conn``."""

    def __init__(self, dev: EmStat4, program: Program, conn: Reply) -> None:
        self.dev = dev
        self.program = program
        self.conn = conn
        self.abort = threading.Event()
        self.done = False
        self.vars: dict[str, tuple[float, str]] = {}
        self.pck: list[str] | None = None
        self.timer0 = dev.clock.now()
        self.sample_t: float | None = None  # nominal time of the sample a loop body is handling
        # Nominal time of the last sample of a loop that ended: the statements after it (cell_off, the
        # next loop) act then on the device's clock, even when this thread runs late at a high speed
        # factor - else a cell left on at 0 A would self-discharge for the thread's lag.
        self.t_after: float | None = None
        self.thread = threading.Thread(target=self._main, name=f"sim-{dev.name}-script", daemon=True)

    # ----- helpers
    def emit(self, text: str) -> None:
        with self.dev.out_lock:
            if self.conn.closed:
                self.dev.backlog.append(text)
                return
            self.conn.send(text + "\n")

    def wait_until(self, t_sim: float) -> None:
        wall = self.dev.clock.wall_for(t_sim - self.dev.clock.now())
        if wall > 0 and self.abort.wait(wall):
            raise _Abort
        if self.abort.is_set():
            raise _Abort

    def now(self) -> float:
        """The device's time: the end of the last loop while the statements after it run, else now."""
        return self.t_after if self.t_after is not None else self.dev.clock.now()

    def value(self, stmt: Stmt, token: str) -> float:
        lit = parse_literal(token)
        if lit is not None:
            return lit
        if token in self.vars:
            return self.vars[token][0]
        raise ScriptError(ERR_UNKNOWN_VAR, stmt.line, f"unknown variable {token!r}")

    def setvar(self, stmt: Stmt, name: str, value: float, var_type: str | None = None) -> None:
        if name not in self.vars:
            raise ScriptError(ERR_UNKNOWN_VAR, stmt.line, f"unknown variable {name!r}")
        self.vars[name] = (value, var_type or self.vars[name][1])

    def compare(self, stmt: Stmt) -> bool:
        a, op, b = self.value(stmt, stmt.args[0]), stmt.args[1], self.value(stmt, stmt.args[2])
        return {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b, "==": a == b, "!=": a != b}[op]

    # ----- execution
    def _main(self) -> None:
        dev = self.dev
        try:
            self.run_body(self.program.body)
        except _Abort:
            pass
        except _Break:
            pass
        except ScriptError as err:
            dev.record_error(str(err))
            self.emit(err.wire())
        finally:
            try:
                with dev.lock:
                    dev.loop_drive = None
                    if self.abort.is_set():
                        dev.cell_on = False
                        self.t_after = None  # an abort acts when it arrives
                    dev.push_wiring(self.t_after)
                self.abort.clear()
                try:
                    self.run_body(self.program.on_finished)
                except (ScriptError, _Break, _Abort):
                    pass
            finally:
                with dev.lock:
                    self.done = True  # the device is idle once it has sent the closing empty line
                self.emit("")

    def run_body(self, body: list[Stmt | Block]) -> None:
        for node in body:
            if self.abort.is_set():
                raise _Abort
            if isinstance(node, Block):
                self.run_block(node)
            else:
                self.run_stmt(node)

    def run_block(self, block: Block) -> None:
        s = block.stmt
        if s.cmd == "if":
            for cond, body in block.branches:
                if cond is None or self.compare(cond):
                    self.run_body(body)
                    return
            return
        if s.cmd == "loop":
            self.emit("L")
            try:
                while self.compare(s):
                    self.run_body(block.body)
            except _Break:
                pass
            self.emit("+")
            return
        self.meas_loop(block)

    def meas_loop(self, block: Block) -> None:
        s, dev = block.stmt, self.dev
        a = s.args
        if s.cmd == "meas_loop_cv":
            e_begin, v1, v2, step, rate = (self.value(s, x) for x in a[2:7])
            nscans = 1
            if len(a) > 7 and a[7].startswith("nscans(") and a[7].endswith(")"):
                nscans = int(self.value(s, a[7][7:-1]))
            if step <= 0 or rate <= 0:
                raise ScriptError(ERR_ARGUMENT, s.line, "e_step and scan_rate must be > 0")
            points = _cv_points(e_begin, v1, v2, step) * max(nscans, 1)
            interval = step / rate
            run_time = interval * len(points)
        elif s.cmd == "meas_loop_ocp":
            interval, run_time = self.value(s, a[1]), self.value(s, a[2])
        else:
            interval, run_time = self.value(s, a[3]), self.value(s, a[4])
        if interval <= 0:
            raise ScriptError(ERR_ARGUMENT, s.line, "interval must be > 0")
        if s.cmd == "meas_loop_cv":
            _check_potential(s, e_begin, v1, v2)
        elif s.cmd == "meas_loop_ca":
            _check_potential(s, self.value(s, a[2]))
        with dev.lock:
            t0 = self.now()  # the loop's clock starts with its drive (same simulated instant)
            self.t_after = None
            if s.cmd == "meas_loop_cp":
                dev.loop_drive = ("current", self.value(s, a[2]))
            elif s.cmd == "meas_loop_ca":
                dev.loop_drive = ("potential", self.value(s, a[2]))
            elif s.cmd == "meas_loop_cv":
                dev.loop_drive = ("potential", points[0])
            dev.push_wiring(t0)
        self.emit("M0000")
        k = 0
        # Samples are taken at their nominal simulated times t0 + k * interval, even when this thread wakes
        # late (a busy host at a high speed factor): like the instrument's own clock, the cut-off then acts
        # at the sample that crossed it, not some simulated seconds later.
        t_sample = t0
        try:
            while (k + 1) * interval <= run_time * (1 + 1e-9):
                t_sample = t0 + (k + 1) * interval
                self.wait_until(t_sample)
                with dev.lock:
                    if s.cmd == "meas_loop_cv":
                        dev.loop_drive = ("potential", points[k])
                        dev.push_wiring(t_sample)
                    e, i, status = dev.measure(t_sample)
                    self._assign(s, e, i, status, points[k] if s.cmd == "meas_loop_cv" else None)
                self.sample_t = t_sample
                self.run_body(block.body)
                k += 1
        except _Break:
            pass
        finally:
            self.sample_t = None
            self.t_after = t_sample
            with dev.lock:
                dev.loop_drive = None
                dev.push_wiring(t_sample)
        self.emit("*")

    def _assign(self, s: Stmt, e: float, i: float, status: int, e_set: float | None) -> None:
        self.status = status
        if s.cmd == "meas_loop_ocp":
            self.setvar(s, s.args[0], e, "ab")
        elif s.cmd == "meas_loop_cp":
            self.setvar(s, s.args[0], e, "ab")
            self.setvar(s, s.args[1], i, "ba")
        elif s.cmd == "meas_loop_ca":
            self.setvar(s, s.args[0], self.value(s, s.args[2]), "da")
            self.setvar(s, s.args[1], i, "ba")
        else:
            self.setvar(s, s.args[0], e_set if e_set is not None else e, "da")
            self.setvar(s, s.args[1], i, "ba")

    def run_stmt(self, s: Stmt) -> None:
        dev, cmd, a = self.dev, s.cmd, s.args
        if cmd == "var":
            self.vars[a[0]] = (0.0, "ja")
        elif cmd == "store_var":
            value = parse_literal(a[1])
            if value is None:
                raise ScriptError(ERR_ARGUMENT, s.line, f"bad literal {a[1]!r}")
            self.vars[a[0]] = (value, a[2])
        elif cmd == "copy_var":
            self.vars[a[1]] = (self.value(s, a[0]), self.vars.get(a[0], (0.0, "ja"))[1])
        elif cmd in ("add_var", "sub_var", "mul_var", "div_var"):
            x, y = self.value(s, a[0]), self.value(s, a[1])
            if cmd == "div_var" and y == 0:
                raise ScriptError(ERR_ARGUMENT, s.line, "division by zero")
            result = {"add_var": x + y, "sub_var": x - y, "mul_var": x * y,
                      "div_var": x / y if y else 0.0}[cmd]
            self.setvar(s, a[0], result)
        elif cmd == "set_pgstat_mode":
            with dev.lock:
                dev.pgstat_mode = int(self.value(s, a[0]))
                dev.push_wiring(self.t_after)
        elif cmd in ("set_e", "set_i"):
            if cmd == "set_e":
                _check_potential(s, self.value(s, a[0]))
            with dev.lock:
                setattr(dev, cmd, self.value(s, a[0]))
                dev.push_wiring(self.t_after)
        elif cmd in ("cell_on", "cell_off"):
            with dev.lock:
                dev.cell_on = cmd == "cell_on"
                dev.push_wiring(self.t_after)
        elif cmd == "wait":
            self.wait_until(self.now() + self.value(s, a[0]))
            self.t_after = None
        elif cmd == "timer_start":
            self.timer0 = self.now()
        elif cmd == "timer_get":
            now = self.sample_t if self.sample_t is not None else self.now()
            self.setvar(s, a[0], now - self.timer0, "eb")
        elif cmd == "pck_start":
            self.pck = []
        elif cmd == "pck_add":
            if self.pck is None:
                raise ScriptError(ERR_ARGUMENT, s.line, "pck_add outside pck_start/pck_end")
            value, var_type = self.vars.get(a[0], (None, ""))
            if value is None:
                raise ScriptError(ERR_UNKNOWN_VAR, s.line, f"unknown variable {a[0]!r}")
            meta = ""
            if var_type == "ba":
                rng_index = 0x80 + max(0, int(np.ceil(np.log10(max(abs(value), 1e-9) / 1e-9))))
                meta = f",1{getattr(self, 'status', 0):X},2{rng_index:02X}"
            self.pck.append(encode_value(var_type, value, meta))
        elif cmd == "pck_end":
            if self.pck is not None:
                self.emit("P" + ";".join(self.pck))
            self.pck = None
        elif cmd == "breakloop":
            raise _Break
        elif cmd == "send_string":
            self.emit("T" + " ".join(a).strip('"'))
        elif cmd == "set_range" and a[0] in ("ba", "db"):
            with dev.lock:  # a fixed range until a set_autoranging that follows
                dev.current_range, dev.autorange = dev.select_range(s, self.value(s, a[1])), None
        elif cmd == "set_autoranging" and a[0] in ("ba", "db"):
            with dev.lock:
                dev.autorange = (dev.select_range(s, self.value(s, a[1])),
                                 dev.select_range(s, self.value(s, a[2])))
        # set_pgstat_chan, set_max_bandwidth, set_range/set_autoranging of potentials, set_acquisition_*,
        # set_gpio*: accepted; the emulated front end has no bandwidth limit


def _check_potential(s: Stmt, *potentials: float) -> None:
    low, high = POTENTIAL_RANGE_V
    for e in potentials:
        if not low <= e <= high:
            raise ScriptError(ERR_ARGUMENT, s.line, f"potential {e:g} V outside {low:g}..{high:g} V")


def _cv_points(e_begin: float, v1: float, v2: float, step: float) -> list[float]:
    """Potentials of one CV scan: begin -> vertex 1 -> vertex 2 -> begin, in steps of ``step`` (V)."""
    out: list[float] = []
    for a, b in ((e_begin, v1), (v1, v2), (v2, e_begin)):
        n = max(1, round(abs(b - a) / step))
        out.extend(a + (b - a) * k / n for k in range(n))
    out.append(e_begin)
    return out
