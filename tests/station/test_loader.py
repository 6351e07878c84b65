"""Station file validation: every error names file, line and field; YAML syntax errors name their line."""

from __future__ import annotations

import pytest

from nanocell_daq.errors import UserError
from nanocell_daq.station import StationFileError, load_station, parse_station


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_example_loads(example_file):
    config = load_station(example_file)
    assert config.clock_speed == 1000.0
    assert config.roles["router"] == "matrix"
    assert config.wirings["conductance:S-D"].channels == ["1C01", "1D02"]
    assert config.instruments["smu"].options["timeout_ms"] == 5000


def test_negative_limit_names_file_line_and_field(example_text):
    bad = example_text.replace("{max_current_A: 1.0e-6, max_voltage_V: 1.0}", "{max_current_A: -1.0e-6}")
    with pytest.raises(StationFileError) as info:
        parse_station(bad, "station.yaml")
    line = line_of(bad, "max_current_A: -1.0e-6")
    assert str(info.value) == (f"station.yaml:{line}: limits.wirings.conductance:S-D.max_current_A: "
                               "must be > 0 (got -1e-06)")
    assert isinstance(info.value, UserError)


@pytest.mark.parametrize(("old", "new", "bad_line"), [
    ("  source_meter: smu", "\tsource_meter: smu", "\tsource_meter: smu"),  # a TAB indents
    ("  galvanostat: pstat", "    galvanostat: pstat", "    galvanostat: pstat"),  # wrong indentation
    ("  galvanostat: pstat", "  galvanostat: pstat\n  galvanostat: smu", "  galvanostat: smu"),  # twice
    ("  stage: stage\n", "  stage: stage: x\n", "  stage: stage: x"),
])
def test_yaml_syntax_error_names_its_line(example_text, old, new, bad_line):
    bad = example_text.replace(old, new, 1)
    with pytest.raises(StationFileError) as info:
        parse_station(bad, "station.yaml")
    message = str(info.value)
    assert message.startswith(f"station.yaml:{line_of(bad, bad_line)}: YAML syntax error: ")
    assert "\n" not in message


def test_unclosed_bracket_names_where_it_was_found_and_where_it_opened(example_text):
    bad = example_text.replace("roles:\n", "roles: [\n", 1)
    with pytest.raises(StationFileError) as info:
        parse_station(bad, "station.yaml")
    message = str(info.value)
    assert message.startswith(f"station.yaml:{line_of(bad, 'galvanostat: pstat')}: YAML syntax error: ")
    assert f"starts on line {line_of(bad, 'roles: [')}" in message


def test_wrong_types_name_file_line_and_field(example_text):
    bad = (example_text.replace("speed: 1000.0", "speed: fast")
           .replace('channels: ["1A01", "1B04"]', 'channels: "1A01"')
           .replace("voltage_window_V: [2.4, 4.05]", "voltage_window_V: [2.4]"))
    with pytest.raises(StationFileError) as info:
        parse_station(bad, "station.yaml")
    lines = str(info.value).splitlines()
    expected = {"simulation.speed": "speed: fast", "wirings.cycling.channels": 'channels: "1A01"',
                "limits.cycling.voltage_window_V": "voltage_window_V: [2.4]"}
    for field, text in expected.items():
        assert any(m.startswith(f"station.yaml:{line_of(bad, text)}: {field}") for m in lines), (field, lines)


def test_unordered_window_and_travel(example_text):
    bad = example_text.replace("[2.4, 4.05]", "[4.05, 2.4]").replace("x: [0, 1000]", "x: [1000, 0]")
    with pytest.raises(StationFileError) as info:
        parse_station(bad)
    lines = str(info.value).splitlines()
    assert any(f":{line_of(bad, '[4.05, 2.4]')}: limits.cycling.voltage_window_V: window must be" in m
               for m in lines)
    assert any("limits.stage_travel_um.x: range must be" in m for m in lines)


