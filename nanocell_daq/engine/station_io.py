"""Open a station's instruments for a run: role objects, instrument names, snapshot, shutdown.

Uses ``nanocell_daq.station.build_station`` (the station area's API). Until that lands, a minimal builder
from ``drivers.registry`` stands in (same station file format), so the engine can run on the bench.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drivers.roles import ROLES
from nanocell_daq.engine.stationview import StationView
from nanocell_daq.errors import UserError


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
        if self.station is not None and hasattr(self.station, "shutdown_all"):
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
            except Exception:  # noqa: BLE001, S110 - closing a dead connection at exit
                pass


def _station_api() -> tuple[Any, Any] | None:
    try:
        from nanocell_daq import station as st
    except ImportError:
        return None
    load = getattr(st, "load_station", None) or getattr(st, "load", None)
    build = getattr(st, "build_station", None)
    if load is None or build is None:
        return None
    return load, build


_SCRIPT_DRIVERS = frozenset({"emstat4"})
"""Potentiostats that keep running a MethodSCRIPT technique (cell on) after the host process died."""


def abort_orphan_techniques(view: StationView) -> list[str]:
    """Abort a technique a killed engine left running (a MethodSCRIPT device answers nothing else until
    then, so the station could not even identify it). Returns what was done, for the log.

    Workaround: this belongs in the driver/station layer (an identity check that first aborts a script).
    """
    from drivers.registry import open_driver

    done = []
    cells = {view.roles.get(r) for r in ("galvanostat", "potentiostat")} - {None}
    for name, cfg in (view.config.get("instruments") or {}).items():
        if name not in cells or str(cfg.get("driver")) not in _SCRIPT_DRIVERS:
            continue
        try:
            inst = open_driver(str(cfg["driver"]), str(cfg["resource"]), name, dict(cfg.get("options") or {}))
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
            except Exception:  # noqa: BLE001, S110 - closing at the end of a recovery
                pass
    return done


def open_station(view: StationView) -> OpenStation:
    """Connect to every instrument of ``view``'s station file (UserError naming the instrument on failure)."""
    api = _station_api()
    if api is not None:
        load, build = api
        config = load(view.path)
        station = build(config)
        roles = {name: station.role(name) for name in view.roles if name in ROLES}
        snapshot = {}
        if hasattr(station, "snapshot"):
            try:
                snapshot = station.snapshot()
            except Exception as exc:  # noqa: BLE001 - the snapshot is informative only
                snapshot = {"error": str(exc)}
        return OpenStation(view=view, roles=roles, names=dict(view.roles), snapshot=snapshot, station=station)
    return _fallback_open(view)


def _fallback_open(view: StationView) -> OpenStation:
    """Minimal builder (workaround until nanocell_daq.station.build_station exists)."""
    from drivers.registry import ROUTER_DRIVERS, resolve
    from drivers.routing import MatrixRouter

    instruments: dict[str, Any] = {}
    for name, cfg in (view.config.get("instruments") or {}).items():
        driver = str(cfg.get("driver"))
        options = dict(cfg.get("options") or {})
        if "timeout_ms" in options:
            options["timeout"] = options.pop("timeout_ms")
        try:
            cls = resolve(driver).load()
            inst = cls(cfg["resource"], **options)
        except Exception as exc:
            raise UserError(f"{view.path}: instruments.{name}: cannot open {driver} at "
                            f"{cfg.get('resource')}: {exc}") from None
        if driver in ROUTER_DRIVERS:
            inst = MatrixRouter(inst, {w.name: frozenset(w.channels) for w in view.wirings.values()})
        instruments[name] = inst
    roles = {role: instruments[name] for role, name in view.roles.items() if name in instruments}
    return OpenStation(view=view, roles=roles, names=dict(view.roles),
                       snapshot={"config": view.config})
