"""Open a station's instruments for a run: role objects, instrument names, snapshot, shutdown.

Uses the station area's ``load_station``/``build_station`` (identity and role checks happen there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drivers.roles import ROLES
from nanocell_daq.engine.stationview import StationView
from nanocell_daq.station import build_station


@dataclass
class OpenStation:
    """The instruments of a station, ready for a run."""

    view: StationView
    roles: dict[str, Any]
    names: dict[str, str]
    """role -> instrument name (for messages)."""
    snapshot: dict[str, Any] = field(default_factory=dict)
    station: Any = None

    def shutdown_all(self) -> list[str]:
        """Every instrument's ``shutdown()`` (outputs safe); returns failures, never raises."""
        failures = []
        if self.station is not None:
            try:
                self.station.shutdown_all()
                return failures
            except Exception as exc:  # noqa: BLE001 - fall back to per-instrument shutdown
                failures.append(f"station.shutdown_all: {exc}")
        seen: set[int] = set()
        for role, obj in self.roles.items():
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            try:
                obj.shutdown()
            except Exception as exc:  # noqa: BLE001 - try every instrument
                failures.append(f"{self.names.get(role, role)}.shutdown: {exc}")
        return failures

    def close(self) -> None:
        seen: set[int] = set()
        for obj in self.roles.values():
            adapter = getattr(obj, "adapter", None) or getattr(getattr(obj, "matrix", None), "adapter", None)
            if adapter is None or id(adapter) in seen:
                continue
            seen.add(id(adapter))
            try:
                adapter.close()
            except Exception:  # noqa: BLE001 - closing a dead connection at exit
                pass


_SCRIPT_DRIVERS = frozenset({"emstat4"})
"""Potentiostats that keep running a MethodSCRIPT technique (cell on) after the host process died."""


def abort_orphan_techniques(view: StationView) -> list[str]:
    """Abort a technique a killed engine left running (a MethodSCRIPT device answers nothing else until
    then, so the station could not even identify it). Returns what was done, for the log.

    Workaround: this belongs in the driver/station layer (an identity check that first aborts a script).
    """
    from drivers.registry import open_driver

    done = []
    cells = {view.instrument_of(r) for r in ("galvanostat", "potentiostat")} - {None}
    for name, cfg in view.config.instruments.items():
        if name not in cells or cfg.driver not in _SCRIPT_DRIVERS:
            continue
        try:
            inst = open_driver(cfg.driver, cfg.resource, name, dict(cfg.options))
        except Exception as exc:  # noqa: BLE001 - the station open that follows reports it properly
            done.append(f"{name}: cannot connect to abort a technique: {exc}")
            continue
        conn = inst.adapter.connection
        try:
            conn.write("Z")
            conn.timeout = 300
            drained = 0
            while drained < 10000:
                try:
                    conn.read()
                    drained += 1
                except Exception:  # noqa: BLE001 - a read timeout means the device went quiet
                    break
            done.append(f"{name}: sent abort (Z), {drained} pending line(s) drained")
        finally:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing at the end of a recovery
                pass
    return done


def open_station(view: StationView) -> OpenStation:
    """Connect to every instrument of ``view``'s station (UserError naming the instrument on failure)."""
    station = build_station(view.config)
    roles = {name: station.role(name) for name in view.roles if name in ROLES}
    try:
        snapshot = station.snapshot()
    except Exception as exc:  # noqa: BLE001 - the snapshot is informative only
        snapshot = {"error": str(exc)}
    return OpenStation(view=view, roles=roles, names=dict(view.roles), snapshot=snapshot, station=station)
