"""The station panel's model: a station file's instruments, roles, device and limits; instrument checks.

Loading validates the file with the station package (``load_station``: errors name file:line: field) and
touches no instrument. ``check()`` runs the station package's check (``check_station``: connect, identify,
check roles and wirings, switch nothing on) and keeps one result per instrument, so an unreachable one is
reported by name while the others show their identity. The simulated station lives in ``sim_server``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from nanocell_daq.errors import UserError
from nanocell_daq.station import StationConfig, load_station
from nanocell_daq.viewmodels.events import Signal


@dataclass
class InstrumentRow:
    """One instrument of the station: its roles, driver, resource, and the last check's result."""

    name: str
    driver: str
    resource: str
    roles: list[str]
    status: str = "not checked"  # "not checked" | "ok" | "error"
    identity: str = ""
    problem: str = ""  # why the check failed (unreachable, wrong instrument, role not filled)


@dataclass
class CheckSummary:
    """What the last check found beyond the instruments: roles and wirings that are not fine."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    wirings: list[tuple[str, bool, str]] = field(default_factory=list)  # (wiring, ok, detail)


def _g(value: float) -> str:
    return f"{value:.3g}"


def limit_lines(config: StationConfig) -> list[tuple[str, str]]:
    """(label, value with unit) lines of the device and its limits, for the panel's table."""
    out: list[tuple[str, str]] = []
    dev = config.device
    if dev is not None:
        out.append(("chip", dev.chip))
        if dev.wire:
            out.append(("wire", dev.wire))
        if dev.nominal_capacity_Ah:
            out.append(("nominal capacity", f"{_g(dev.nominal_capacity_Ah)} Ah"))
    lim = config.limits
    if lim.cycling is not None:
        lo, hi = lim.cycling.voltage_window_V
        out.append(("cycling max |I|", f"{_g(lim.cycling.max_current_A)} A"))
        out.append(("cycling window", f"{lo:g} – {hi:g} V"))
    for wiring, wl in lim.wirings.items():
        parts = [f"max |I| {_g(wl.max_current_A)} A"]
        if wl.max_voltage_V is not None:
            parts.append(f"max |V| {_g(wl.max_voltage_V)} V")
        out.append((wiring, ", ".join(parts)))
    if lim.max_laser_power_mW is not None:
        out.append(("max laser power", f"{lim.max_laser_power_mW:g} mW"))
    if lim.stage_travel_um is not None:
        travel = lim.stage_travel_um
        for axis, rng in (("x", travel.x), ("y", travel.y), ("z", travel.z)):
            if rng is not None:
                out.append((f"stage {axis}", f"{rng[0]:g} – {rng[1]:g} µm"))
    return out


class StationModel:
    """Signals: ``loaded(path)``, ``checked()``."""

    def __init__(self) -> None:
        self.path: str | None = None
        self.config: StationConfig | None = None
        self.name = ""
        self.instruments: list[InstrumentRow] = []
        self.limits: list[tuple[str, str]] = []
        self.speed = 1.0
        self.summary: CheckSummary | None = None
        self.db: str | None = None
        """The run database whose station lease a check takes (refused while a run uses the station)."""
        self.loaded = Signal("loaded")
        self.checked = Signal("checked")

    def load(self, path: str | os.PathLike[str]) -> None:
        """Read and validate a station file (``UserError`` file:line: field on a mistake)."""
        if not Path(path).is_file():
            raise UserError(f"{path}: station file not found")
        config = load_station(path)
        self.path, self.config = str(path), config
        self.name = config.name
        self.speed = config.clock_speed
        self.summary = None
        self.instruments = [
            InstrumentRow(
                name,
                inst.driver,
                inst.resource,
                [role for role, target in config.roles.items() if target == name],
            )
            for name, inst in config.instruments.items()
        ]
        self.limits = limit_lines(config)
        self.loaded.emit(self.path)

    def check(self) -> list[InstrumentRow]:
        """Connect to every instrument, read its identity, check roles and wirings; switch nothing on.

        Blocking (a missing instrument waits for its timeout): views run it on a worker thread.
        """
        from nanocell_daq.engine.lease import held_for_check
        from nanocell_daq.station.check import check_station

        if self.config is None:
            raise UserError("load a station file first")
        with held_for_check(self.db, self.config, self.path or "the station"):
            report = check_station(self.config)
        by_name = {s.name: s for s in report.instruments}
        for row in self.instruments:
            s = by_name.get(row.name)
            if s is None:
                continue
            row.identity, row.problem = s.identity, s.problem
            row.status = "ok" if s.ok else "error"
        problems = [f"role {r.role} ({r.instrument}): {r.detail}" for r in report.roles if not r.ok]
        for r in report.roles:  # an instrument that cannot fill its role is not "ok" either
            row = next((x for x in self.instruments if x.name == r.instrument), None)
            if row is not None and not r.ok and row.status == "ok":
                row.status, row.problem = "error", r.detail
        wirings = [(w.wiring, w.ok, w.detail) for w in report.wirings]
        self.summary = CheckSummary(report.ok, problems, wirings)
        self.checked.emit()
        return self.instruments

    def failed(self) -> list[str]:
        """``name: problem`` of each instrument the last check found not ready."""
        return [f"{r.name}: {r.problem}" for r in self.instruments if r.status == "error"]
