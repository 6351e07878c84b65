"""Driver registry: station-file driver name -> driver class and the roles it fills.

Roles are Protocols, not base classes: any class with the right methods fills a role, so a driver
that wraps a vendor DLL can be named in a station file as ``"package.module:Class"``.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass
from typing import Any

from drivers.capability import FALLBACK_DECLARATIONS, Capability
from drivers.roles import ROLES, potential_range


@dataclass(frozen=True)
class DriverInfo:
    """A driver as the station sees it: name, ``module:Class``, roles it fills, identity pattern."""

    name: str
    target: str
    roles: tuple[str, ...]
    description: str = ""

    def load(self) -> type:
        """Import and return the driver class (ImportError/AttributeError name the target)."""
        return load_class(self.target)

    def identity_matches(self, identity: str) -> bool:
        """True if ``identity`` looks like this driver's instrument (class ``IDENTITY`` regex, if any)."""
        pattern = getattr(self.load(), "IDENTITY", None)
        if pattern is None:
            return True
        if isinstance(pattern, str):
            pattern = re.compile(pattern)
        return bool(pattern.search(identity))


DRIVERS: dict[str, DriverInfo] = {
    info.name: info
    for info in (
        DriverInfo("keithley2450", "drivers.keithley2450:Keithley2450", ("source_meter", "galvanostat"),
                   "Keithley 2450 SourceMeter (native SCPI)"),
        DriverInfo("keithley2600", "drivers.keithley2600:Keithley2600", ("source_meter", "galvanostat"),
                   "Keithley 2600B SourceMeter (TSP)"),
        DriverInfo("emstat4", "drivers.emstat:EmStat4", ("potentiostat", "galvanostat"),
                   "PalmSens EmStat4 (MethodSCRIPT)"),
        DriverInfo("proscan3", "drivers.proscan:ProScan3", ("stage",), "Prior ProScan III stage"),
        DriverInfo("nanocell_spectrometer", "drivers.spectrometer:NanocellSpectrometer",
                   ("spectrometer", "laser"), "Raman spectrometer/CCD/laser controller"),
        DriverInfo("andor_shamrock", "drivers.andor_shamrock:AndorShamrock", ("spectrometer",),
                   "Andor CCD on a Shamrock/Kymera spectrograph (pylablib; extra [andor])"),
        DriverInfo("seabreeze", "drivers.seabreeze_spectrometer:SeabreezeSpectrometer", ("spectrometer",),
                   "Ocean Insight spectrometer (python-seabreeze; extra [seabreeze])"),
        DriverInfo("sc10", "drivers.sc10:SC10", ("shutter",), "Thorlabs SC10 shutter controller"),
        DriverInfo("keithley707b", "drivers.keithley707b:Keithley707B", ("router",),
                   "Keithley 707B switch matrix (the station wraps it in a MatrixRouter)"),
        DriverInfo("spectrapro", "drivers.spectrapro:SpectraPro", (),
                   "Acton SpectraPro monochromator (serial ASCII; a spectrograph controller, no role)"),
    )
}

ROUTER_DRIVERS = frozenset({"keithley707b"})
"""Drivers that are switch matrices: the station gives the ``router`` role to a MatrixRouter around them."""

_DOTTED = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def is_dotted(name: str) -> bool:
    """True for a ``package.module:Class`` driver reference."""
    return bool(_DOTTED.match(name))


def resolve(name: str) -> DriverInfo:
    """The :class:`DriverInfo` for a registered name or a ``package.module:Class`` reference.

    A dotted driver declares its roles in a class attribute ``ROLES`` (names from ``drivers.roles.ROLES``);
    without it, every role it structurally fills is assumed. KeyError for an unknown name.
    """
    if name in DRIVERS:
        return DRIVERS[name]
    if is_dotted(name):
        cls = load_class(name)
        declared = getattr(cls, "ROLES", None)
        roles = tuple(declared) if declared is not None else tuple(
            role for role, proto in ROLES.items() if _has_members(cls, proto))
        summary = (cls.__doc__ or "").strip().splitlines()
        return DriverInfo(name, name, roles, summary[0] if summary else "")
    raise KeyError(name)


def load_class(target: str) -> type:
    """Import ``package.module:Class``."""
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    cls = getattr(module, attr)
    if not isinstance(cls, type):
        raise TypeError(f"{target} is not a class")
    return cls


def connection_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    """Station-file ``options`` -> driver keyword arguments (``timeout_ms`` becomes VISA ``timeout``)."""
    kwargs = dict(options)
    if "timeout_ms" in kwargs:
        kwargs["timeout"] = kwargs.pop("timeout_ms")
    return kwargs


def open_driver(name: str, resource: str, instrument_name: str, options: dict[str, Any] | None = None) -> Any:
    """Construct the driver for ``name`` on ``resource`` (opens the connection)."""
    cls = resolve(name).load()
    return cls(resource, name=instrument_name, **connection_kwargs(options or {}))


def declared_potential_range(name: str, options: dict[str, Any] | None = None) -> tuple[float, float] | None:
    """The applied-potential range (V) a driver declares without connecting, for planning: the class's
    ``declared_potential_range(options)`` if it has one (the range depends on a model option), else its
    ``potential_range_V`` class attribute, else None (unknown). ValueError for bad options."""
    cls = resolve(name).load()
    declare = getattr(cls, "declared_potential_range", None)
    if declare is not None:
        return declare(dict(options or {}))
    return potential_range(cls)


def declared_capability(name: str, options: dict[str, Any] | None = None) -> Capability | None:
    """The :class:`drivers.capability.Capability` a driver declares without connecting, for planning: the
    class's ``declared_capability(options)`` (or, for a driver class without one, the function in
    ``drivers.capability.FALLBACK_DECLARATIONS``); None when the options name no model or the driver has
    no table. ValueError for bad options."""
    cls = resolve(name).load()
    declare = getattr(cls, "declared_capability", None) or FALLBACK_DECLARATIONS.get(name)
    return declare(dict(options or {})) if declare is not None else None


def declares_capability(name: str) -> bool:
    """True when the driver can declare a capability (it has a table for some model)."""
    has_method = getattr(resolve(name).load(), "declared_capability", None) is not None
    return has_method or name in FALLBACK_DECLARATIONS


def role_members(role: type) -> list[str]:
    """Public names a role Protocol requires (methods, properties and annotated attributes)."""
    names: list[str] = []
    for klass in reversed(role.__mro__):
        if klass.__module__ != role.__module__ or klass is object:
            continue
        for name in [*vars(klass), *getattr(klass, "__annotations__", {})]:
            if not name.startswith("_") and name not in names:
                names.append(name)
    return names


def missing_members(obj: object, role: type) -> list[str]:
    """Names of ``role`` that ``obj`` (an instance or a class) lacks, found without calling anything.

    ``isinstance`` on a runtime Protocol calls every property on Python 3.11 (instrument I/O); this looks
    the names up statically, as Python 3.12's ``isinstance`` does.
    """
    missing = []
    for name in role_members(role):
        try:
            inspect.getattr_static(obj, name)
        except AttributeError:
            annotations = {}
            for klass in (obj if isinstance(obj, type) else type(obj)).__mro__:
                annotations.update(getattr(klass, "__annotations__", {}))
            if name not in annotations:
                missing.append(name)
    return missing


def _has_members(cls: type, proto: type) -> bool:
    return not missing_members(cls, proto)
