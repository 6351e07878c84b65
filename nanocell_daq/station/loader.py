"""Load a station file: YAML with line numbers (ruamel.yaml), schema and cross-reference checks.

Every problem becomes one line ``file:line: field: what is wrong``; all of them are raised together as a
:class:`StationFileError` (a UserError, shown without a traceback).

A station file is trusted code: a driver written as ``package.module:Class`` is imported when the station is
opened (``nanocell run``, ``nanocell station check``). Validating the file (``nanocell check``) only checks
that such a name is well formed; it imports nothing.

Wirings: channel *i* of a wiring connects the wiring's instrument to pad *i* (``channels`` and ``pads`` are
parallel lists). A matrix row is one instrument's terminal and a column is one pad, so every wiring must agree
with the others on both; a wiring that would put the SMU on a row or pad another wiring gives to the
potentiostat is refused.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from drivers import registry
from drivers.keithley707b import CHANNEL
from drivers.roles import ROLES
from nanocell_daq import yaml_input
from nanocell_daq.errors import UserError
from nanocell_daq.station.config import StationConfig
from nanocell_daq.station.template import placeholder_problems
from nanocell_daq.suggest import unknown_field

Loc = tuple[str | int, ...]


class StationFileError(UserError):
    """The station file is not valid; the message lists each problem on its own line."""


class SourceMap:
    """Line numbers (1-based) of the keys in a loaded YAML document."""

    def __init__(self, path: Path, root: Any) -> None:
        self.path = path
        self.root = root

    def line(self, loc: Sequence[str | int]) -> int | None:
        """Line of the deepest key of ``loc`` that exists in the document."""
        node = self.root
        line = None
        for key in loc:
            lc = getattr(node, "lc", None)
            if lc is None:
                break
            try:
                if isinstance(node, dict) and key in node:
                    line = lc.key(key)[0] + 1
                    node = node[key]
                elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
                    line = lc.item(key)[0] + 1
                    node = node[key]
                else:
                    break
            except (KeyError, TypeError, AttributeError):
                break
        if line is None and hasattr(self.root, "lc"):
            return 1
        return line

    def where(self, loc: Sequence[str | int]) -> str:
        """``file:line`` for ``loc``."""
        line = self.line(loc)
        return f"{self.path.name}:{line}" if line else self.path.name


def field_name(loc: Sequence[str | int]) -> str:
    return ".".join(str(part) for part in loc)


def load_station(path: str | Path) -> StationConfig:
    """Parse and validate a station file; raises :class:`StationFileError` listing every problem."""
    path = Path(path)
    try:
        text = yaml_input.read_text(path, "station")
    except UserError as exc:
        raise StationFileError(str(exc)) from None
    return parse_station(text, path)


def parse_station(text: str, path: str | Path = "station.yaml") -> StationConfig:
    """Validate station YAML ``text``; ``path`` names it in messages."""
    path = Path(path)
    try:
        data = yaml_input.load(text, path.name)
    except UserError as exc:
        raise StationFileError(str(exc)) from None
    if not isinstance(data, dict):
        raise StationFileError(f"{path.name}:1: the station file must be a mapping (name:, instruments:...)")
    source = SourceMap(path, data)
    nan = [(loc, f"must be a finite number, got {yaml_input.yaml_float(value)}")
           for loc, _, value in yaml_input.non_finite(data)]
    if nan:
        raise StationFileError(_format(source, sorted(nan, key=lambda p: source.line(p[0]) or 0)))
    unfilled = placeholder_problems(data)  # a `nanocell station new` template not filled in yet
    if unfilled:
        raise StationFileError(_format(source, unfilled))
    try:
        config = StationConfig.model_validate(_plain(data))
    except ValidationError as exc:
        problems = [(tuple(err["loc"]), _message(err, StationConfig)) for err in exc.errors()]
        raise StationFileError(_format(source, problems)) from None
    problems = cross_reference_problems(config)
    if problems:
        raise StationFileError(_format(source, problems))
    config._source = source  # type: ignore[attr-defined]
    return config


def source_of(config: StationConfig) -> SourceMap | None:
    """The line map a config was loaded with (None if it was built in code)."""
    return getattr(config, "_source", None)


class DeviceSourceMap(SourceMap):
    """Line numbers of one device's station (:meth:`StationConfig.for_device`) in the whole file."""

    def __init__(self, source: SourceMap, config: StationConfig, device: str) -> None:
        super().__init__(source.path, source.root)
        self._config = config
        self._device = device

    def line(self, loc: Sequence[str | int]) -> int | None:
        return super().line(device_loc(self._config, self._device, loc))


