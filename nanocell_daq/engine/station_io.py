"""Open a station's instruments for a run: role objects, instrument names, snapshot, shutdown.

Uses the station area's ``load_station``/``build_station`` (identity and role checks happen there).
"""

from __future__ import annotations

from collections.abc import Iterable
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
    return instrument_notes(getattr(opened.station, "instruments", {}) or {})


def instrument_notes(instances: dict[str, Any], skip: Iterable[str] = ()) -> list[str]:
    """Per connected instrument (except ``skip``): a technique or TSP script left running that its driver
    aborted on connecting (``orphan_aborted``), and, read before anything is switched, what became of a TSP
    script a dead host started that no longer runs (``script_left_behind``: ended by itself at its cut-off,
    or cut short). A script a host had running is always accounted for; it is only said to be aborted when
    this connection aborted it."""
    out = []
    for name, inst in instances.items():
        if name in skip:
            continue
        if note := getattr(inst, "orphan_aborted", None):
            out.append(f"{name}: {note}")
        left_behind = getattr(inst, "script_left_behind", None)
        if callable(left_behind):
            try:
                note = left_behind()
            except Exception as exc:  # noqa: BLE001 - the read-backs that follow decide what is safe
                note = f"could not read what became of its script: {type(exc).__name__}: {exc}"
            if note:
                out.append(f"{name}: {note}")
    return out
