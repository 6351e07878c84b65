"""Source/drain I-V sweep of the wire, one sweep per listed contact pair (each its own wiring)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pymeasure.experiment import BooleanParameter, FloatParameter, IntegerParameter, Parameter

from procedures.base import Needs, Problem, Step, refused
from procedures.context import ComplianceTrip

_LINE_HZ = 50.0
"""Mains frequency the integration time (PLC) is counted in (Hz)."""
_EXCHANGE_S = 0.03
"""Host-instrument exchange per point (set V, read I, read the compliance flag; s), for estimates."""


class IVSweep(Step):
    """Sweep V from -``v_max_V`` to +``v_max_V`` in ``points`` steps (and back if ``both_directions``) on each
    pair of ``pairs`` (e.g. ``[S-D, S-C1]``; empty = every ``conductance:*`` wiring of the station).

    Records V (V), I (A), direction (``up``/``down``) and the pair. The laser shutter stays closed and the
    cell is disconnected (the wiring routes only the SMU): photocurrent and local (de)lithiation would
    spoil the sweep.
    """

    kind = "iv"
    summary_fields = ("pairs", "v_max_V", "points", "compliance_A")
    DATA_COLUMNS: ClassVar[list[str]] = ["V (V)", "I (A)", "direction", "pair"]

    pairs = Parameter("Contact pairs (empty = all)", default=[])
    v_max_V = FloatParameter("Sweep range +-", units="V", minimum=1e-3, maximum=20, default=0.5)
    points = IntegerParameter("Points per direction", minimum=2, maximum=10001, default=21)
    both_directions = BooleanParameter("Sweep up and back down", default=True)
    compliance_A = FloatParameter("Current compliance", units="A", minimum=1e-12, maximum=1, default=1e-6)
    nplc = FloatParameter("Integration time", units="PLC", minimum=0.01, maximum=10, default=1.0)
    settle_s = FloatParameter("Settling time per point", units="s", minimum=0, maximum=60, default=0.05)

    def pair_list(self, station: Any) -> list[str]:
        pairs = self.pairs
        if isinstance(pairs, str):
            pairs = [p.strip() for p in pairs.split(",") if p.strip()]
        return list(pairs) if pairs else station.contact_pairs()

    def needs(self, station: Any) -> Needs:
        return Needs(
            roles={"source_meter", "router", "shutter"},
            wirings=[station.conductance_wiring(p) for p in self.pair_list(station)],
        )

    def check(self, station: Any) -> list[Problem]:
        problems = []
        if not station.has_role("source_meter"):
            problems.append(Problem(self.kind, "the station has no 'source_meter' role"))
        pairs = self.pair_list(station)
        if not pairs:
            problems.append(
                Problem(
                    "pairs",
                    f"no contact pair given and the station has no conductance:* wiring ({station.path})",
                )
            )
        for pair in pairs:
            wiring = station.conductance_wiring(pair)
            if wiring not in station.wirings:
                known = ", ".join(station.contact_pairs()) or "none"
                problems.append(
                    Problem("pairs", f"no wiring {wiring!r} in the station {station.path} (pairs: {known})")
                )
                continue
            # compliance first; the sweep range is checked once the compliance is acceptable
            compliance = refused("compliance_A", station.limits.check_iv, wiring, 0.0, self.compliance_A)
            problems += compliance or refused(
                "v_max_V", station.limits.check_iv, wiring, self.v_max_V, self.compliance_A
            )
        return problems

    def voltages(self) -> list[tuple[str, np.ndarray]]:
        up = np.linspace(-self.v_max_V, self.v_max_V, self.points)
        return [("up", up), ("down", up[::-1])] if self.both_directions else [("up", up)]

    def estimate_s(self, station: Any) -> float:
        per_point = self.settle_s + self.nplc / _LINE_HZ + _EXCHANGE_S
        n = self.points * (2 if self.both_directions else 1)
        return len(self.pair_list(station)) * n * per_point

    def host_s(self, station: Any) -> float:
        """One exchange with the SMU per point (set the level, read the current)."""
        n = self.points * (2 if self.both_directions else 1)
        return len(self.pair_list(station)) * n * _EXCHANGE_S

    def startup(self) -> None:
        self.ctx.role("shutter").close()

    def execute(self) -> None:
        ctx = self.ctx
        smu = ctx.role("source_meter")
        pairs = self.pair_list(ctx.station)
        sweeps = self.voltages()
        total = len(pairs) * sum(len(v) for _, v in sweeps)
        done = 0
        for pair in pairs:
            ctx.use_wiring(ctx.station.conductance_wiring(pair))
            ctx.query(smu.configure_voltage_source, self.compliance_A, self.nplc)
            ctx.query(smu.set_voltage, 0.0)
            smu.enable_output()
            for direction, volts in sweeps:
                for v in volts:
                    if ctx.checkpoint():  # paused: the engine turned the output off
                        ctx.query(smu.configure_voltage_source, self.compliance_A, self.nplc)
                        smu.enable_output()
                    ctx.query(smu.set_voltage, float(v))
                    if self.settle_s:
                        ctx.sleep(self.settle_s)
                    current = ctx.query(smu.measure_current)
                    ctx.elapse(self.nplc / _LINE_HZ)  # the SMU integrated this long
                    ctx.recorder.iv(float(v), float(current), direction, pair)
                    if ctx.query(lambda: smu.compliance_tripped):
                        smu.disable_output()
                        raise ComplianceTrip(
                            f"{pair}: compliance {self.compliance_A:g} A reached at "
                            f"{v:+.3f} V ({current:.3g} A)"
                        )
                    done += 1
                    ctx.progress(done / total)
            smu.set_voltage(0.0)
            smu.disable_output()

    def shutdown(self) -> None:
        ctx = getattr(self, "ctx", None)
        if ctx is not None:
            ctx.role("source_meter").disable_output()
