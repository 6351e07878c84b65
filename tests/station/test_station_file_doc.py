"""docs/station-file.md cannot drift from the loader: every field it lists exists, every field is listed."""

from __future__ import annotations

import inspect
import re
import types
import typing
from pathlib import Path

import pyvisa.resources
from pydantic import BaseModel

from drivers import registry
from drivers.roles import ROLES
from nanocell_daq.station.config import StationConfig
from nanocell_daq.station.loader import parse_station

DOC = Path(__file__).resolve().parents[2] / "docs" / "station-file.md"


def tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every markdown table: (header cells, body rows of cells)."""
    found: list[tuple[list[str], list[list[str]]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|[-| ]+\|$", lines[i + 1]):
            header = _cells(lines[i])
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            found.append((header, rows))
        else:
            i += 1
    return found


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def _code(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def _normal(path: str) -> str:
    return re.sub(r"<[^>]*>", "<>", path)


def _unwrap(annotation: typing.Any) -> typing.Any:
    """Optional[X], Annotated[X, ...] -> X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0] if len(args) == 1 else annotation
            if len(args) != 1:
                return annotation
        else:
            return annotation


def model_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        paths.add(path)
        annotation = _unwrap(info.annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths |= model_paths(annotation, path + ".")
        elif typing.get_origin(annotation) is dict:
            value = _unwrap(typing.get_args(annotation)[1])
            if isinstance(value, type) and issubclass(value, BaseModel):
                paths |= model_paths(value, path + ".<>.")
    return paths


def documented(header_first: str) -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    return [row for header, rows in tables(text) if header[0] == header_first for row in rows]


def test_every_station_field_is_documented_and_exists():
    listed = {_normal(_code(row[0])[0]) for row in documented("field")}
    fields = model_paths(StationConfig)
    assert listed - fields == set(), "documented but not in the loader's models"
    assert fields - listed == set(), "in the loader's models but not in docs/station-file.md"


def test_documented_driver_options_are_driver_arguments():
    driver_rows = [row for header, rows in tables(DOC.read_text(encoding="utf-8"))
                   if header[:2] == ["option", "driver"] for row in rows]
    assert driver_rows
    for row in driver_rows:
        option, driver = _code(row[0])[0], _code(row[1])[0]
        parameters = inspect.signature(registry.resolve(driver).load().__init__).parameters
        assert option in parameters, f"{driver} has no option {option!r}"


def test_documented_connection_options_reach_the_connection():
    connection_rows = [row for header, rows in tables(DOC.read_text(encoding="utf-8"))
                       if header[:2] == ["option", "type"] for row in rows]
    options = {_code(row[0])[0] for row in connection_rows}
    assert "timeout_ms" in options
    assert registry.connection_kwargs({"timeout_ms": 5}) == {"timeout": 5}
    from pymeasure.adapters import VISAAdapter

    for option in options - {"timeout_ms", "visa_library"}:
        assert hasattr(pyvisa.resources.SerialInstrument, option), option
    assert "visa_library" in inspect.signature(VISAAdapter.__init__).parameters


def test_roles_table_matches_the_registry():
    rows = documented("role")
    assert {_code(row[0])[0] for row in rows} == set(ROLES)
    for row in rows:
        role = _code(row[0])[0]
        listed = set(_code(row[1]))
        fillers = {name for name, info in registry.DRIVERS.items() if role in info.roles}
        assert listed == fillers, role


def test_registered_driver_names_are_all_listed():
    driver_row = next(row for row in documented("field") if _code(row[0])[0] == "instruments.<name>.driver")
    assert set(registry.DRIVERS) <= set(_code(driver_row[3]))


def test_the_example_loads():
    text = DOC.read_text(encoding="utf-8")
    example = re.search(r"## Example\s+```yaml\n(.*?)```", text, re.S)
    assert example is not None
    config = parse_station(example[1], "example.yaml")
    assert config.limits.cycling is not None and "conductance:S-D" in config.wirings
