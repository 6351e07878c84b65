"""``nanocell station check``: connect, identify, check roles and wirings, switch nothing on."""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers import registry
from drivers.capability import model_in_identity
from drivers.errors import DriverError
from drivers.routing import MatrixRouter
from nanocell_daq.station.config import StationConfig
from nanocell_daq.station.station import (
    InstrumentStatus,
    _close,
    connect_instrument,
    describe_exception,
    role_object,
    role_problem,
)


@dataclass
class RoleStatus:
    role: str
    instrument: str
    ok: bool
    detail: str = ""


@dataclass
class WiringStatus:
    wiring: str
    instrument: str
    channels: list[str]
    pads: list[str]
    ok: bool
    detail: str = ""


@dataclass
class CheckReport:
    """Everything ``station check`` found; ``ok`` only when every line is fine."""

    instruments: list[InstrumentStatus] = field(default_factory=list)
    roles: list[RoleStatus] = field(default_factory=list)
    wirings: list[WiringStatus] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (all(s.ok for s in self.instruments) and all(r.ok for r in self.roles)
                and all(w.ok for w in self.wirings))


def check_station(config: StationConfig) -> CheckReport:
    """Connect every instrument, check identities, roles and wirings; close the connections again.

    Nothing is switched on: the only action is closing each wiring's relays (and opening them again),
    and only while no source reports its output on.
    """
    report = CheckReport()
    report.instruments = [connect_instrument(config, name) for name in config.instruments]
    for status in report.instruments:
        _check_model(config, status)
    by_name = {s.name: s for s in report.instruments}
    try:
        for role, inst_name in config.roles.items():
            status = by_name[inst_name]
            if not status.ok:
                report.roles.append(RoleStatus(role, inst_name, False, "instrument not ready"))
                continue
            problem = role_problem(role, role_object(config, role, status.instance))
            report.roles.append(RoleStatus(role, inst_name, problem is None, problem or "ok"))
        report.wirings = _check_wirings(config, by_name)
    finally:
        for status in report.instruments:
            _close(status.instance)
    return report


def _check_model(config: StationConfig, status: InstrumentStatus) -> None:
    """A connected instrument whose identity does not name the model its options declare is not ok: the
    capability check planned with the declared model's ranges."""
    inst = config.instruments[status.name]
    if not status.ok or registry.is_dotted(inst.driver):
        return
    try:
        declared = registry.declared_capability(inst.driver, inst.options)
    except ValueError:
        return  # the station file's own validation reports it
    if declared is not None and status.identity and not model_in_identity(declared, status.identity):
        status.ok = False
        status.problem = (f"the station declares model {declared.model} (options: model), but the "
                          f"instrument identifies as {status.identity!r}; the capability check used the "
                          f"declared model's ranges")


def _check_wirings(config: StationConfig, by_name: dict[str, InstrumentStatus]) -> list[WiringStatus]:
    rows = [WiringStatus(name, w.instrument, list(w.channels), list(w.pads), False) for name, w in
            config.all_wirings.items()]
    if not rows:
        return rows
    router_inst = config.roles.get("router")
    if router_inst is None or not by_name[router_inst].ok:
        for row in rows:
            row.detail = "not checked: the router is not ready"
        return rows
    live = _sources_on(config, by_name)
    if live:
        for row in rows:
            row.detail = f"not checked: {', '.join(live)} output is on (check switches nothing)"
        return rows
    router = role_object(config, "router", by_name[router_inst].instance)
    if not isinstance(router, MatrixRouter):
        router = MatrixRouter(router, {n: frozenset(w.channels) for n, w in config.all_wirings.items()})
    try:
        for row in rows:
            try:
                router.connect(row.wiring)
                router.open_all()
            except (DriverError, OSError) as exc:
                row.detail = str(exc)
                continue
            except Exception as exc:  # noqa: BLE001 - transport errors (pyvisa) are reported per wiring, not raised
                row.detail = describe_exception(exc)
                continue
            row.ok = True
            row.detail = "closed, read back, opened"
    finally:
        try:
            router.open_all()
        except Exception as exc:  # noqa: BLE001 - the per-wiring rows already say what failed; add the final state
            rows[-1].detail += f"; final open failed: {describe_exception(exc)}"
            rows[-1].ok = False
    return rows


def _sources_on(config: StationConfig, by_name: dict[str, InstrumentStatus]) -> list[str]:
    """Instruments that report a source output on or a technique running."""
    live = []
    for role in ("source_meter", "galvanostat", "potentiostat"):
        name = config.roles.get(role)
        if name is None or not by_name[name].ok or name in live:
            continue
        inst = by_name[name].instance
        try:
            on = bool(getattr(inst, "output_enabled", False)) or bool(getattr(inst, "running", False))
        except Exception as exc:  # noqa: BLE001 - cannot tell: assume on, and say why
            live.append(f"{name} (state unknown: {describe_exception(exc)})")
            continue
        if on:
            live.append(name)
    return live
