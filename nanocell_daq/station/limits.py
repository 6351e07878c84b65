"""Device limits as the engine enforces them: strict, talkative checks that name the station file line."""

from __future__ import annotations

import math
from collections.abc import Sequence

from nanocell_daq.errors import UserError
from nanocell_daq.station.config import LimitsConfig
from nanocell_daq.station.loader import SourceMap


class LimitError(UserError):
    """A requested setpoint exceeds a device limit of the station file (nothing was clipped or sent)."""


def _finite(**values: float | None) -> None:
    """NaN passes every comparison below (all are false): refuse it, and inf, before comparing."""
    for name, value in values.items():
        if value is not None and not math.isfinite(value):
            raise LimitError(f"{name} must be a finite number (got {value})")


class Limits:
    """The ``limits:`` section of a station, with checks that raise :class:`LimitError`.

    A limit that the station file does not set is not checked. Every message says what was requested,
    the limit, and where it is written (``station.yaml line 14``).
    """

    def __init__(self, config: LimitsConfig, wirings: Sequence[str] = (), source: SourceMap | None = None):
        self.config = config
        self.wirings = tuple(wirings)
        self._source = source

    def _at(self, *loc: str) -> str:
        if self._source is None:
            return "station limits"
        line = self._source.line(loc)
        return f"{self._source.path.name} line {line}" if line else self._source.path.name

    def check_iv(self, wiring: str, max_abs_V: float, compliance_A: float) -> None:
        """An I-V on ``wiring`` up to ``max_abs_V`` (V) with current compliance ``compliance_A`` (A)."""
        _finite(voltage_V=max_abs_V, compliance_A=compliance_A)
        if self.wirings and wiring not in self.wirings:
            raise LimitError(f"unknown wiring {wiring!r} (station wirings: {', '.join(self.wirings)})")
        if not compliance_A > 0:
            raise LimitError(f"compliance must be > 0 A (got {compliance_A:g} A) on {wiring!r}")
        lim = self.config.wirings.get(wiring)
        if lim is None:
            return
        if compliance_A > lim.max_current_A:
            where = self._at("limits", "wirings", wiring, "max_current_A")
            raise LimitError(f"requested {compliance_A:g} A on {wiring!r}, device limit "
                             f"{lim.max_current_A:g} A ({where})")
        if lim.max_voltage_V is not None and abs(max_abs_V) > lim.max_voltage_V:
            where = self._at("limits", "wirings", wiring, "max_voltage_V")
            raise LimitError(f"requested {abs(max_abs_V):g} V on {wiring!r}, device limit "
                             f"{lim.max_voltage_V:g} V ({where})")

    def check_cycling(self, current_A: float, v_min: float, v_max: float) -> None:
        """A galvanostatic step at ``current_A`` (A, sign = direction) with cut-offs [v_min, v_max] (V)."""
        _finite(current_A=current_A, v_min_V=v_min, v_max_V=v_max)
        if not v_min < v_max:
            raise LimitError(f"cut-offs must have v_min < v_max (got {v_min:g} V, {v_max:g} V)")
        lim = self.config.cycling
        if lim is None:
            return
        if abs(current_A) > lim.max_current_A:
            raise LimitError(f"requested {abs(current_A):g} A for cycling, device limit "
                             f"{lim.max_current_A:g} A ({self._at('limits', 'cycling', 'max_current_A')})")
        low, high = lim.voltage_window_V
        if v_min < low or v_max > high:
            raise LimitError(f"requested cut-offs [{v_min:g}, {v_max:g}] V, device window "
                             f"[{low:g}, {high:g}] V ({self._at('limits', 'cycling', 'voltage_window_V')})")

    def check_potential(self, potential_V: float) -> None:
        """A potentiostatic hold or CV vertex (V) inside the cycling window."""
        _finite(potential_V=potential_V)
        lim = self.config.cycling
        if lim is None:
            return
        low, high = lim.voltage_window_V
        if not low <= potential_V <= high:
            raise LimitError(f"requested {potential_V:g} V, device window [{low:g}, {high:g}] V"
                             f" ({self._at('limits', 'cycling', 'voltage_window_V')})")

    @property
    def cycling_window_V(self) -> tuple[float, float] | None:
        """The cell's allowed voltage window [low, high] (V), None when the station sets none."""
        lim = self.config.cycling
        return None if lim is None else (float(lim.voltage_window_V[0]), float(lim.voltage_window_V[1]))

    @property
    def cycling_max_current_A(self) -> float | None:
        """The largest |I| (A) allowed through the cell, None when the station sets none."""
        lim = self.config.cycling
        return None if lim is None else float(lim.max_current_A)

    def check_sample(self, potential_V: float, current_A: float,
                     window_V: tuple[float, float] | None = None) -> None:
        """A sample measured on the cell during a run: E (V) inside the cycling window and |I| (A) within
        the cycling current limit. ``window_V`` replaces the station's window when the caller allows
        less (a cell that starts outside the window may move back into it, never further out)."""
        lim = self.config.cycling
        if lim is None:
            return
        where = self._at("limits", "cycling", "voltage_window_V")
        station = f"the station window [{lim.voltage_window_V[0]:g}, {lim.voltage_window_V[1]:g}] V ({where})"
        low, high = window_V if window_V is not None else lim.voltage_window_V
        for beyond, side, edge in ((potential_V < low, "below", low), (potential_V > high, "above", high)):
            if not beyond:
                continue
            if window_V is None:
                raise LimitError(f"E = {potential_V:.4g} V is {side} {station}")
            raise LimitError(f"E = {potential_V:.4g} V is {side} {edge:g} V: outside {station} and further "
                             f"out than where the cell started")
        if abs(current_A) > lim.max_current_A:
            raise LimitError(f"|I| = {abs(current_A):.4g} A is above the cycling current limit "
                             f"{lim.max_current_A:g} A ({self._at('limits', 'cycling', 'max_current_A')})")

    def check_laser(self, power_mW: float) -> None:
        """Laser power at the sample (mW)."""
        _finite(laser_power_mW=power_mW)
        if power_mW < 0:
            raise LimitError(f"laser power must be >= 0 mW (got {power_mW:g} mW)")
        top = self.config.max_laser_power_mW
        if top is not None and power_mW > top:
            raise LimitError(f"requested {power_mW:g} mW laser power, device limit {top:g} mW"
                             f" ({self._at('limits', 'max_laser_power_mW')})")

    def check_stage(self, x_um: float, y_um: float, z_um: float | None = None) -> None:
        """A stage target (um) inside the allowed travel region."""
        _finite(x_um=x_um, y_um=y_um, z_um=z_um)
        travel = self.config.stage_travel_um
        if travel is None:
            return
        for axis, value, span in (("x", x_um, travel.x), ("y", y_um, travel.y), ("z", z_um, travel.z)):
            if value is None or span is None:
                continue
            if not span[0] <= value <= span[1]:
                where = self._at("limits", "stage_travel_um", axis)
                raise LimitError(f"requested stage {axis} = {value:g} um, allowed "
                                 f"[{span[0]:g}, {span[1]:g}] um ({where})")