def device_loc(config: StationConfig, device: str, loc: Sequence[str | int]) -> Loc:
    """Where a field of device ``device``'s station is written in the whole file."""
    loc = tuple(loc)
    entry = config.devices[device]
    head = loc[0] if loc else None
    if head == "wirings" or (head == "pads" and len(loc) > 1 and loc[1] in entry.pads):
        return ("devices", device, *loc)
    if head == "limits" and entry.limits is not None:
        return ("devices", device, *loc)
    if head == "device" and len(loc) > 1 and loc[1] in type(entry).model_fields:
        return ("devices", device, *loc[1:])
    return loc


def select_device(config: StationConfig, device: str | None) -> StationConfig:
    """The station a run on ``device`` sees (``--device``): the file itself when it has no ``devices:``
    and none is named; StationFileError (file:line) when the choice does not fit the file."""
    source = source_of(config)
    where = source.where(("devices",)) if source is not None else config.name
    if not config.devices:
        if device is None:
            return config
        raise StationFileError(f"{where}: --device {device}: the station file has no devices: section "
                               f"(it describes one device; leave out --device)")
    names = ", ".join(config.devices)
    if device is None:
        raise StationFileError(f"{where}: devices: the chip has several devices ({names}); "
                               f"choose one with --device NAME")
    if device not in config.devices:
        raise StationFileError(f"{where}: --device {device}: no such device under devices: ({names})")
    chosen = config.for_device(device)
    if source is not None:
        chosen._source = DeviceSourceMap(source, config, device)  # type: ignore[attr-defined]
    return chosen


def cross_reference_problems(config: StationConfig) -> list[tuple[Loc, str]]:
    """Problems that need more than one section: roles, wirings, pads, limits (per device)."""
    problems = _instrument_problems(config)
    if not config.devices:
        return problems + _wiring_problems(config) + wiring_problems(config)
    if config.wirings:
        problems.append((("wirings",), "with devices:, each device lists its wirings "
                                      "(devices.<name>.wirings); move these there"))
    for name, entry in config.devices.items():
        shadowed = [p for p in entry.pads if p in config.pads]
        for pad in shadowed:
            problems.append((("devices", name, "pads", pad),
                             f"pad {pad!r} is already a shared pad (top-level pads:); give it another name"))
        if shadowed:
            continue
        own = config.for_device(name)
        problems += [(device_loc(config, name, loc), message) for loc, message in _wiring_problems(own)]
    problems += _chip_wiring_problems(config)
    return problems


def _chip_wiring_problems(config: StationConfig) -> list[tuple[Loc, str]]:
    """Rows and columns across every device's wirings: a matrix column is one pad of one device (or a
    shared pad) on the whole chip, a row one instrument's terminal."""
    merged: dict[str, Any] = {}
    origin: dict[str, tuple[str, str]] = {}
    for name, entry in config.devices.items():
        for wname, wiring in entry.wirings.items():
            key = f"{name}/{wname}"
            pads = [p if p in config.pads else f"{name}.{p}" for p in wiring.pads]
            merged[key] = wiring.model_copy(update={"pads": pads})
            origin[key] = (name, wname)
    chip = config.model_copy(update={"wirings": merged, "devices": {}})
    problems = []
    for loc, message in wiring_problems(chip):
        mapped = loc
        if len(loc) > 1 and loc[0] == "wirings" and loc[1] in origin:
            device, wname = origin[str(loc[1])]
            mapped = ("devices", device, "wirings", wname, *loc[2:])
        problems.append((mapped, message))
    return problems


