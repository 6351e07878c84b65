"""``nanocell station new``: writes the template, refuses bad names and overwriting, one-line errors."""

from __future__ import annotations

from nanocell_daq.cli import main
from nanocell_daq.station.loader import parse_station
from tests.station.test_template import fill


def test_new_writes_a_template_that_loads_once_filled(tmp_path, capsys):
    out = tmp_path / "station.yaml"
    assert main(["station", "new", "--instruments", "2450,emstat4,707b,proscan,sc10,spectrometer",
                 "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert "# A station file is trusted code" in text
    config = parse_station(fill(text), out)
    assert set(config.instruments) == {"smu", "pstat", "matrix", "stage", "shutter", "spectrometer"}


def test_new_without_output_prints_the_template(capsys):
    assert main(["station", "new", "-i", "sc10"]) == 0
    out = capsys.readouterr().out
    assert "driver: sc10" in out and "keithley2450" not in out
    parse_station(fill(out), "printed.yaml")


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_new_refuses_an_unknown_instrument_listing_the_valid_ones(tmp_path, capsys):
    out = tmp_path / "station.yaml"
    assert main(["station", "new", "--instruments", "2450,keithley6430", "-o", str(out)]) == 2
    line = _one_line_error(capsys)
    assert "unknown instrument 'keithley6430'" in line
    assert "valid: 2450, 2600b, emstat4, 707b, proscan, sc10, spectrometer" in line
    assert not out.exists()


def test_new_refuses_to_overwrite_unless_forced(tmp_path, capsys):
    out = tmp_path / "station.yaml"
    out.write_text("name: mine\n", encoding="utf-8")
    assert main(["station", "new", "-i", "2450", "-o", str(out)]) == 2
    assert "exists already (add --force to overwrite it)" in _one_line_error(capsys)
    assert out.read_text(encoding="utf-8") == "name: mine\n"
    assert main(["station", "new", "-i", "2450", "-o", str(out), "--force"]) == 0
    assert "driver: keithley2450" in out.read_text(encoding="utf-8")


def test_new_refuses_a_folder_or_a_file_as_the_folder(tmp_path, capsys):
    assert main(["station", "new", "-i", "2450", "-o", str(tmp_path)]) == 2
    assert "is a folder" in _one_line_error(capsys)
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    assert main(["station", "new", "-i", "2450", "-o", str(blocker / "station.yaml")]) == 2
    assert "is a file, not a folder" in _one_line_error(capsys)


def test_check_of_an_unfilled_template_names_the_placeholders(tmp_path, capsys):
    out = tmp_path / "station.yaml"
    assert main(["station", "new", "-i", "2450", "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["station", "check", str(out)]) == 2
    err = capsys.readouterr().err
    assert "station.yaml:" in err and "instruments.smu.resource: still a template placeholder" in err
    assert "Traceback" not in err


def test_a_2600b_with_an_emstat_cycles_at_pA_and_each_cycler_gets_its_wiring(tmp_path, capsys):
    out = tmp_path / "station.yaml"
    assert main(["station", "new", "-i", "2600b,emstat4,707b", "-o", str(out)]) == 0
    config = parse_station(fill(out.read_text(encoding="utf-8")), out)
    assert config.roles["galvanostat"] == "smu" and config.roles["potentiostat"] == "pstat"
    assert config.wirings["cycling:smu"].instrument == "smu"
    assert config.wirings["cycling"].instrument == "pstat"
    assert "model" in config.instruments["smu"].options  # the capability check needs it
