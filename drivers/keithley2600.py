"""Keithley 2600B SourceMeter (e.g. 2636B) over TSP, %g numbers so nA values survive; fills SourceMeter and
Galvanostat (its cut-offs run on the instrument in a TSP script: :mod:`drivers.tsp_galvanostat`)."""

from __future__ import annotations

import logging
import math
import queue
import re
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyvisa
from pymeasure.instruments import Channel, Instrument
from pymeasure.instruments.validators import strict_discrete_set, strict_range

from drivers import tsp_galvanostat as tspg
from drivers._common import TSPMixin, short_timeout, stream_lines, with_defaults
from drivers.errors import InstrumentError
from drivers.roles import Gap, Sample

log = logging.getLogger(__name__)

MODELS = ("2601B", "2602B", "2604B", "2611B", "2612B", "2614B", "2634B", "2635B", "2636B")
"""Models of the 2600B series this driver speaks to (station-file option ``model``)."""
IDN_WAIT_MS = 1500
"""How long ``*IDN?`` may take before the driver takes the instrument for busy with a script (ms)."""
_SYNC_LINES = 100000
"""At most this many lines are read while waiting for a marker (a link that never stops talking)."""


def _tsp_bool(text: str) -> bool:
    """TSP prints booleans as ``true``/``false`` and numbers as ``1.00000e+00``."""
    text = text.strip().lower()
    if text in ("true", "false"):
        return text == "true"
    return bool(float(text))


_OFF_MODES = {"normal": "OUTPUT_NORMAL", "zero": "OUTPUT_ZERO", "high_z": "OUTPUT_HIGH_Z"}


def _off_mode_name(reply: str) -> str:
    """``print(offmode, OUTPUT_NORMAL, OUTPUT_ZERO, OUTPUT_HIGH_Z)`` (TAB-separated) -> that constant."""
    mode, *constants = (float(v) for v in reply.split("\t"))
    for name, value in zip(_OFF_MODES.values(), constants, strict=True):
        if mode == value:
            return name
    raise ValueError(f"output-off mode {mode:g} is none of {', '.join(_OFF_MODES.values())} ({reply!r})")


