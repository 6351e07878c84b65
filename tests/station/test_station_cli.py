"""``nanocell station check`` against the simulated bench, an unreachable instrument and a bad YAML file."""

from __future__ import annotations

import socket

import yaml

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


def _variant(bench_station, tmp_path, name, **changes):
    """The bench's station file with instrument entries changed (``smu={"resource": ...}``)."""
    data = yaml.safe_load(bench_station.read_text())
    for inst, fields in changes.items():
        for key, value in fields.items():
            if key == "timeout_ms":
                data["instruments"][inst]["options"]["timeout_ms"] = value
            else:
                data["instruments"][inst][key] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_check_reports_a_wrong_instrument_by_name_with_the_identity(bench, bench_station, tmp_path, capsys):
    bad = _variant(bench_station, tmp_path, "wrong.yaml", smu={"resource": bench.resources["spectrometer"]})
    assert main(["station", "check", str(bad)]) == 1
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())
    assert "smu (wrong instrument: identity 'NANOCELL,SIMSPEC-532" in err
    assert "is not a keithley2450" in err
    assert "spectrometer (" not in err  # the real spectrometer is fine
    assert "Traceback" not in captured.err + captured.out


def test_check_reports_an_instrument_speaking_another_protocol(bench, bench_station, tmp_path, capsys):
    # a 2450 driver pointed at the SC10: the shutter echoes "*IDN?" but never ends a line with "\n"
    bad = _variant(bench_station, tmp_path, "shutter_as_smu.yaml",
                   smu={"resource": bench.resources["shutter"], "timeout_ms": 300})
    assert main(["station", "check", str(bad)]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "smu (unreachable: no answer (timeout)" in err


def test_check_switches_nothing_on(bench, bench_station, capsys):
    before = {name: len(bench.log(name)) for name in bench.resources}
    assert main(["station", "check", str(bench_station)]) == 0
    capsys.readouterr()
    for name in ("smu", "pstat", "spectrometer", "shutter", "stage"):
        told = bench.log(name)[before[name]:]
        assert told, name  # it was contacted (identity, role state)
        assert not any(entry.output_on for entry in told), (name, [e for e in told if e.output_on])
    commands = [e.command for name in ("smu", "spectrometer") for e in bench.log(name)[before[name]:]]
    assert not any("OUTP ON" in c.upper() or "LASER:STAT ON" in c.upper() for c in commands)
    matrix = bench.log("matrix")[before["matrix"]:]
    assert any(e.output_on for e in matrix)  # each wiring was closed once to read it back ...
    assert not matrix[-1].output_on and not bench.output_on("matrix")  # ... and everything is open again
    assert bench.damage == []


def _raw(resource: str, line: str) -> str:
    """Send one ``\\r``-terminated command straight to an emulated serial-style instrument; its reply."""
    port = int(resource.split("::")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(line.encode() + b"\r")
        return s.recv(256).decode(errors="replace")


def test_check_says_an_answering_instrument_is_not_usable_as_set_up_not_unreachable(bench, bench_station,
                                                                                    capsys):
    _raw(bench.resources["stage"], "COMP,1")  # the ProScan left in compatibility mode by another program
    try:
        assert main(["station", "check", str(bench_station)]) == 1
        err = " ".join(capsys.readouterr().err.split())
        assert "stage (not usable as set up: " in err and "COMP,0" in err, err
        assert "stage (unreachable" not in err
    finally:
        _raw(bench.resources["stage"], "COMP,0")


def test_check_is_refused_while_a_run_holds_the_station_and_takes_the_lease_itself(
    bench, bench_station, tmp_path, capsys, monkeypatch
):
    """Connecting would disturb a run (a 2600B driver aborts a TSP script it finds running): while a live
    engine holds the station's lease the check touches nothing; while the check runs, no run may start."""
    from nanocell_daq.engine.lease import EngineLease, LeaseHeld, config_key
    from nanocell_daq.station.loader import load_station
    from nanocell_daq.storage import Store

    db = tmp_path / "runs.db"
    key = config_key(load_station(bench_station))
    with Store.open(db) as store:
        run_id = store.create_run("a run on the bench")
        engine = EngineLease(store, key, "the bench")
        engine.acquire(run_id)
        try:
            before = [len(bench.log(name)) for name in bench.resources]
            assert main(["station", "check", str(bench_station), "--db", str(db)]) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and f"is in use by run {run_id}" in err and "Traceback" not in err
            assert [len(bench.log(name)) for name in bench.resources] == before  # no instrument was touched
        finally:
            engine.release()
        assert main(["station", "check", str(bench_station), "--db", str(db)]) == 0
        assert "station ready" in capsys.readouterr().out

        from nanocell_daq.engine import lease as lease_module

        taken = []
        real = lease_module.EngineLease.acquire

        def acquire_then_try_a_run(self, *args, **kwargs):  # a run starting while the check holds the lease
            real(self, *args, **kwargs)
            other = EngineLease(store, key, "the bench")
            try:
                other.acquire()
            except LeaseHeld as exc:
                taken.append(str(exc))
            else:
                other.release()

        monkeypatch.setattr(lease_module.EngineLease, "acquire", acquire_then_try_a_run)
        assert main(["station", "check", str(bench_station), "--db", str(db)]) == 0
        assert taken and "is in use by" in taken[0]


def test_check_without_the_database_creates_none(bench, bench_station, tmp_path, capsys):
    db = tmp_path / "none-yet.db"
    assert main(["station", "check", str(bench_station), "--db", str(db)]) == 0
    assert not db.exists()
