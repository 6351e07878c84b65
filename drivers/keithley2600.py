"""Keithley 2600B SourceMeter (e.g. 2636B) over TSP, %g numbers so nA values survive; fills SourceMeter."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from pymeasure.instruments import Channel, Instrument
from pymeasure.instruments.validators import strict_discrete_set, strict_range

from drivers._common import TSPMixin, with_defaults
from drivers.errors import InstrumentError


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

    def __init__(self, adapter, name: str = "Keithley 2600B SourceMeter", channel: str = "a", **kwargs):
        kwargs = with_defaults(kwargs, read_termination="\n", write_termination="\n", timeout=10000)
        super().__init__(adapter, name, includeSCPI=False, **kwargs)
        if channel not in ("a", "b"):
            raise ValueError(f"channel must be 'a' or 'b' (got {channel!r})")
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
        self._verify_limit(self._limit_A, "refusing to turn the output on")
        self.smu.source_output = True

    def disable_output(self) -> None:
        self.smu.source_output = False

    @property
    def output_enabled(self) -> bool:
        return bool(self.smu.source_output)

    @property
    def compliance_tripped(self) -> bool:
        return bool(self.smu.compliance)

    def shutdown(self) -> None:
        """Turn the role's channel output off and read it back (single-channel models have no ``smub``)."""
        self.smu.source_output = False
        if self.smu.source_output:
            raise InstrumentError(f"{self.name}: output still on after switching it off")
        self.isShutdown = True
