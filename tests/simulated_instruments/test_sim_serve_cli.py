"""``nanocell sim serve`` runs the bench in its own process, writes the station YAML and stops on SIGINT."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pyvisa
import yaml

NANOCELL = Path(sys.executable).with_name("nanocell")


def test_sim_serve_writes_a_station_and_stops_on_sigint(tmp_path, rm: pyvisa.ResourceManager):
    station = tmp_path / "station.yaml"
    proc = subprocess.Popen([str(NANOCELL), "sim", "serve", "--preset", "si", "--speed", "500", "--seed", "3",
                             "--station-out", str(station)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not station.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert station.exists(), proc.stderr.read() if proc.poll() is not None else "no station file"
        data = yaml.safe_load(station.read_text())
        assert data["simulation"]["speed"] == 500.0
        # the shipped station: the 2636B cycles through its own rows, the EmStat4 HR holds
        assert data["instruments"]["smu"]["driver"] == "keithley2600"
        assert data["instruments"]["smu"]["options"]["model"] == "2636B"
        assert data["roles"]["galvanostat"] == "smu" and data["roles"]["potentiostat"] == "pstat"
        assert data["wirings"]["cycling:smu"]["channels"] == ["1C01", "1D04"]
        smu = rm.open_resource(data["instruments"]["smu"]["resource"], read_termination="\n",
                               write_termination="\n", timeout=3000)
        try:
            assert "Model 2636B" in smu.query("*IDN?")
        finally:
            smu.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "smu" in out and "TCPIP::127.0.0.1::" in out and "stopped" in out


def test_sim_serve_rejects_a_bad_speed():
    from nanocell_daq.cli import main

    assert main(["sim", "serve", "--speed", "0"]) == 2


def test_sim_serve_rejects_an_unknown_smu_model(capsys):
    from nanocell_daq.cli import main

    assert main(["sim", "serve", "--smu", "6430"]) == 2
    assert "--smu" in capsys.readouterr().err