def _instrument_problems(config: StationConfig) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    instruments = config.instruments
    for name, inst in instruments.items():
        if registry.is_dotted(inst.driver):
            continue  # trusted code, imported when the station is opened, never while a file is checked
        try:
            registry.resolve(inst.driver)
        except KeyError:
            known = ", ".join(sorted(registry.DRIVERS))
            problems.append((("instruments", name, "driver"),
                             f"unknown driver {inst.driver!r} (known: {known}; or 'package.module:Class')"))
        except (ImportError, AttributeError, TypeError) as exc:
            problems.append((("instruments", name, "driver"), f"cannot load {inst.driver!r}: {exc}"))
        else:
            try:
                registry.declared_potential_range(inst.driver, inst.options)
                registry.declared_capability(inst.driver, inst.options)
            except ValueError as exc:
                problems.append((("instruments", name, "options"), str(exc)))
    for role, inst_name in config.roles.items():
        loc: Loc = ("roles", role)
        if role not in ROLES:
            problems.append((loc, f"unknown role {role!r} (known: {', '.join(ROLES)})"))
            continue
        if inst_name not in instruments:
            problems.append((loc, f"names instrument {inst_name!r}, which is not under instruments:"
                                  f" ({', '.join(instruments)})"))
            continue
        if registry.is_dotted(instruments[inst_name].driver):
            continue  # its roles are known once it is imported (when the station is opened)
        try:
            info = registry.resolve(instruments[inst_name].driver)
        except (KeyError, ImportError, AttributeError, TypeError):
            continue  # already reported on the instrument
        if role not in info.roles:
            problems.append((loc, f"instrument {inst_name!r} ({info.name}) cannot fill role {role!r}"
                                  f" (it fills: {', '.join(info.roles) or 'nothing'})"))
    return problems


def _wiring_problems(config: StationConfig) -> list[tuple[Loc, str]]:
    """One device's wirings, pads and limits against the instruments and roles (not the matrix rows and
    columns: :func:`wiring_problems`)."""
    problems: list[tuple[Loc, str]] = []
    instruments = config.instruments
    for name, wiring in config.wirings.items():
        if wiring.instrument not in instruments:
            problems.append((("wirings", name, "instrument"),
                             f"names instrument {wiring.instrument!r}, which is not under instruments:"))
        for i, channel in enumerate(wiring.channels):
            if not CHANNEL.match(channel):
                problems.append((("wirings", name, "channels", i),
                                 f"{channel!r} is not a matrix channel (slot, row A-H, column 01-12: 1A01)"))
        if len(set(wiring.channels)) != len(wiring.channels):
            problems.append((("wirings", name, "channels"), "a channel is listed twice"))
        for i, pad in enumerate(wiring.pads):
            if pad not in config.pads:
                problems.append((("wirings", name, "pads", i),
                                 f"pad {pad!r} is not under pads: ({', '.join(config.pads) or 'none'})"))
    if config.wirings and "router" not in config.roles:
        problems.append((("roles",), "wirings are defined but no instrument fills the 'router' role"))
    for name in config.limits.wirings:
        if name not in config.wirings:
            problems.append((("limits", "wirings", name),
                             f"limit for wiring {name!r}, which is not under wirings:"
                             f" ({', '.join(config.wirings) or 'none'})"))
    for name, pad in config.pads.items():
        if pad.kind == "contact" and pad.along_wire_um is not None and pad.along_wire_um < 0:
            problems.append((("pads", name, "along_wire_um"), f"must be >= 0 (got {pad.along_wire_um:g})"))
    return problems