@pytest.mark.parametrize(("old", "new", "field", "words"), [
    ("router: matrix", "router: nomatrix", "roles.router", "not under instruments"),
    ("laser: spectrometer", "laser: shutter", "roles.laser", "cannot fill role 'laser'"),
    ("  stage: stage\n", "  stage: stage\n  flux_capacitor: stage\n", "roles.flux_capacitor", "unknown role"),
    ('channels: ["1C01", "1D02"]', 'channels: ["1C01", "D2"]', "wirings.conductance:S-D.channels.1",
     "not a matrix channel"),
    ("pads: [S, D]", "pads: [S, X]", "wirings.conductance:S-D.pads.1", "pad 'X'"),
    ("instrument: pstat,", "instrument: potentiostat,", "wirings.cycling.instrument",
     "not under instruments"),
    ('    "conductance:S-D": {max', '    "conductance:S-X": {max', "limits.wirings.conductance:S-X",
     "not under wirings"),
    ("driver: sc10", "driver: sc11", "instruments.shutter.driver", "unknown driver 'sc11'"),
    ("max_laser_power_mW: 0.5", "max_laser_power_mW: 500000", "limits.max_laser_power_mW", "must be <="),
    ("max_laser_power_mW: 0.5", "max_laser_power_mw: 0.5", "limits.max_laser_power_mw", "unknown field"),
    ("timeout_ms: 5000", "timeout_ms: -5", "instruments.smu.options", "timeout_ms must be a positive"),
    ("  nominal_capacity_Ah: 3.0e-16\n",
     "  nominal_capacity_Ah: 3.0e-16\n  si_reference_um: {x: left, y: 1}\n", "device.si_reference_um.x",
     "number"),
    ("  nominal_capacity_Ah: 3.0e-16\n", "  nominal_capacity_Ah: 3.0e-16\n  si_reference_um: {x: 1}\n",
     "device.si_reference_um.y", "required"),
])
def test_field_errors(example_text, old, new, field, words):
    assert old in example_text
    bad = example_text.replace(old, new, 1)
    with pytest.raises(StationFileError) as info:
        parse_station(bad, "station.yaml")
    message = str(info.value)
    assert f": {field}: " in message
    assert words in message
    assert message.startswith("station.yaml:")
    number = int(message.split(":")[1])
    assert number == line_of(bad, new.strip().split("\n")[-1].strip())


def test_missing_file_and_not_a_mapping(tmp_path):
    with pytest.raises(StationFileError, match="no such station file"):
        load_station(tmp_path / "nope.yaml")
    with pytest.raises(StationFileError, match=":1: the station file must be a mapping"):
        parse_station("- a\n- b\n")


def test_missing_required_section():
    with pytest.raises(StationFileError, match="instruments: required field is missing"):
        parse_station("name: x\n")


def test_dotted_driver_is_accepted(example_text):
    text = example_text.replace("driver: sc10", "driver: drivers.sc10:SC10")
    assert parse_station(text).instruments["shutter"].driver == "drivers.sc10:SC10"


# ----------------------------------------------------------------------------------- input hardening
@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("max_current_A: 1.0e-9", "max_current_A: .nan", "limits.cycling.max_current_A"),
        ("voltage_window_V: [2.4, 4.05]", "voltage_window_V: [2.4, .inf]",
         "limits.cycling.voltage_window_V.1"),
        ("max_laser_power_mW: 0.5", "max_laser_power_mW: .NaN", "limits.max_laser_power_mW"),
        ("speed: 1000.0", "speed: .inf", "simulation.speed"),
        ("timeout_ms: 5000", "timeout_ms: .nan", "instruments.smu.options.timeout_ms"),
        ("nominal_capacity_Ah: 3.0e-16", "nominal_capacity_Ah: -.inf", "device.nominal_capacity_Ah"),
        ("along_wire_um: 10.0", "along_wire_um: .nan", "pads.D.along_wire_um"),
    ],
)
def test_nan_and_inf_are_refused_everywhere(example_text, old, new, field):
    assert old in example_text
    text = example_text.replace(old, new)
    with pytest.raises(StationFileError) as info:
        parse_station(text)
    line = line_of(text, new)
    assert str(info.value).startswith(f"station.yaml:{line}: {field}: must be a finite number, got ")


def test_nan_as_text_is_refused_by_the_schema(example_text):
    text = example_text.replace("max_current_A: 1.0e-9", 'max_current_A: "nan"')
    with pytest.raises(StationFileError, match=r"limits\.cycling\.max_current_A: must be a finite number"):
        parse_station(text)


