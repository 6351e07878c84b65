"""A pristine cell on demand: ``nanocell sim reset`` and ``sim serve --fresh-per-run`` (a new session of
instrument connections starts on a pristine cell); without either, run 2's "pristine" is run 1's end."""

from __future__ import annotations

import json
import socket
import time

import pytest
import yaml

from nanocell_daq.cli import main
from simulated_instruments.bench import SimulatedBench
from tests.engine import benchkit

CHARGE = """
protocol: pristine I-V, then a charge
steps:
  - iv: {label: pristine, pairs: [S-D], v_max_V: 0.1, points: 3, compliance_A: 1.0e-6}
  - galvanostatic: {label: charge, current_A: 2.0e-11, v_min_V: 2.5, v_max_V: 3.95, max_time_s: 600,
                    interval_s: 10.0}
"""


def _pristine_g0(bench, tmp_path) -> float:
    store, result = benchkit.run(bench, tmp_path, CHARGE, supervise=False)
    try:
        assert result.status == "completed", result.reason
        return benchkit.g0(store, result.run_id, "pristine")
    finally:
        store.close()


def test_run_2_starts_where_run_1_ended_until_sim_reset_makes_the_cell_pristine(tmp_path, capsys):
    with SimulatedBench(preset="si", speed=5000.0, seed=0) as bench:
        station = bench.write_station(tmp_path / "sim-station.yaml")
        g_run1 = _pristine_g0(bench, tmp_path)
        g_run2 = _pristine_g0(bench, tmp_path)  # no reset: the charged wire conducts far less
        assert g_run2 < g_run1 / 10
        capsys.readouterr()
        code = main(["sim", "reset", "--station", str(station), "--json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        cell = json.loads(out)
        assert cell["full_cycles"] == 0 and cell["crystalline_fraction_core"] == 1.0 and cell["resets"] == 1
        assert cell["g0_S_D_S"] == pytest.approx(g_run1, rel=0.02)  # read back after the reset
        g_run3 = _pristine_g0(bench, tmp_path)
    assert g_run3 == pytest.approx(g_run1, rel=0.01)  # equal within the I-V's noise


@pytest.fixture
def bench(tmp_path):
    with SimulatedBench(preset="si", speed=1000.0, seed=0, fresh_per_run=True) as b:
        b.station_path = b.write_station(tmp_path / "station.yaml")
        yield b


def _charge(bench) -> None:
    """Pass charge through the model directly (as a cycling step would)."""
    t = bench.clock.now()
    bench.model.set_drive(t, "current", 2e-11)
    bench.model.set_drive(t + 2000.0, "open")


def _connect(bench, name="smu") -> socket.socket:
    host, port = bench.resources[name].split("::")[1:3]
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.sendall(b"*IDN?\n")
    sock.recv(256)  # answered: the connection is registered and its session started
    return sock


def test_fresh_per_run_resets_the_cell_when_a_new_session_of_connections_starts(bench):
    pristine = bench.cell_state()["g0_S_D_S"]
    _charge(bench)
    assert bench.cell_state()["g0_S_D_S"] < pristine / 10
    first = _connect(bench, "smu")  # a run opens its instruments: a new session, a pristine cell
    assert bench.cell_state()["g0_S_D_S"] == pytest.approx(pristine) and bench.cell_resets == 1
    _charge(bench)
    second = _connect(bench, "matrix")  # the same run opens another instrument: no reset mid-run
    assert bench.cell_state()["g0_S_D_S"] < pristine / 10 and bench.cell_resets == 1
    first.close()
    second.close()
    for _ in range(100):  # the server sees both closed within a few ms
        if not any(not c.closed for c in bench._session):
            break
        time.sleep(0.01)
    _connect(bench, "pstat").close()  # the next run
    assert bench.cell_state()["g0_S_D_S"] == pytest.approx(pristine) and bench.cell_resets == 2


def test_no_reset_while_an_output_is_on(bench, capsys, monkeypatch):
    monkeypatch.setattr("simulated_instruments.control.RESET_WAIT_S", 0.0)  # refused at once, not in 2 s
    bench.wiring.close({"1C01", "1D02"})  # what an engine killed mid-I-V leaves: the SMU across the wire
    _charge(bench)
    _connect(bench).close()  # the supervisor comes to make it safe: the cell stays as it was
    assert bench.cell_resets == 0
    assert main(["sim", "reset", "--station", str(bench.station_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be reset" in err and "matrix closed 1C01, 1D02" in err
    bench.wiring.open()
    assert main(["sim", "reset", "--station", str(bench.station_path)]) == 0
    assert "cell reset to pristine: OCV" in capsys.readouterr().out


def test_sim_reset_without_a_running_simulator_is_one_line(tmp_path, capsys):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing serves this port now
    station = tmp_path / "station.yaml"
    with SimulatedBench(preset="si", speed=1000.0) as b:
        data = b.station_dict()
    data["simulation"]["control"] = f"127.0.0.1:{port}"
    station.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["sim", "reset", "--station", str(station)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no simulated bench answers" in err and "sim serve" in err


def test_sim_serve_help_tells_what_starts_a_fresh_cell(capsys, tmp_path):
    from nanocell_daq.viewmodels.sim_server import SimServer

    assert main(["sim", "serve", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "--fresh-per-run" in out and "connection opens while none to the bench is open" in out
    assert "resume" in out and "sim reset" in out
    assert "--fresh-per-run" in SimServer(folder=tmp_path, fresh_per_run=True).command()
    assert "--fresh-per-run" not in SimServer(folder=tmp_path).command()


def test_sim_reset_on_a_station_without_a_simulator_is_one_line(capsys):
    from pathlib import Path

    station = Path(__file__).parents[1] / "engine" / "station_si.yaml"  # no simulation.control: address
    assert main(["sim", "reset", "--station", str(station)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "simulation.control: missing" in err
