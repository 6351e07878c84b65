"""What the planner needs to know of a station file: roles, pads, wirings, limits, device, clock speed.

Read straight from the station YAML (the format fixed in the team conventions) so a protocol can be checked
without touching any instrument; limit messages name the station file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from nanocell_daq.errors import UserError


def _line_of(doc: Any, *keys: str) -> int | None:
    node = doc
    line = None
    for key in keys:
        if not isinstance(node, CommentedMap) or key not in node:
            return line
        try:
            line = node.lc.key(key)[0] + 1
        except (KeyError, AttributeError, TypeError):
            pass
        node = node[key]
    return line


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


@dataclass
class Wiring:
    """A named router wiring: the instrument it connects, its router channels and the chip pads it touches."""

    name: str
    instrument: str
    channels: list[str]
    pads: list[str]


@dataclass
class StationView:
    """Plain, instrument-free view of a station file (units: A, V, mW, um, Ah)."""

    path: str
    config: dict[str, Any]
    roles: dict[str, str]
    pads: dict[str, dict[str, Any]]
    wirings: dict[str, Wiring]
    limits: dict[str, Any]
    device: dict[str, Any]
    speed: float = 1.0
    _doc: Any = field(default=None, repr=False)

    @classmethod
    def from_text(cls, text: str, path: str = "<station>") -> StationView:
        try:
            doc = YAML(typ="rt").load(text)
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            raise UserError(f"{path}{line}: YAML syntax error in station file") from None
        if not isinstance(doc, dict):
            raise UserError(f"{path}: a station file is a YAML mapping")
        view = cls.from_dict(_plain(doc), path)
        view._doc = doc
        return view

    @classmethod
    def from_file(cls, path: str | Path) -> StationView:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{p}: cannot read station file: {exc.strerror or exc}") from None
        return cls.from_text(text, str(p))

    @classmethod
    def from_dict(cls, config: dict[str, Any], path: str = "<station>") -> StationView:
        wirings = {}
        for name, entry in (config.get("wirings") or {}).items():
            w = entry or {}
            wirings[str(name)] = Wiring(
                str(name),
                str(w.get("instrument", "")),
                [str(c) for c in w.get("channels", [])],
                [str(p) for p in w.get("pads", [])],
            )
        sim = config.get("simulation") or {}
        return cls(
            path=path,
            config=config,
            roles=dict(config.get("roles") or {}),
            pads=dict(config.get("pads") or {}),
            wirings=wirings,
            limits=dict(config.get("limits") or {}),
            device=dict(config.get("device") or {}),
            speed=float(sim.get("speed", 1.0) or 1.0),
        )

    def where(self, *keys: str) -> str:
        """``station.yaml line N`` for a limit, for talkative errors."""
        line = _line_of(self._doc, *keys) if self._doc is not None else None
        return f"{self.path} line {line}" if line else self.path

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def instrument_of(self, role: str) -> str | None:
        return self.roles.get(role)

    # --- limits (None when the station sets none) ---
    def cycling_limits(self) -> tuple[float | None, tuple[float, float] | None]:
        c = self.limits.get("cycling") or {}
        window = c.get("voltage_window_V")
        return c.get("max_current_A"), (tuple(window) if window else None)

    def wiring_limits(self, wiring: str) -> dict[str, float]:
        return dict((self.limits.get("wirings") or {}).get(wiring) or {})

    @property
    def max_laser_power_mW(self) -> float | None:
        return self.limits.get("max_laser_power_mW")

    @property
    def stage_travel_um(self) -> dict[str, list[float]]:
        return dict(self.limits.get("stage_travel_um") or {})

    @property
    def nominal_capacity_Ah(self) -> float | None:
        v = self.device.get("nominal_capacity_Ah")
        return float(v) if v is not None else None

    @property
    def wire_position_um(self) -> dict[str, Any] | None:
        return self.device.get("wire_position_um")

    def conductance_wiring(self, pair: str) -> str:
        return f"conductance:{pair}"

    def contact_pairs(self) -> list[str]:
        return [name.split(":", 1)[1] for name in self.wirings if name.startswith("conductance:")]