def test_nul_byte_at_the_start_is_one_line_naming_the_file(example_text, tmp_path):
    path = tmp_path / "bench.yaml"
    path.write_bytes(b"\0" + example_text.encode())
    with pytest.raises(StationFileError) as info:
        load_station(path)
    assert str(info.value) == "bench.yaml:1: NUL U+0000 at column 1 is not allowed in a YAML file"


def test_alias_bomb_and_deep_nesting_are_refused(example_text):
    bomb = "".join(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 6))
    text = example_text.replace("device:\n", "device:\n  l0: &l0 [a, b, c, d, e, f, g, h, i, j]\n" + bomb)
    with pytest.raises(StationFileError, match=r"^station\.yaml:\d+: aliases expand this document to more"):
        parse_station(text)
    deep = example_text.replace("chip: SIM-SI-01", "chip: " + "[" * 2000 + "]" * 2000)
    with pytest.raises(StationFileError, match=r"^station\.yaml:\d+: YAML syntax error: nested more than 40"):
        parse_station(deep)


def test_wiring_that_puts_the_smu_on_the_potentiostat_pad_is_refused(example_text):
    # column 04 is the counter film (wiring 'cycling'): D listed, CE reached
    text = example_text.replace('channels: ["1C01", "1D02"]', 'channels: ["1C01", "1D04"]')
    with pytest.raises(StationFileError) as info:
        parse_station(text)
    assert str(info.value) == (
        f"station.yaml:{line_of(text, '1D04')}: wirings.conductance:S-D.channels.1: channel 1D04 reaches pad "
        f"'CE' (column 04, as wiring 'cycling' connects it), not 'D': wiring 'conductance:S-D' would put "
        f"'smu' on pad 'CE'")


def test_wiring_that_uses_the_potentiostat_row_is_refused(example_text):
    # row A is the potentiostat's working electrode (wiring 'cycling')
    text = example_text.replace('channels: ["1C01", "1D02"]', 'channels: ["1A01", "1D02"]')
    line = line_of(text, "conductance:S-D")
    with pytest.raises(StationFileError) as info:
        parse_station(text)
    assert str(info.value) == (
        f"station.yaml:{line}: wirings.conductance:S-D.channels.0: channel 1A01 is "
        f"on matrix row A (slot 1), which wiring 'cycling' gives to 'pstat': wiring 'conductance:S-D' would "
        f"put pad 'S' on 'pstat', not on 'smu'")


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("pads: [S, D]", "pads: [S]", "1 pad(s) for 2 channel(s): list one pad per channel"),
        ("pads: [S, D]", "pads: [D, S]", "channel 1C01 reaches pad 'S' (column 01, as wiring 'cycling'"),
        ('channels: ["1C01", "1D02"]', 'channels: ["1C03", "1D02"]', "puts pad 'S' on column 03, but wiring"),
    ],
)
def test_channels_and_pads_must_agree_across_wirings(example_text, old, new, words):
    with pytest.raises(StationFileError) as info:
        parse_station(example_text.replace(old, new))
    assert "wirings.conductance:S-D" in str(info.value) and words in str(info.value)


def test_a_dotted_driver_is_not_imported_while_the_file_is_checked(example_text, tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "vendor_pstat.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('x')\n"
        "class Potentiostat:\n    'A vendor DLL potentiostat.'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    text = example_text.replace("driver: emstat4", "driver: vendor_pstat:Potentiostat")
    config = parse_station(text)
    assert config.instruments["pstat"].driver == "vendor_pstat:Potentiostat"
    assert not marker.exists()
    # a name that could never be imported is also left for the moment the station is opened
    parse_station(example_text.replace("driver: emstat4", "driver: no_such_vendor.module:Thing"))


def test_the_si_reference_position_reaches_the_steps(example_text):
    from nanocell_daq.engine.stationview import StationView

    text = example_text.replace("  nominal_capacity_Ah: 3.0e-16\n",
                                "  nominal_capacity_Ah: 3.0e-16\n  si_reference_um: {x: 40.0, y: 140.0}\n")
    assert StationView.from_text(text, "station.yaml").si_reference_um == {"x": 40.0, "y": 140.0, "z": 0.0}
    assert StationView.from_text(example_text, "station.yaml").si_reference_um is None
