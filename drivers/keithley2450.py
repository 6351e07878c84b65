"""Keithley 2450 SourceMeter (native SCPI): PyMeasure's, fixed for pA work; SourceMeter + Galvanostat."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from pymeasure.instruments import Instrument
from pymeasure.instruments.keithley import Keithley2450 as _PyMeasureKeithley2450
from pymeasure.instruments.validators import strict_discrete_set, strict_range

from drivers import capability
from drivers._common import SCPIErrorQueue, longer_timeout, with_defaults
from drivers.errors import InstrumentError
from drivers.roles import Sample

_BUFFER = '"defbuffer1"'
_LIST_CHUNK = 100  # the 2450 takes at most 100 values per :SOUR:LIST command


class Keithley2450(SCPIErrorQueue, _PyMeasureKeithley2450):
    """Keithley 2450 in its native SCPI command set (``*LANG SCPI``).

    Reuses PyMeasure's declarative controls where they are right and overrides what is wrong for
    pA/nA work (each override says why). Fills the ``SourceMeter`` role (source V, measure I) and the
    ``Galvanostat`` role (source I with a VLIM clamp; cut-offs checked in software by :meth:`poll`).

    :param adapter: VISA resource string or a PyMeasure adapter.
    :param kwargs: forwarded to the VISA adapter (defaults: ``\\n`` terminations, 10 s timeout).
    """

    IDENTITY = re.compile(r"KEITHLEY INSTRUMENTS.*MODEL 2450", re.IGNORECASE)
    potential_range_V = (-210.0, 210.0)
    """Voltages (V) the 2450 can source or clamp (VLIM): galvanostatic cut-offs must lie inside."""

    @classmethod
    def declared_capability(cls, options: dict[str, Any]) -> capability.Capability:
        """Ranges and accuracy for planning (one model: the options do not matter)."""
        return capability.K2450

    def __init__(self, adapter, name: str = "Keithley 2450 SourceMeter", **kwargs):
        kwargs = with_defaults(kwargs, read_termination="\n", write_termination="\n", timeout=10000)
        super().__init__(adapter, name, **kwargs)
        self._lock = threading.RLock()
        self._source_function = "VOLT"
        self._technique: _SoftwareTechnique | None = None

    # --- overrides of PyMeasure controls ------------------------------------------------------------------
    # PyMeasure clips out-of-range values silently (truncated_range); a clipped compliance or source
    # level on a nanowire is a silent lie, so every setting here is strictly validated instead.
    source_voltage = Instrument.control(
        ":SOUR:VOLT?", ":SOUR:VOLT:LEV %g",
        """Control the source voltage (V), -210 to 210.""",
        validator=strict_range, values=[-210, 210],
    )
    source_current = Instrument.control(
        ":SOUR:CURR?", ":SOUR:CURR:LEV %g",
        """Control the source current (A), -1.05 to 1.05.""",
        validator=strict_range, values=[-1.05, 1.05],
    )
    compliance_current = Instrument.control(
        ":SOUR:VOLT:ILIM?", ":SOUR:VOLT:ILIM %g",
        """Control the current limit (A) while sourcing voltage, 1 nA to 1.05 A.""",
        validator=strict_range, values=[1e-9, 1.05],
    )
    compliance_voltage = Instrument.control(
        ":SOUR:CURR:VLIM?", ":SOUR:CURR:VLIM %g",
        """Control the voltage limit (V) while sourcing current, 0.02 to 210 V.""",
        validator=strict_range, values=[0.02, 210],
    )
    # The 2450 turns autorange off itself when a range is set, and picks the smallest range >= value.
    current_range = Instrument.control(
        ":SENS:CURR:RANG?", ":SENS:CURR:RANG %g",
        """Control the current measure range (A); the instrument picks the smallest range >= value.""",
        validator=strict_range, values=[0, 1.05],
    )
    current_nplc = Instrument.control(
        ":SENS:CURR:NPLC?", ":SENS:CURR:NPLC %g",
        """Control the current integration time in power-line cycles, 0.01 to 10.""",
        validator=strict_range, values=[0.01, 10],
    )
    voltage_nplc = Instrument.control(
        ":SENS:VOLT:NPLC?", ":SENS:VOLT:NPLC %g",
        """Control the voltage integration time in power-line cycles, 0.01 to 10.""",
        validator=strict_range, values=[0.01, 10],
    )
    source_enabled = Instrument.measurement(
        ":OUTP?", """Get whether the output is on.""", cast=lambda v: bool(float(v)),
    )
    current_output_off_state = Instrument.control(
        ":OUTP:CURR:SMOD?", ":OUTP:CURR:SMOD %s",
        """Control the output-off state when sourcing current (HIMP keeps a battery floating).""",
        validator=strict_discrete_set, values=["HIMP", "NORM", "ZERO", "GUAR"],
    )
    voltage_output_off_state = Instrument.control(
        ":OUTP:VOLT:SMOD?", ":OUTP:VOLT:SMOD %s",
        """Control the output-off state when sourcing voltage (HIMP keeps a battery floating).""",
        validator=strict_discrete_set, values=["HIMP", "NORM", "ZERO", "GUAR"],
    )

    @property
    def id(self) -> str:
        """``*IDN?``; a 2450 must also answer ``*LANG?`` with ``SCPI`` (:meth:`check_command_set`)."""
        identity = self.ask("*IDN?").strip()
        if self.IDENTITY.search(identity):
            self.check_command_set()
        return identity

    def check_command_set(self) -> None:
        """Raise :class:`InstrumentError` (one line, saying how to switch) unless ``*LANG?`` answers ``SCPI``.

        This driver speaks the native SCPI set; in TSP or SCPI2400 mode the 2450 refuses its commands, and a
        new command set takes effect only after a reboot (2450-901-01, ``*LANG``).
        """
        language = self.ask("*LANG?").strip()
        if language.upper() != "SCPI":
            raise InstrumentError(
                f"{self.name}: the 2450 uses the {language or 'unknown'} command set, not SCPI: select SCPI "
                f"on the front panel (MENU > System > Settings > Command Set) or send '*LANG SCPI', "
                f"then reboot it")

    def reset(self) -> None:
        """Reset and clear status; PyMeasure sends ``:*CLS``, which is not an IEEE 488.2 common command."""
        self.write("*RST;:STAT:PRES;*CLS")

    def enable_source(self) -> None:
        self.write(":OUTP ON")

    def disable_source(self) -> None:
        self.write(":OUTP OFF")

    def configure_current_measurement(self, nplc: float = 1.0, current_range_A: float | None = None) -> None:
        """Measure current with ``nplc`` integration and a fixed range (A) or autorange (``None``).

        Replaces PyMeasure's ``measure_current(nplc, ...)``, which sends ``NPLC %f`` and single quotes;
        the name ``measure_current`` is taken by the SourceMeter role (one reading).
        """
        self.write(':SENS:FUNC "CURR"')
        self.current_nplc = nplc
        if current_range_A is None:
            self.write(":SENS:CURR:RANG:AUTO ON")
        else:
            self.current_range = current_range_A

    def configure_voltage_measurement(self, nplc: float = 1.0) -> None:
        """Measure voltage with ``nplc`` integration and autorange."""
        self.write(':SENS:FUNC "VOLT"')
        self.voltage_nplc = nplc
        self.write(":SENS:VOLT:RANG:AUTO ON")

    # The native 2450 answers one number to :TRAC:STAT:AVER? (statistics of the buffer's readings);
    # PyMeasure indexes it as if it were a 2400's (V, I, R) triple and fails.
    @property
    def mean_current(self) -> float:
        """Mean of the readings in defbuffer1 (A when measuring current)."""
        return float(self.ask(f":TRAC:STAT:AVER? {_BUFFER}"))

    def snapshot_settings(self) -> dict[str, Any]:
        """The present settings, read from the instrument (queries only: nothing is changed).

        Source function, levels (V, A), limits (A, V), current measure range (A) and autorange, NPLC,
        output state and output-off states: what a run stores with its data.
        """
        with self._lock:
            ask = self.ask
            return {
                "source_function": ask(":SOUR:FUNC?").strip(),
                "source_voltage_V": float(ask(":SOUR:VOLT?")),
                "source_current_A": float(ask(":SOUR:CURR?")),
                "current_limit_A": float(ask(":SOUR:VOLT:ILIM?")),
                "voltage_limit_V": float(ask(":SOUR:CURR:VLIM?")),
                "sense_function": ask(":SENS:FUNC?").strip().strip('"'),
                "current_range_A": float(ask(":SENS:CURR:RANG?")),
                "current_autorange": bool(float(ask(":SENS:CURR:RANG:AUTO?"))),
                "current_nplc": float(ask(":SENS:CURR:NPLC?")),
                "voltage_nplc": float(ask(":SENS:VOLT:NPLC?")),
                "output_enabled": bool(float(ask(":OUTP?"))),
                "output_off_state": {"voltage": ask(":OUTP:VOLT:SMOD?").strip(),
                                     "current": ask(":OUTP:CURR:SMOD?").strip()},
            }

    # --- SourceMeter role ---------------------------------------------------------------------------------
    def configure_voltage_source(self, compliance_A: float, nplc: float = 1.0,
                                 current_range_A: float | None = None) -> None:
        """Source V, measure I with a current limit ``compliance_A`` (A); output-off state HIMP."""
        with self._lock:
            self.write(":SOUR:FUNC VOLT")
            self._source_function = "VOLT"
            self.voltage_output_off_state = "HIMP"
            self.compliance_current = compliance_A
            self.configure_current_measurement(nplc, current_range_A)
            self.raise_errors("configure voltage source")

    def set_voltage(self, volts: float) -> None:
        """Set the source level (V); the output state is unchanged."""
        self.source_voltage = volts

    def measure_current(self) -> float:  # type: ignore[override]
        """One reading (A) at the present source level (the role's meaning, not PyMeasure's setup call)."""
        with self._lock:
            return float(self.ask(":READ?"))

    def sweep_voltage(self, voltages: Sequence[float], delay_s: float) -> np.ndarray:
        """Run the voltages as a native sweep into defbuffer1 and return the currents (A).

        Evenly spaced voltages use ``:SOUR:SWE:VOLT:LIN``; any other list uses ``:SOUR:LIST:VOLT``.
        The instrument times the settling ``delay_s``, so the sweep does not depend on host latency.
        """
        values = [float(v) for v in voltages]
        if not values:
            return np.empty(0)
        for v in values:
            strict_range(v, [-210, 210])
        strict_range(delay_s, [0, 10000])
        with self._lock:
            self.write(f":TRAC:CLE {_BUFFER}")
            if _is_linear(values):
                self.write(f":SOUR:SWE:VOLT:LIN {values[0]:g},{values[-1]:g},{len(values)},{delay_s:g},"
                           f"1,BEST,OFF,OFF,{_BUFFER}")
            else:
                self._send_list(values)
                self.write(f":SOUR:SWE:VOLT:LIST 1,{delay_s:g},1,OFF,{_BUFFER}")
            budget_ms = 10000 + 1000 * len(values) * (delay_s + 0.5)
            with longer_timeout(self, budget_ms):
                self.write(":INIT")
                self.ask("*OPC?")
            count = int(float(self.ask(f":TRAC:ACT:END? {_BUFFER}")))
            if count < len(values):
                raise InstrumentError(f"{self.name}: sweep stored {count} of {len(values)} points")
            data = self.values(f":TRAC:DATA? 1,{len(values)},{_BUFFER},READ")
            return np.asarray(data, dtype=float)

    def _send_list(self, values: list[float]) -> None:
        for start in range(0, len(values), _LIST_CHUNK):
            chunk = ",".join(f"{v:g}" for v in values[start:start + _LIST_CHUNK])
            self.write(f":SOUR:LIST:VOLT {chunk}" if start == 0 else f":SOUR:LIST:VOLT:APP {chunk}")

    def enable_output(self) -> None:
        self.enable_source()

    def disable_output(self) -> None:
        self.disable_source()

    @property
    def output_enabled(self) -> bool:
        return bool(self.source_enabled)

    @property
    def compliance_tripped(self) -> bool:
        """True when the source is held at its limit (ILIM when sourcing V, VLIM when sourcing I)."""
        limit = "ILIM" if self._source_function == "VOLT" else "VLIM"
        return bool(float(self.ask(f":SOUR:{self._source_function}:{limit}:TRIP?")))

    # --- Galvanostat role (software cut-offs) -------------------------------------------------------------
    def start_galvanostatic(self, current_A: float, interval_s: float, max_time_s: float,
                            v_min: float, v_max: float, *, capacity_C: float | None = None,
                            window_V: tuple[float, float] | None = None) -> None:
        """Source ``current_A`` (A) with a VLIM clamp just outside [v_min, v_max] (V); HIMP when off.

        VLIM is a clamp, not a cut-off: the cut-offs are checked on every reading in :meth:`poll`, which
        turns the output off when E leaves the window or ``max_time_s`` (instrument time) has passed.
        """
        _check_technique(interval_s, max_time_s)
        if not v_min < v_max:
            raise ValueError(f"voltage window must have v_min < v_max (got {v_min:g}, {v_max:g})")
        low, high = self.potential_range_V
        if not (low <= v_min and v_max <= high):
            raise ValueError(f"cut-offs {v_min:g}..{v_max:g} V are outside the 2450's {low:g}..{high:g} V")
        clamp = max(abs(v_min), abs(v_max)) + 0.05
        with self._lock:
            self._stop_output(verify=False)
            self.write(":SOUR:FUNC CURR")
            self._source_function = "CURR"
            self.current_output_off_state = "HIMP"
            self.compliance_voltage = min(clamp, 210)
            self.source_current = current_A
            self.configure_voltage_measurement()
            self.write(f":TRAC:CLE {_BUFFER}")
            self.raise_errors("configure galvanostatic step")
            self.enable_source()
            if window_V is not None:  # the window is checked like the cut-offs, on every reading
                v_min, v_max = max(v_min, window_V[0]), min(v_max, window_V[1])
            self._technique = _SoftwareTechnique(interval_s, max_time_s, v_min, v_max, capacity_C)
            self._technique.pending.extend(self._read_samples())

    def start_ocp(self, interval_s: float, max_time_s: float) -> None:
        """Record the open-circuit potential: source 0 A and measure V.

        With the output off in HIMP the 2450's output relay is open and it cannot see the cell, so
        the usual SMU way to measure OCV (a zero-current source, no VLIM cut-offs) is used instead.
        """
        _check_technique(interval_s, max_time_s)
        with self._lock:
            self._stop_output(verify=False)
            self.write(":SOUR:FUNC CURR")
            self._source_function = "CURR"
            self.current_output_off_state = "HIMP"
            self.compliance_voltage = 21
            self.source_current = 0.0
            self.configure_voltage_measurement()
            self.write(f":TRAC:CLE {_BUFFER}")
            self.raise_errors("configure OCP")
            self.enable_source()
            self._technique = _SoftwareTechnique(interval_s, max_time_s, -np.inf, np.inf)
            self._technique.pending.extend(self._read_samples())

    def poll(self) -> list[Sample]:
        """Take one reading (``:READ?`` with the instrument's relative time) and apply the cut-offs."""
        with self._lock:
            tech = self._technique
            if tech is None:
                return []
            if tech.running:
                tech.pending.extend(self._read_samples())
            out, tech.pending = tech.pending, []
            return out

    def _read_samples(self) -> list[Sample]:
        tech = self._technique
        assert tech is not None
        rel, current, potential = self.values(f":READ? {_BUFFER},REL,SOUR,READ")
        if tech.t0 is None:
            tech.t0 = rel
        sample = Sample(rel - tech.t0, potential, current)
        reason = tech.cutoff(sample)
        if reason:
            self._stop_output()
            tech.running = False
            tech.stop_reason = reason
            return [sample]
        if tech.last_t is None or sample.t - tech.last_t >= tech.interval_s * 0.999:
            tech.last_t = sample.t
            return [sample]
        return []

    @property
    def running(self) -> bool:
        return self._technique is not None and self._technique.running

    @property
    def stop_reason(self) -> str | None:
        """Why the last technique ended: ``"v_max"``, ``"v_min"``, ``"max_time"``, ``"stopped"`` or None."""
        return None if self._technique is None else self._technique.stop_reason

    def stop(self) -> None:
        """Abort the technique and turn the output off (HIMP)."""
        with self._lock:
            self._stop_output()
            if self._technique is not None and self._technique.running:
                self._technique.running = False
                self._technique.stop_reason = "stopped"

    def cell_is_off(self) -> bool:
        """Galvanostat read-back: the output reads back off (``:OUTP?``)."""
        return not self.output_enabled

    def _stop_output(self, verify: bool = True) -> None:
        """Output off; with ``verify`` read it back (a cut-off or stop must be certain, not just sent)."""
        self.write(":OUTP OFF")
        if verify and self.output_enabled:
            raise InstrumentError(f"{self.name}: output still on after :OUTP OFF")

    def shutdown(self) -> None:
        """Abort any sweep, turn the output off, read back that it is off (no ramp: HIMP floats the cell)."""
        with self._lock:
            self.write(":ABOR")
            if self._technique is not None and self._technique.running:
                self._technique.running = False
                self._technique.stop_reason = "stopped"
            self._stop_output()
            self.isShutdown = True


class _SoftwareTechnique:
    """State of a galvanostatic/OCP step whose cut-offs the host checks."""

    def __init__(self, interval_s: float, max_time_s: float, v_min: float, v_max: float,
                 capacity_C: float | None = None) -> None:
        self.capacity_C = capacity_C
        self.q_C = 0.0
        self.interval_s = interval_s
        self.max_time_s = max_time_s
        self.v_min = v_min
        self.v_max = v_max
        self.t0: float | None = None
        self.last_t: float | None = None
        self.last_reading: float | None = None
        self.running = True
        self.stop_reason: str | None = None
        self.pending: list[Sample] = []

    def cutoff(self, sample: Sample) -> str | None:
        if self.last_reading is not None:  # charge passed (C), counted on every reading
            self.q_C += sample.current * max(sample.t - self.last_reading, 0.0)
        self.last_reading = sample.t
        if self.capacity_C is not None and abs(self.q_C) >= self.capacity_C:
            return "capacity"
        if sample.potential >= self.v_max:
            return "v_max"
        if sample.potential <= self.v_min:
            return "v_min"
        if sample.t >= self.max_time_s:
            return "max_time"
        return None


def _check_technique(interval_s: float, max_time_s: float) -> None:
    if not interval_s > 0:
        raise ValueError(f"interval_s must be > 0 (got {interval_s!r})")
    if not max_time_s > 0:
        raise ValueError(f"max_time_s must be > 0 (got {max_time_s!r})")


def _is_linear(values: list[float]) -> bool:
    if len(values) < 3:
        return len(values) == 2 and values[0] != values[1]
    steps = np.diff(values)
    return bool(steps[0] != 0 and np.allclose(steps, steps[0], rtol=1e-6, atol=1e-12))