def wiring_problems(config: StationConfig) -> list[tuple[Loc, str]]:
    """Channels against pads: channel *i* of a wiring puts its instrument on pad *i*; every matrix row is
    one instrument's terminal and every column one pad, as the wirings listed first declare them."""
    problems: list[tuple[Loc, str]] = []
    row_owner: dict[str, tuple[str, str]] = {}  # "1A" -> (instrument, wiring)
    column_pad: dict[str, tuple[str, str]] = {}  # "1:04" -> (pad, wiring)
    pad_column: dict[str, tuple[str, str]] = {}  # pad -> ("1:04", wiring)
    for name, wiring in config.wirings.items():
        paired = len(wiring.pads) == len(wiring.channels)
        if wiring.pads and not paired:
            problems.append((("wirings", name, "pads"),
                             f"{len(wiring.pads)} pad(s) for {len(wiring.channels)} channel(s): list one pad "
                             f"per channel, in the same order (channel i connects "
                             f"{wiring.instrument!r} to pad i)"))
        for i, channel in enumerate(wiring.channels):
            if not CHANNEL.match(channel):
                continue  # reported above
            row, column = channel[:2], f"{channel[0]}:{channel[2:]}"
            pad = wiring.pads[i] if paired else None
            loc: Loc = ("wirings", name, "channels", i)
            owner, first = row_owner.setdefault(row, (wiring.instrument, name))
            if owner != wiring.instrument:
                onto = f"pad {pad!r}" if pad else "a pad"
                problems.append((loc, f"channel {channel} is on matrix row {row[1]} (slot {row[0]}), "
                                      f"which wiring {first!r} gives to {owner!r}: wiring {name!r} would "
                                      f"put {onto} on {owner!r}, not on {wiring.instrument!r}"))
            if pad is None:
                continue
            known, first = column_pad.setdefault(column, (pad, name))
            if known != pad:
                problems.append((loc, f"channel {channel} reaches pad {known!r} (column {channel[2:]}, as "
                                      f"wiring {first!r} connects it), not {pad!r}: wiring {name!r} would "
                                      f"put {wiring.instrument!r} on pad {known!r}"))
                continue
            placed, first = pad_column.setdefault(pad, (column, name))
            if placed != column:
                problems.append((loc, f"channel {channel} puts pad {pad!r} on column {channel[2:]}, but "
                                      f"wiring {first!r} has pad {pad!r} on column {placed.split(':')[1]} "
                                      f"(slot {placed.split(':')[0]})"))
    return problems


def fields_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The field names a mapping at ``loc`` of ``model`` may have (none if it is not a model there)."""
    tp: Any = model
    for part in loc:
        tp = _model_or_container(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return []
            tp = field.annotation
        elif typing.get_origin(tp) in (dict, list, tuple) and typing.get_args(tp):
            tp = typing.get_args(tp)[-1 if typing.get_origin(tp) is dict else 0]
        else:
            return []
    tp = _model_or_container(tp)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _model_or_container(tp: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` -> X (the model or container arm of a union)."""
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        arms = [a for a in typing.get_args(tp) if a is not type(None)]
        return next((_model_or_container(a) for a in arms
                     if (isinstance(a, type) and issubclass(a, BaseModel)) or typing.get_origin(a)), arms[0])
    return tp


def _message(err: dict[str, Any], model: type[BaseModel] | None = None) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    got = err.get("input")
    got_shown = yaml_input.one_line(repr(got), 60)
    if kind == "greater_than":
        return f"must be > {_num(ctx.get('gt'))} (got {got_shown})"
    if kind == "less_than_equal":
        return f"must be <= {_num(ctx.get('le'))} (got {got_shown}; check the unit in the field name)"
    if kind == "finite_number":
        return f"must be a finite number (got {got_shown})"
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        loc = tuple(err.get("loc") or ())
        fields = fields_at(model, loc[:-1]) if model is not None and loc else []
        return unknown_field(loc[-1] if loc else "?", fields)
    if kind == "value_error":
        return re.sub(r"^Value error, ", "", err.get("msg", ""))
    if kind.startswith("too_short") and isinstance(got, dict | list) and not got:
        return "must not be empty"
    shown = "" if isinstance(got, dict | list) else f" (got {got_shown})"
    return f"{err.get('msg', 'invalid')}{shown}"


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _format(source: SourceMap, problems: list[tuple[Loc, str]]) -> str:
    lines = []
    for loc, message in problems:
        where = source.where(loc)
        name = yaml_input.one_line(field_name(loc), 120)
        line = f"{where}: {name}: {message}" if name else f"{where}: {message}"
        lines.append(yaml_input.one_line(line, 400))
    return "\n".join(lines)


def _plain(node: Any) -> Any:
    """ruamel's round-trip containers -> plain dicts/lists (pydantic wants plain types)."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node
