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

    def shutdown_all(self, keep_router: bool = False) -> list[str]:
        """Every instrument's ``shutdown()`` (outputs safe); returns failures, never raises.

        ``keep_router``: leave the router (and its matrix) as it is, e.g. while a source is not verified off.
        """
        failures = []
        kept: set[int] = set()
        if keep_router and "router" in self.roles:
            router = self.roles["router"]
            kept = {id(router), id(getattr(router, "matrix", router))}
        if self.station is not None and not kept:
            try:
                self.station.shutdown_all()
                return failures
            except Exception as exc:  # noqa: BLE001 - fall back to per-instrument shutdown
                failures.append(f"station.shutdown_all: {exc}")
        seen: set[int] = set()
        for role, obj in self.roles.items():
            if id(obj) in seen or id(obj) in kept:
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


def open_station(view: StationView) -> OpenStation:
    """Connect to every instrument of ``view``'s station (UserError naming the instrument on failure)."""
    station = build_station(view.config)
    roles = {name: station.role(name) for name in view.roles if name in ROLES}
    try:
        snapshot = station.snapshot()
    except Exception as exc:  # noqa: BLE001 - the snapshot is informative only
        snapshot = {"error": str(exc)}
    return OpenStation(view=view, roles=roles, names=dict(view.roles), snapshot=snapshot, station=station)


def recovery_notes(opened: OpenStation) -> list[str]:
    """What connecting had to recover, per instrument (e.g. a technique a killed engine left running on
    a MethodSCRIPT potentiostat, which its driver aborts before identifying it), for the run's log."""
    instruments = getattr(opened.station, "instruments", {}) or {}
    return [f"{name}: {note}" for name, inst in instruments.items()
            if (note := getattr(inst, "orphan_aborted", None))]
