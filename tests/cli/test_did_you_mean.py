"""A misspelled field in a protocol step, a protocol's repeat block, a ``--set`` or a station file gets
"unknown field 'cyles' (did you mean 'cycles'?)" at its file:line, in one line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from nanocell_daq.cli import main
from nanocell_daq.suggest import closest, unknown_field

STATION = Path(__file__).parents[1] / "engine" / "station_si.yaml"

PROTOCOL = """\
protocol: misspelled
parameters: {{cycles: 2}}
steps:
  - iv: {{label: pristine, pairs: [S-D], v_max_V: 0.1, points: 3}}
  - repeat:
      {repeat_line}
      steps:
        - galvanostatic: {{current_A: 2.0e-11, v_min_V: 2.5, {charge_field}: 3.95}}
"""


def _check(tmp_path, capsys, protocol: str, station: Path = STATION, *extra: str) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(protocol, encoding="utf-8")
    assert main(["check", str(path), "--station", str(station), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    return err


@pytest.mark.parametrize(
    ("repeat_line", "charge_field", "said"),
    [
        ("times: $cycles", "v_mx_V", "p.yaml:8: galvanostatic.v_mx_V: unknown field 'v_mx_V' (did you mean "
                                     "'v_max_V'?); parameters of galvanostatic: "),
        ("tims: $cycles", "v_max_V", "p.yaml:6: repeat.tims: unknown field 'tims' (did you mean 'times'?)"),
        ("times: $cyles", "v_max_V",
         "p.yaml:6: repeat.times: unknown parameter $cyles (did you mean $cycles?"),
    ],
)
def test_a_misspelled_protocol_field_gets_a_suggestion_at_its_line(tmp_path, capsys, repeat_line,
                                                                   charge_field, said):
    err = _check(tmp_path, capsys, PROTOCOL.format(repeat_line=repeat_line, charge_field=charge_field))
    assert said in err, err


def test_a_misspelled_set_gets_a_suggestion(tmp_path, capsys):
    err = _check(tmp_path, capsys, PROTOCOL.format(repeat_line="times: $cycles", charge_field="v_max_V"),
                 STATION, "--set", "cyles=3")
    assert "--set cyles=3" in err and "(did you mean 'cycles'?; parameters: cycles)" in err, err


@pytest.mark.parametrize(
    ("right", "wrong", "said"),
    [
        ("max_laser_power_mW: 0.5", "max_laser_power_mw: 0.5",
         "station.yaml:34: limits.max_laser_power_mw: unknown field 'max_laser_power_mw' (did you mean "
         "'max_laser_power_mW'?)"),
        ("S:  {kind: contact, along_wire_um: 0.0}", "S:  {kind: contact, along_wire: 0.0}",
         "station.yaml:25: pads.S.along_wire: unknown field 'along_wire' (did you mean 'along_wire_um'?)"),
        ("simulation: {speed: 1000.0}", "simulation: {sped: 1000.0}",
         "station.yaml:2: simulation.sped: unknown field 'sped' (did you mean 'speed'?)"),
    ],
)
def test_a_misspelled_station_field_gets_a_suggestion_at_its_line(tmp_path, capsys, right, wrong, said):
    text = STATION.read_text(encoding="utf-8")
    assert right in text
    station = tmp_path / "station.yaml"
    station.write_text(text.replace(right, wrong), encoding="utf-8")
    err = _check(tmp_path, capsys, PROTOCOL.format(repeat_line="times: $cycles", charge_field="v_max_V"),
                 station)
    assert said in err and len(err.splitlines()) == 1, err


def test_no_suggestion_when_nothing_is_close():
    assert unknown_field("zzz", ["cycles", "times"]) == "unknown field 'zzz'"
    assert closest("IV", ["iv", "rest"]) == "iv" and closest("hold", ["potentiostatic_hold"], substring=True)
