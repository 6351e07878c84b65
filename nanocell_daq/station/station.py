"""A built station: connected instruments, role objects, the router, limits, shutdown and snapshot."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyvisa

from drivers import registry
from drivers.errors import DriverError, InstrumentError, ReplyError
from drivers.roles import ROLES
from drivers.routing import MatrixRouter
from nanocell_daq.errors import UserError
from nanocell_daq.station.config import Device, StationConfig
from nanocell_daq.station.limits import Limits
from nanocell_daq.station.loader import load_station, source_of

SHUTDOWN_ORDER = ("source_meter", "galvanostat", "potentiostat", "laser", "shutter", "stage", "router")
"""Sources off first, then light, then motion; the matrix opens last (after every source is off)."""


class StationError(UserError):
    """An instrument of the station is unreachable, wrong, or cannot fill its role."""


@dataclass
class InstrumentStatus:
    """What connecting one instrument found (used by ``nanocell station check``)."""

    name: str
    driver: str
    resource: str
    roles: list[str]
    identity: str = ""
    ok: bool = False
    problem: str = ""
    instance: Any = field(default=None, repr=False)


def describe_exception(exc: BaseException) -> str:
    """A one-line reason for a connection/identity failure."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    kind = type(exc).__name__
    if "VI_ERROR_TMO" in text or "Timeout" in kind:
        return f"no answer (timeout): {text}"
    if isinstance(exc, ConnectionRefusedError) or "refused" in text.lower():
        return f"connection refused: {text}"
    return f"{kind}: {text}" if text else kind


def connect_instrument(config: StationConfig, name: str) -> InstrumentStatus:
    """Open one instrument and check its identity against the driver; never raises for the instrument."""
    inst = config.instruments[name]
    roles = [role for role, target in config.roles.items() if target == name]
    status = InstrumentStatus(name, inst.driver, inst.resource, roles)
    try:
        info = registry.resolve(inst.driver)
        status.instance = registry.open_driver(inst.driver, inst.resource, name, inst.options)
        status.identity = str(status.instance.id).strip()
    except Exception as exc:  # noqa: BLE001 - any transport/driver failure becomes the reason shown to the user
        # it answered, but its driver refuses it as it is set up (e.g. a 2450 in TSP mode, a ProScan in
        # compatibility mode): not "unreachable"; the driver's message says how to fix it
        refused = isinstance(exc, InstrumentError) and not isinstance(exc, ReplyError) \
            and status.instance is not None
        status.problem = ("not usable as set up: " if refused else "unreachable: ") + describe_exception(exc)
        _close(status.instance)
        status.instance = None
        return status
    if not info.identity_matches(status.identity):
        status.problem = f"wrong instrument: identity {status.identity!r} is not a {info.name}"
        return status
    status.ok = True
    return status


def role_object(config: StationConfig, role: str, instance: Any) -> Any:
    """The object that fills ``role``: the driver itself, or a MatrixRouter around a matrix."""
    if role == "router" and not hasattr(instance, "connect"):
        wirings = {name: frozenset(w.channels) for name, w in config.all_wirings.items()}
        return MatrixRouter(instance, wirings)
    return instance


def role_problem(role: str, obj: Any) -> str | None:
    """Why ``obj`` cannot fill ``role`` (names the missing members), or None."""
    missing = registry.missing_members(obj, ROLES[role])
    if missing:
        return f"{type(obj).__name__} cannot fill role {role!r}: missing {', '.join(missing)}"
    return None