class SMUChannel(Channel):
    """One SMU channel (``smua``/``smub``). Numbers go out as ``%g``: PyMeasure's ``%f`` sends 1e-9 A as 0."""

    source_function = Channel.control(
        "print(smu{ch}.source.func)", "smu{ch}.source.func=%d",
        """Control the source function: 'voltage' (OUTPUT_DCVOLTS = 1) or 'current' (OUTPUT_DCAMPS = 0).""",
        validator=strict_discrete_set, values={"voltage": 1, "current": 0}, map_values=True,
        get_process=lambda v: int(float(v)),
    )
    source_output = Channel.control(
        "print(smu{ch}.source.output)", "smu{ch}.source.output=%d",
        """Control the output state (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
        get_process=lambda v: int(float(v)),
    )
    # Sent and read back as the named constants: which number each one stands for is not confirmed.
    off_mode = Channel.control(
        "print(smu{ch}.source.offmode, smu{ch}.OUTPUT_NORMAL, smu{ch}.OUTPUT_ZERO, smu{ch}.OUTPUT_HIGH_Z)",
        "smu{ch}.source.offmode=smu{ch}.%s",
        """Control the output-off mode: 'normal', 'zero' or 'high_z' (floats a battery).""",
        validator=strict_discrete_set, values=_OFF_MODES, map_values=True,
        cast=str, maxsplit=0, get_process=_off_mode_name,
    )
    source_voltage = Channel.control(
        "print(smu{ch}.source.levelv)", "smu{ch}.source.levelv=%g",
        """Control the source voltage (V), -200 to 200.""",
        validator=strict_range, values=[-200, 200],
    )
    source_current = Channel.control(
        "print(smu{ch}.source.leveli)", "smu{ch}.source.leveli=%g",
        """Control the source current (A), -1.5 to 1.5.""",
        validator=strict_range, values=[-1.5, 1.5],
    )
    compliance_current = Channel.control(
        "print(smu{ch}.source.limiti)", "smu{ch}.source.limiti=%g",
        """Control the current limit (A) while sourcing voltage.""",
        validator=strict_range, values=[1e-10, 1.5],
    )
    compliance_voltage = Channel.control(
        "print(smu{ch}.source.limitv)", "smu{ch}.source.limitv=%g",
        """Control the voltage limit (V) while sourcing current.""",
        validator=strict_range, values=[0.02, 200],
    )
    current_range = Channel.control(
        "print(smu{ch}.measure.rangei)", "smu{ch}.measure.rangei=%g",
        """Control the current measure range (A); 100 pA is the lowest on a 2635B/2636B.""",
        validator=strict_range, values=[1e-10, 1.5],
    )
    current_autorange = Channel.control(
        "print(smu{ch}.measure.autorangei)", "smu{ch}.measure.autorangei=%d",
        """Control current measure autorange (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
        get_process=lambda v: int(float(v)),
    )
    # PyMeasure's measure_nplc has map_values=True with values=[0.001, 25], so 25 is sent as the list index.
    measure_nplc = Channel.control(
        "print(smu{ch}.measure.nplc)", "smu{ch}.measure.nplc=%g",
        """Control the integration time in power-line cycles, 0.001 to 25.""",
        validator=strict_range, values=[0.001, 25],
    )
    current = Channel.measurement("print(smu{ch}.measure.i())", """Measure the current (A).""")
    voltage = Channel.measurement("print(smu{ch}.measure.v())", """Measure the voltage (V).""")
    compliance = Channel.measurement(
        "print(smu{ch}.source.compliance)", """Get whether the source is in compliance (bool).""",
        get_process=_tsp_bool,
    )


class Keithley2600(TSPMixin, Instrument):
    """Keithley 2600B series (2601B...2636B) over TSP; one channel fills the ``SourceMeter`` role.

    :param adapter: VISA resource string or a PyMeasure adapter.
    :param channel: ``"a"`` or ``"b"``: the channel used for the role.
    :param kwargs: forwarded to the VISA adapter (defaults: ``\\n`` terminations, 10 s timeout).
    """

    IDENTITY = re.compile(r"KEITHLEY INSTRUMENTS.*MODEL 26\d\d", re.IGNORECASE)

    smua = Instrument.ChannelCreator(SMUChannel, "a")
    smub = Instrument.ChannelCreator(SMUChannel, "b")

    def __init__(self, adapter, name: str = "Keithley 2600B SourceMeter", channel: str = "a",
                 model: str | None = None, **kwargs):
        if model is not None and str(model).upper() not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)} (got {model!r})")
        if channel not in ("a", "b"):
            raise ValueError(f"channel must be 'a' or 'b' (got {channel!r})")
        kwargs = with_defaults(kwargs, read_termination="\n", write_termination="\n", timeout=10000)
        super().__init__(adapter, name, includeSCPI=False, **kwargs)
        self.model = None if model is None else str(model).upper()
        self._lock = threading.RLock()
        self._running = False
        self._reader: threading.Thread | None = None
        self._samples: queue.SimpleQueue[Sample] = queue.SimpleQueue()
        self._gaps: queue.SimpleQueue[Gap] = queue.SimpleQueue()
        self._error: Exception | None = None
        self._idle_tokens: set[str] = set()
        self._aborting = False
        self._tokens = 0
        self._identity: str | None = None
        self._last_n, self._last_t, self._garbled = 0, None, 0
        """Running number and t of the last sample line, garbled lines since it (gap bookkeeping)."""
        self.stop_reason: str | None = None
        """Why the last technique ended: one of ``tsp_galvanostat.REASONS`` (the script's own cut-off),
        ``"stopped"`` (the host aborted it) or None (none ended yet)."""
        self.orphan_aborted: str | None = None
        """Set when identifying found a galvanostatic script a previous (dead) host left running, and
        aborted it (the output is then still as the script left it: the caller switches it off)."""
        self.smu: SMUChannel = self.smua if channel == "a" else self.smub
        self._limit_A: float | None = None
        """The current limit (A) the last configure set and read back; None before any."""

    def snapshot_settings(self) -> dict[str, Any]:
        """The role channel's present settings, read from the instrument (queries only).

        Source function, levels (V, A), limits (A, V), current measure range (A) and autorange, NPLC,
        output state and output-off mode.
        """
        smu = self.smu
        return {
            "channel": "smu" + smu.id,
            "source_function": smu.source_function,
            "source_voltage_V": float(smu.source_voltage),
            "source_current_A": float(smu.source_current),
            "current_limit_A": float(smu.compliance_current),
            "voltage_limit_V": float(smu.compliance_voltage),
            "current_range_A": float(smu.current_range),
            "current_autorange": bool(smu.current_autorange),
            "nplc": float(smu.measure_nplc),
            "output_enabled": bool(smu.source_output),
            "off_mode": smu.off_mode,
        }

    # --- SourceMeter role ---------------------------------------------------------------------------------
    def configure_voltage_source(self, compliance_A: float, nplc: float = 1.0,
                                 current_range_A: float | None = None) -> None:
        """Source V, measure I with a current limit (A); output-off mode high-Z."""
        smu = self.smu
        smu.source_function = "voltage"
        smu.off_mode = "high_z"
        smu.compliance_current = compliance_A
        smu.measure_nplc = nplc
        if current_range_A is None:
            smu.current_autorange = True
        else:
            smu.current_range = current_range_A
        self.raise_errors("configure voltage source")
        self._limit_A = None
        self._verify_limit(compliance_A, "configure voltage source")
        self._limit_A = compliance_A

    def _verify_limit(self, compliance_A: float, doing: str) -> None:
        """Read back the source function and current limit; InstrumentError unless they are what the host
        set. The limit lives in the instrument: with the host gone (killed, crashed) an output left on stays
        bound by it, so it must be certain before the output goes on (2600B Reference Manual,
        ``smuX.source.limitY``: "Set this attribute in the test sequence before turning the source on")."""
        ch = self.smu.id
        func, limit = (float(v) for v in self.ask(f"print(smu{ch}.source.func, smu{ch}.source.limiti)")
                       .split("\t"))
        if func != 1 or not math.isclose(limit, compliance_A, rel_tol=1e-3):
            raise InstrumentError(f"{self.name}: {doing}: smu{ch} reads source function {func:g} and current "
                                  f"limit {limit:g} A; expected 1 (volts) and {compliance_A:g} A "
                                  f"(was the instrument reset?)")

    def set_voltage(self, volts: float) -> None:
        self.smu.source_voltage = volts

    def measure_current(self) -> float:
        return float(self.smu.current)

    def sweep_voltage(self, voltages: Sequence[float], delay_s: float) -> np.ndarray:
        """Point by point; the settling ``delay_s`` runs on the instrument (TSP ``delay()``)."""
        strict_range(delay_s, [0, 10000])
        currents = []
        for v in voltages:
            self.smu.source_voltage = float(v)
            if delay_s > 0:
                self.write(f"delay({delay_s:g})")
            currents.append(self.measure_current())
        return np.asarray(currents, dtype=float)

    def enable_output(self) -> None:
        """Output on, only once the current limit the host configured reads back from the instrument."""
        if self._limit_A is None:
            raise InstrumentError(f"{self.name}: refusing to turn the output on before a current limit is "
                                  f"configured (configure_voltage_source)")
        if self._running:
            raise InstrumentError(f"{self.name}: refusing to turn the output on while a galvanostatic script "
                                  f"runs on smu{self.smu.id}")
        self._verify_limit(self._limit_A, "refusing to turn the output on")
        self.smu.source_output = True

    def disable_output(self) -> None:
        """Output off; a galvanostatic script that runs is aborted first (:meth:`stop`)."""
        if self._running:
            self.stop()
            return
        self.smu.source_output = False

    @property
    def output_enabled(self) -> bool:
        """Read back from the instrument; True without asking while our script sources (a query would only
        be answered once the script has ended)."""
        if self._running:
            return True
        return bool(self.smu.source_output)

    @property
    def compliance_tripped(self) -> bool:
        return bool(self.smu.compliance)

    # --- identity: a script left running by a dead host ---------------------------------------------------
    @property
    def id(self) -> str:  # type: ignore[override]
        """``*IDN?``; when it gets no answer within :data:`IDN_WAIT_MS`, a script holds the command interface
        (one a previous host left running: a TSP instrument answers nothing else until it ends), so the driver
        aborts it, like Keithley's own controllers on connect (``tspnet.tsp.abortonconnect``, default true:
        "sends abort() when it attempts to connect ... to a TSP-enabled device"), and asks again.

        A galvanostatic script cut short this way is noted in :attr:`orphan_aborted`; its output is still on,
        as the script left it, until the caller switches it off. While this driver's own technique runs,
        nothing is asked (the identity read at connect is returned).
        """
        with self._lock:
            if self._running and self._identity is not None:
                return self._identity
            try:
                with short_timeout(self, IDN_WAIT_MS):
                    identity = self.ask("*IDN?").strip()
            except pyvisa.errors.VisaIOError as exc:
                if exc.error_code != pyvisa.constants.StatusCode.error_timeout:
                    raise
                self._abort_orphan()  # reads up to a marker: the late *IDN? reply is dropped with the rest
                identity = self.ask("*IDN?").strip()
            self._identity = identity
            return identity

    def _abort_orphan(self) -> None:
        """``abort``, then read the script state behind a marker: the marker comes back only once nothing
        holds the command interface (the script read back stopped). Only a state the script itself set on
        its start (``"running"``) makes it a galvanostatic script aborted here: the instrument may also have
        been busy with a long command (a ``delay()`` of a killed host's sweep), and a state a host's own
        abort left behind is overwritten with ``"stopped"`` by that host's :meth:`stop`."""
        self.write("abort")
        state = self._sync(f"{tspg.STATE_GLOBAL}")
        if state == tspg.STATE_RUNNING:
            self.orphan_aborted = ("aborted a galvanostatic TSP script a previous host left running (read "
                                   "back stopped: the instrument answers again; its output stays as the "
                                   "script left it until switched off)")
            log.warning("%s: %s", self.name, self.orphan_aborted)
        else:
            log.info("%s: busy on connect with no galvanostatic script running (state %r); abort sent",
                     self.name, state)

    def script_left_behind(self) -> str | None:
        """What became of a galvanostatic script no host took back, read from the instrument
        (``print(nc_galv_state)``), for the report of whoever takes over after a dead host; None when there
        is none (no script ever ran, a host stopped it, or this driver runs its own).

        Call it after connecting (the abort on connect is reported in :attr:`orphan_aborted` instead): a
        script that ended by itself (its own cut-off or time limit, output switched off by the script) or
        one cut short without a host taking over (``"running"`` while the instrument answers)."""
        with self._lock:
            if self._running or self.orphan_aborted:
                return None
            state = self.ask(f"print({tspg.STATE_GLOBAL})").strip()
        if state.startswith(tspg.STATE_ENDED):
            reason = state[len(tspg.STATE_ENDED):]
            return (f"no script running: the galvanostatic TSP script a previous host started had ended by "
                    f"itself ({reason}), switching its output off, before this connection")
        if state == tspg.STATE_RUNNING:
            return ("no script running: the galvanostatic TSP script a previous host started was cut short "
                    "(aborted or failed) and no host took over after it")
        return None

    def _sync(self, extra: str = "") -> str:
        """Send a marker line and read up to it (earlier lines: script output of ours are parsed, anything
        else dropped); the marker's extra value (``extra`` printed after it)."""
        token = self._new_token()
        self.write(f'print("{tspg.IDLE_TAG}", "{token}"{", " + extra if extra else ""})')
        return self._read_to_marker(token)

    def _new_token(self) -> str:
        """A marker token unique on this connection (a counter: what is sent stays reproducible)."""
        self._tokens += 1
        return f"m{self._tokens}"

    def _read_to_marker(self, token: str) -> str:
        for _ in range(_SYNC_LINES):
            line = self.read()
            parts = line.strip().split("\t")
            if parts[0] == tspg.IDLE_TAG and len(parts) >= 2 and parts[1] == token:
                return parts[2] if len(parts) > 2 else ""
            self._take_line(line)
        raise InstrumentError(f"{self.name}: no end of the instrument's output after {_SYNC_LINES} lines")

    # --- Galvanostat role: the cut-offs run on the instrument ----------------------------------------------
    def start_galvanostatic(self, current_A: float, interval_s: float, max_time_s: float,
                            v_min: float, v_max: float, *, capacity_C: float | None = None,
                            window_V: tuple[float, float] | None = None) -> None:
        """Load and run the galvanostatic TSP script (:mod:`drivers.tsp_galvanostat`) on the role's channel.

        The instrument samples every ``interval_s`` on its own timer and stops by itself, output off first,
        at ``v_min``/``v_max``, the station's ``window_V``, ``capacity_C`` (C, counted on the instrument) or
        ``max_time_s``; a host that dies meanwhile leaves a script that still stops there. The voltage limit
        (``limitv``) clamps just outside every cut-off; the output-off mode is high-Z (the cell floats).
        """
        _check_technique(interval_s, max_time_s)
        if not v_min < v_max:
            raise ValueError(f"voltage window must have v_min < v_max (got {v_min:g}, {v_max:g})")
        if capacity_C is not None and not capacity_C > 0:
            raise ValueError(f"capacity_C must be > 0 C or None (got {capacity_C!r})")
        strict_range(current_A, [-1.5, 1.5])
        bounds = [abs(v) for v in (v_min, v_max, *(window_V or ())) if math.isfinite(v)]
        clamp = min(max(bounds, default=20.0) + 0.05, 200.0)
        self._run(tspg.script_lines(self.smu.id, current_A, interval_s, max_time_s, v_min, v_max,
                                    capacity_C=capacity_C, window_V=window_V, clamp_V=clamp))

    def start_ocp(self, interval_s: float, max_time_s: float) -> None:
        """Record the open-circuit potential: the same script sourcing 0 A, no voltage cut-off.

        With the output off in high-Z the 2600B's output relay is open and it cannot see the cell, so a
        zero-current source measures it (as on the 2450). Its samples carry I = 0 A, the source level.
        """
        _check_technique(interval_s, max_time_s)
        self._run(tspg.script_lines(self.smu.id, 0.0, interval_s, max_time_s, -math.inf, math.inf,
                                    clamp_V=20.0, measured_current=False))

    def _run(self, lines: list[str]) -> None:
        with self._lock:
            if self._running:
                raise InstrumentError(f"{self.name}: a technique is already running; stop() it first")
            self._samples, self._gaps = queue.SimpleQueue(), queue.SimpleQueue()
            self._error, self.stop_reason = None, None
            self._last_n, self._last_t, self._garbled = 0, None, 0
            self.smu.source_output = False
            # One message: a host that dies part-way cannot leave the instrument collecting a half script
            # (between loadscript and endscript it takes every later message for a script line, a
            # supervisor's *IDN? and abort included: 2600BS-901-01 section 6 "Load a script by sending
            # commands over the remote interface": "it starts collecting all subsequent messages").
            self.write("\n".join(lines))
            self.raise_errors("load the galvanostatic script")  # a syntax error is queued at endscript
            token = self._new_token()
            self._idle_tokens = {token}
            # The marker waits in the input queue while the script runs: it comes back when it has ended.
            self.write(f"{tspg.SCRIPT_NAME}.run()")
            self.write(f'print("{tspg.IDLE_TAG}", "{token}")')
            self._running = True
            self._reader = threading.Thread(target=self._read_stream, name=f"{self.name} reader", daemon=True)
            self._reader.start()

    def _read_stream(self) -> None:
        stream_lines(self, self._stream_line)

    def _stream_line(self, line: str) -> bool:
        """One line while the script runs; True at our idle marker (the script has ended)."""
        parts = line.strip().split("\t")
        if parts[0] == tspg.IDLE_TAG and len(parts) >= 2 and parts[1] in self._idle_tokens:
            self._idle_tokens.discard(parts[1])
            if self.stop_reason is None and self._error is None and not self._aborting:
                self._error = InstrumentError(f"{self.name}: the galvanostatic script ended without "
                                              f"reporting why")
            return True
        self._take_line(line)
        return False

    def _take_line(self, line: str) -> None:
        """One line of the script's output: a sample, its end, or a garbled line (counted as lost)."""
        parsed = tspg.parse_line(line)
        if isinstance(parsed, tspg.SampleLine):
            lost = parsed.n - self._last_n - 1
            if lost > 0 or self._garbled:
                self._gaps.put(Gap(self._last_t, parsed.t, max(lost, 0) or None,
                                   "script output lines lost or garbled on the link"))
            self._garbled = 0
            self._last_n, self._last_t = parsed.n, parsed.t
            self._samples.put(Sample(parsed.t, parsed.potential, parsed.current))
        elif isinstance(parsed, tspg.EndLine):
            self.stop_reason = parsed.reason
            if parsed.n > self._last_n:
                self._gaps.put(Gap(self._last_t, None, parsed.n - self._last_n,
                                   "script output lines lost or garbled on the link"))
                self._last_n = parsed.n
        elif line.strip() and self._running:
            self._garbled = self._garbled + 1

    def poll(self) -> list[Sample]:
        """Samples the script printed since the last call (never blocks); then, once they are all handed
        out, the error that ended it, if one did (with the instrument's error queue)."""
        out = []
        while True:
            try:
                out.append(self._samples.get_nowait())
            except queue.Empty:
                break
        if self._error is not None and not out and not self._running:
            error, self._error = self._error, None
            with self._lock:
                found = self.errors()
            listed = "; ".join(f"{code} {message}" for code, message in found)
            raise InstrumentError(f"{error}{': ' + listed if listed else ''}") from error
        return out

    def take_gaps(self) -> list[Gap]:
        """Samples lost on the link (a garbled or missing line; each carries a running number)."""
        out = []
        while True:
            try:
                out.append(self._gaps.get_nowait())
            except queue.Empty:
                return out

    @property
    def running(self) -> bool:
        return self._running

    def stop(self, timeout_s: float = 10.0) -> None:
        """Abort the script (``abort``: see ``simulated_instruments.tsp_script`` for the manual's word),
        read its output up to a marker (no sample is lost), then switch the output off and read it back.

        ``abort`` is sent even when this driver runs nothing: a script another host left is stopped too (its
        lines went to that host, so then the output read-back alone keeps this link in step).
        """
        with self._lock:
            was_running = self._running
            self._aborting = True
            try:
                self.write("abort")
                if not was_running:  # nothing of ours streams on this link: the read-back below syncs it
                    return self._switch_off()
                token = self._new_token()
                self._idle_tokens.add(token)
                self.write(f'print("{tspg.IDLE_TAG}", "{token}")')
                reader = self._reader
                if was_running and reader is not None:
                    reader.join(timeout_s)
                    if reader.is_alive():
                        raise InstrumentError(f"{self.name}: the galvanostatic script did not end within "
                                              f"{timeout_s:g} s of abort")
                if token in self._idle_tokens:  # the reader ended at the run's own marker: read to ours
                    with short_timeout(self, max(timeout_s * 1000, 1000)):
                        self._read_to_marker(token)
                    self._idle_tokens.discard(token)
            finally:
                self._aborting = False
            if self.stop_reason is None:
                self.stop_reason = "stopped"
            self._switch_off()

    def _switch_off(self) -> None:
        """Output off, read back off (``print(smuX.source.output)``, answered only once no script holds the
        command interface); then the script state says a host took over (:data:`tspg.STATE_STOPPED`)."""
        self.smu.source_output = False
        if self.smu.source_output:
            raise InstrumentError(f"{self.name}: smu{self.smu.id} output still on after switching it off")
        self.write(f'{tspg.STATE_GLOBAL} = "{tspg.STATE_STOPPED}"')

    def cell_is_off(self) -> bool:
        """No script of ours runs and the output reads back off (``print(smuX.source.output)``)."""
        with self._lock:
            if self._running:
                return False
            return not bool(self.smu.source_output)

    def shutdown(self) -> None:
        """Abort any script, turn the role's channel output off and read it back (single-channel models have
        no ``smub``)."""
        self.stop()
        self.isShutdown = True


def _check_technique(interval_s: float, max_time_s: float) -> None:
    if not (interval_s > 0 and math.isfinite(interval_s)):
        raise ValueError(f"interval_s must be > 0 (got {interval_s!r})")
    if not max_time_s > 0:
        raise ValueError(f"max_time_s must be > 0 (got {max_time_s!r})")
