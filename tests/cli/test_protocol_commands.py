"""`nanocell protocols list|show|copy|steps`, did-you-mean for protocol names and step kinds, and `--set`
errors that name `--set` with the allowed range in our words (no pymeasure text)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nanocell_daq.cli import main
from nanocell_daq.engine.protocol import load_protocol, shipped_protocols

STATION = Path(__file__).parents[1] / "engine" / "station_si.yaml"


def test_list_shows_each_shipped_protocol_with_its_parameters(capsys):
    assert main(["protocols", "list"]) == 0
    out = capsys.readouterr().out
    for name in shipped_protocols():
        assert f"{name}: " in out
    assert "cycles=2" in out and "--set NAME=VALUE" in out


def test_show_prints_the_yaml_and_copy_writes_a_file_that_runs_the_same(tmp_path, capsys):
    assert main(["protocols", "show", "si_seed"]) == 0
    shown = capsys.readouterr().out
    assert shown == shipped_protocols()["si_seed"].read_text(encoding="utf-8")
    assert main(["protocols", "copy", "si_seed", str(tmp_path)]) == 0
    copied = tmp_path / "si_seed.yaml"
    assert load_protocol(copied).parameters == load_protocol(shipped_protocols()["si_seed"]).parameters
    assert main(["protocols", "copy", "si_seed", str(copied)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    copied.write_text("edited")
    assert main(["protocols", "copy", "si_seed", str(copied), "--force"]) == 0
    assert copied.read_text(encoding="utf-8") == shown


def test_steps_lists_parameters_with_units_and_limits(capsys):
    assert main(["protocols", "steps", "potentiostatic_hold"]) == 0
    out = capsys.readouterr().out
    assert "potential_V" in out and "from -10 to 10 V" in out and "default 3.9 V" in out
    assert main(["protocols", "steps", "hold"]) == 2
    assert "Did you mean potentiostatic_hold?" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["check", "protocols show"])
def test_a_misspelled_protocol_name_gets_a_suggestion(capsys, command):
    args = [*command.split(), "si_sed"] + (["--station", str(STATION)] if command == "check" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Did you mean si_seed?" in err and "Traceback" not in err


def test_a_misspelled_step_kind_in_a_protocol_file_gets_a_suggestion(tmp_path, capsys):
    proto = tmp_path / "p.yaml"
    proto.write_text("protocol: p\nsteps:\n  - hold: {potential_V: 3.5}\n")
    assert main(["check", str(proto), "--station", str(STATION)]) == 2
    assert "did you mean potentiostatic_hold?" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("cycles=-3", "--set cycles=-3: repeat.times: must be a whole number >= 1, got -3 (in si_seed.yaml"),
        ("current_A=5", "--set current_A=5: galvanostatic.current_A: 5 is above the maximum 0.001 A"),
        ("exposure_s=0", "raman_map.exposure_s: 0 is below the minimum 0.001 s (in si_seed.yaml lines"),
        ("iv_points=abc", "iv.points: must be a whole number (from 2 to 10001), got 'abc'"),
        ("bogus=1", "--set bogus=1: parameters.bogus: not a parameter of this protocol"),
    ],
)
def test_set_errors_name_set_and_the_allowed_range(capsys, override, expected):
    assert main(["check", "si_seed", "--station", str(STATION), "--set", override]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert "Parameter" not in err and "nanocell_daq/engine/protocols" not in err  # no pymeasure, no path
    # one message per problem: a value used on several lines is told once
    assert err.count("error:") == 1 and len(set(err.splitlines())) == len(err.splitlines())


def test_a_protocol_file_error_is_still_told_as_the_files(tmp_path, capsys):
    proto = tmp_path / "p.yaml"
    proto.write_text("protocol: p\nparameters: {n: 2}\nsteps:\n  - rest: {time_s: -1}\n")
    assert main(["check", str(proto), "--station", str(STATION), "--set", "n=3"]) == 2
    err = capsys.readouterr().err
    assert "p.yaml:4" in err and "--set" not in err and "below the minimum 0.001 s" in err