class Station:
    """Connected instruments and the role objects procedures use. Build it with :func:`build_station`."""

    def __init__(self, config: StationConfig, instruments: dict[str, Any], identities: dict[str, str],
                 roles: dict[str, Any], path: Path | None = None) -> None:
        self.config = config
        self.path = path
        self.instruments = instruments
        self.identities = identities
        self._roles = roles
        source = source_of(config)
        self.limits = Limits(config.limits, list(config.wirings), source)
        self.locks: dict[str, threading.RLock] = {name: threading.RLock() for name in instruments}
        """One lock per instrument: an engine lane holds it while it talks to that instrument."""

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def device(self) -> Device | None:
        return self.config.device

    @property
    def clock_speed(self) -> float:
        """Simulated-time speed factor (``simulation.speed``; 1.0 for a real bench)."""
        return self.config.clock_speed

    @property
    def roles(self) -> dict[str, Any]:
        return dict(self._roles)

    def has_role(self, role: str) -> bool:
        return role in self._roles

    def role(self, role: str) -> Any:
        """The object filling ``role`` (see drivers.roles.ROLES); UserError if the station has none."""
        try:
            return self._roles[role]
        except KeyError:
            where = self.path.name if self.path else "the station"
            raise StationError(f"{where}: roles: no instrument fills role {role!r}"
                               f" (configured: {', '.join(self._roles) or 'none'})") from None

    def instrument_of(self, role: str) -> str:
        """Name of the instrument that fills ``role``."""
        return self.config.roles[role]

    def lock_for(self, role: str) -> threading.RLock:
        """The lock of the instrument that fills ``role``."""
        return self.locks[self.config.roles[role]]

    @property
    def router(self) -> MatrixRouter | None:
        return self._roles.get("router")

    def shutdown_all(self) -> None:
        """Every output off, shutter closed, matrix open; tries everything, then reports what failed."""
        failures = []
        done: set[int] = set()
        if self.router is not None:
            done.add(id(getattr(self.router, "matrix", None)))  # the router shuts its matrix down
        ordered = [r for r in SHUTDOWN_ORDER if r in self._roles] + \
            [r for r in self._roles if r not in SHUTDOWN_ORDER]
        targets = [(role, self._roles[role]) for role in ordered]
        targets += [(name, inst) for name, inst in self.instruments.items()]
        for label, obj in targets:
            if id(obj) in done:
                continue
            done.add(id(obj))
            try:
                obj.shutdown()
            except Exception as exc:  # noqa: BLE001 - keep switching the others off, report all of them at the end
                failures.append(f"{label}: {describe_exception(exc)}")
        if failures:
            raise StationError("shutdown incomplete: " + "; ".join(failures))

    def close(self) -> None:
        """Close every connection (no shutdown: call :meth:`shutdown_all` first)."""
        for inst in self.instruments.values():
            _close(inst)

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.shutdown_all()
        finally:
            self.close()

    def snapshot(self) -> dict[str, Any]:
        """What a run stores: the resolved config, each instrument's identity/driver/roles, its present
        settings (read from the instrument by the driver's ``snapshot_settings()``: queries only, nothing is
        switched), and the named wiring the router has closed (None when none matches)."""
        instruments = {}
        for name, inst_cfg in self.config.instruments.items():
            info = registry.resolve(inst_cfg.driver)
            inst = self.instruments.get(name)
            settings: dict[str, Any] = {}
            reader = getattr(inst, "snapshot_settings", None)
            if callable(reader):
                # one instrument that cannot answer must not cost the run the rest of its record
                try:
                    with self.locks.get(name, threading.RLock()):
                        settings = reader()
                except Exception as exc:  # noqa: BLE001 - recorded in the snapshot, where the user will look for it
                    settings = {"error": describe_exception(exc)}
            instruments[name] = {
                "driver": info.name,
                "class": info.target,
                "resource": inst_cfg.resource,
                "identity": self.identities.get(name, ""),
                "roles": [r for r, target in self.config.roles.items() if target == name],
                "settings": settings,
            }
        wiring = None
        if self.router is not None:
            try:
                wiring = self.router.current_wiring
            except Exception as exc:  # noqa: BLE001 - the matrix's own settings entry says what failed
                wiring = f"unknown ({describe_exception(exc)})"
        return {
            "name": self.config.name,
            "file": str(self.path) if self.path else None,
            "wiring": wiring,
            "clock_speed": self.clock_speed,
            "config": self.config.model_dump(mode="json"),
            "instruments": instruments,
        }


def build_station(config: StationConfig | str | Path) -> Station:
    """Connect every instrument, check identities and roles, and return the :class:`Station`.

    Nothing is switched on. If any instrument is unreachable, wrong or cannot fill its role, every
    connection is closed again and a :class:`StationError` names each instrument and the reason.
    """
    path = None
    if not isinstance(config, StationConfig):
        path = Path(config)
        config = load_station(path)
    source = source_of(config)
    if path is None and source is not None:
        path = source.path
    statuses = [connect_instrument(config, name) for name in config.instruments]
    problems = [f"instrument {s.name!r} ({s.driver} at {s.resource}): {s.problem}"
                for s in statuses if not s.ok]
    instances = {s.name: s.instance for s in statuses if s.instance is not None}
    roles: dict[str, Any] = {}
    if not problems:
        for role, inst_name in config.roles.items():
            obj = role_object(config, role, instances[inst_name])
            problem = role_problem(role, obj)
            if problem:
                problems.append(f"role {role!r} -> {inst_name!r}: {problem}")
            roles[role] = obj
    if problems:
        for inst in instances.values():
            _close(inst)
        where = path.name if path else config.name
        raise StationError(f"{where}: station not ready:\n  " + "\n  ".join(problems))
    return Station(config, instances, {s.name: s.identity for s in statuses}, roles, path)


def _close(instrument: Any) -> None:
    adapter = getattr(instrument, "adapter", None)
    if adapter is None:
        return
    try:
        adapter.close()
    except (OSError, DriverError, ValueError, AttributeError, pyvisa.errors.Error):
        pass  # closing a half-open or already closed connection may fail; there is nothing left to release
