"""The station as the planner sees it: the station package's validated file and its limits, no instruments.

One source of truth: the file is read and checked by :func:`nanocell_daq.station.load_station` (errors name
file:line: field) and limits are enforced by :class:`nanocell_daq.station.Limits` (messages name the station
file line). This view only adds what steps ask of a station while planning.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers import registry
from drivers.capability import Capability
from nanocell_daq.station import Limits, StationConfig, load_station, parse_station, select_device
from nanocell_daq.station.config import Wiring
from nanocell_daq.station.loader import source_of


@dataclass(frozen=True)
class StationView:
    """A validated station file (units: A, V, mW, um, Ah) and its :class:`Limits`."""

    config: StationConfig
    path: str
    limits: Limits

    @classmethod
    def from_config(cls, config: StationConfig, path: str | None = None) -> StationView:
        source = source_of(config)
        where = path or (str(source.path) if source is not None else config.name)
        return cls(config, where, Limits(config.limits, list(config.wirings), source))

    @classmethod
    def from_file(cls, path: str | Path, device: str | None = None) -> StationView:
        """The station file at ``path``; with ``devices:``, the station of ``device`` (``--device``)."""
        return cls.from_config(select_device(load_station(path), device), str(path))

    @classmethod
    def from_text(cls, text: str, path: str = "station.yaml") -> StationView:
        return cls.from_config(parse_station(text, path), path)

    @property
    def raw(self) -> dict[str, Any]:
        """The file's content as plain data (stored with a run; :meth:`from_text` of its YAML rebuilds it)."""
        return self.config.model_dump(mode="json", exclude_none=True)

    @property
    def roles(self) -> dict[str, str]:
        return dict(self.config.roles)

    @property
    def wirings(self) -> dict[str, Wiring]:
        return self.config.wirings

    @property
    def pads(self) -> dict[str, dict[str, Any]]:
        return {name: pad.model_dump(exclude_none=True) for name, pad in self.config.pads.items()}

    @property
    def device(self) -> dict[str, Any]:
        dev = self.config.device
        return dev.model_dump(mode="json", exclude_none=True) if dev is not None else {}

    @property
    def speed(self) -> float:
        return self.config.clock_speed

    def has_role(self, role: str) -> bool:
        return role in self.config.roles

    def instrument_of(self, role: str) -> str | None:
        return self.config.roles.get(role)

    @property
    def nominal_capacity_Ah(self) -> float | None:
        dev = self.config.device
        return dev.nominal_capacity_Ah if dev is not None else None

    @property
    def wire_position_um(self) -> dict[str, Any] | None:
        dev = self.config.device
        if dev is None or dev.wire_position_um is None:
            return None
        return dev.wire_position_um.model_dump(mode="json")

    @property
    def si_reference_um(self) -> dict[str, float] | None:
        """Stage position {x, y, z} (um) of the Si reference for the Raman axis, if the station has one."""
        dev = self.config.device
        if dev is None or dev.si_reference_um is None:
            return None
        return dev.si_reference_um.model_dump(mode="json")

    def potential_range(self, role: str) -> tuple[float, float, str] | None:
        """(low V, high V, which instrument says so) for the instrument filling ``role``, when its driver
        declares an applied-potential range without connecting (``drivers.registry``); else None."""
        name = self.instrument_of(role)
        inst = self.config.instruments.get(name) if name is not None else None
        if inst is None or registry.is_dotted(inst.driver):
            return None  # a 'package.module:Class' driver is imported only when the station is opened
        declared = registry.declared_potential_range(inst.driver, inst.options)
        if declared is None:
            return None
        source = source_of(self.config)
        line = source.line(("instruments", name)) if source is not None else None
        where = f"{Path(self.path).name} line {line}" if line else self.path
        return declared[0], declared[1], f"instrument {name!r} ({inst.driver}, {where})"

    def cycling_wiring(self, role: str) -> str:
        """The wiring an electrochemical step on ``role`` connects: ``cycling:<instrument>`` when the station
        names one for the instrument filling ``role`` (a station whose SMU cycles and whose potentiostat
        holds has one per instrument), else ``cycling``."""
        inst = self.instrument_of(role)
        named = f"cycling:{inst}"
        return named if inst is not None and named in self.config.wirings else "cycling"

    def capability(self, role: str) -> tuple[Capability | None, str] | None:
        """(capability, who) of the instrument filling ``role``: the model its driver declares from the
        station file's options (``drivers.registry.declared_capability``), None as capability when the
        driver has tables but the options name no model; None when the driver has no tables at all (or is a
        ``package.module:Class`` driver, imported only when the station is opened)."""
        name = self.instrument_of(role)
        inst = self.config.instruments.get(name) if name is not None else None
        if inst is None or registry.is_dotted(inst.driver) or not registry.declares_capability(inst.driver):
            return None
        declared = registry.declared_capability(inst.driver, inst.options)
        source = source_of(self.config)
        line = source.line(("instruments", name)) if source is not None else None
        where = f"{Path(self.path).name} line {line}" if line else self.path
        model = declared.model if declared is not None else f"{inst.driver}, model not declared"
        return declared, f"{name!r} ({model}, {where})"

    def conductance_wiring(self, pair: str) -> str:
        return f"conductance:{pair}"

    def contact_pairs(self) -> list[str]:
        return [name.split(":", 1)[1] for name in self.config.wirings if name.startswith("conductance:")]
