"""`nanocell run --set ...` on the simulated bench, then `nanocell show RUN` and `runs --json` print where
the run came from: software, host, operator, station file, protocol with its --set overrides."""

from __future__ import annotations

import json
import socket

from nanocell_daq import __version__
from nanocell_daq.cli import main
from nanocell_daq.storage import Store
from simulated_instruments.bench import SimulatedBench

PROTOCOL = """\
protocol: shown iv
parameters: {points: 5}
steps:
  - iv: {label: iv, pairs: [S-D], v_max_V: 0.1, points: $points}
"""


def test_run_then_show_and_runs_json_print_the_provenance(tmp_path, capsys):
    protocol, db = tmp_path / "iv.yaml", str(tmp_path / "runs.db")
    protocol.write_text(PROTOCOL, encoding="utf-8")
    with SimulatedBench(preset="si", speed=1000, seed=0) as bench:
        station = bench.write_station(tmp_path / "station.yaml")
        code = main(["run", str(protocol), "--station", str(station), "--db", db, "--set", "points=6",
                     "--operator", "zoë"])
        assert code == 0, capsys.readouterr()
    capsys.readouterr()
    assert main(["show", "1", "--db", db, "--texts"]) == 0
    out = capsys.readouterr().out
    assert f"software: nanocell-daq {__version__} (" in out and f"host {socket.gethostname()}" in out
    assert "operator: zoë" in out
    assert f"station: {station.resolve()} (device none)" in out
    assert f"protocol: shown iv ({protocol.resolve()}); --set points=6" in out
    assert out.endswith(PROTOCOL)  # --texts: the protocol file as read, after the station file
    assert station.read_text(encoding="utf-8").rstrip("\n") in out

    assert main(["show", "1", "--db", db, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["run"]["status"] == "completed"
    assert shown["provenance"]["station"]["text"] == station.read_text(encoding="utf-8")
    assert shown["provenance"]["protocol"]["overrides"] == {"points": "6"}

    assert main(["runs", "--db", db, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["provenance"]["operator"] == "zoë" and row["provenance"]["overrides"] == {"points": "6"}
    assert row["provenance"]["sessions"] == 1 and row["provenance"]["software_version"] == __version__

    with Store.open(db, create=False) as store:
        old = store.create_run("older run")  # nothing recorded: unknown, not an error
        store.finish_run(old)
    assert main(["show", str(old), "--db", db]) == 0
    assert "operator: unknown" in capsys.readouterr().out
    assert main(["show", "99", "--db", db]) == 2
    assert "no run '99'" in capsys.readouterr().err
