"""``nanocell station check`` against the simulated bench, an unreachable instrument and a bad YAML file."""

from __future__ import annotations

import socket

from nanocell_daq.cli import main


def test_check_good_station(bench, bench_station, capsys):
    assert main(["station", "check", str(bench_station)]) == 0
    out = capsys.readouterr().out
    assert "station ready" in out
    for name in ("smu", "pstat", "stage", "spectrometer", "shutter", "matrix"):
        assert name in out
    assert "conductance:S-D" in out
    assert not any(bench.output_on(name) for name in bench.resources)


def test_check_reports_unreachable_instrument(bench, bench_station, tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bad = tmp_path / "unreachable.yaml"
    bad.write_text(bench_station.read_text().replace(bench.resources["shutter"],
                                                     f"TCPIP::127.0.0.1::{port}::SOCKET"))
    assert main(["station", "check", str(bad)]) != 0
    captured = capsys.readouterr()
    assert "shutter (unreachable: connection refused" in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_check_bad_yaml_names_the_line(tmp_path, capsys):
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: x\ninstruments:\n  smu: {driver: keithley2450, resource: [\n")
    assert main(["station", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "broken.yaml:" in err and "YAML syntax error" in err
    assert "Traceback" not in err
