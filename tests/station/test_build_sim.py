"""build_station against the simulated bench: roles, router, limits, shutdown, snapshot, bad stations."""

from __future__ import annotations

import json
import socket

import pytest

from drivers.routing import MatrixRouter
from nanocell_daq.station import StationError, build_station, load_station


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_build_gives_roles_router_limits_and_snapshot(bench, bench_station):
    station = build_station(bench_station)
    try:
        assert station.clock_speed == bench.clock.speed
        assert isinstance(station.router, MatrixRouter)
        assert station.role("router") is station.router
        assert station.role("galvanostat") is station.role("potentiostat")
        assert "MODEL 2450" in station.identities["smu"]
        station.router.connect("cycling")
        assert station.router.current_wiring == "cycling"
        station.role("shutter").open()
        snap = station.snapshot()
        assert snap["instruments"]["smu"]["identity"].startswith("KEITHLEY")
        assert snap["instruments"]["matrix"]["roles"] == ["router"]
        assert snap["config"]["wirings"]["cycling"]["channels"] == ["1A01", "1B04"]
        with pytest.raises(StationError, match="no instrument fills role 'nope'"):
            station.role("nope")
        station.shutdown_all()
        assert not any(bench.output_on(name) for name in bench.resources)
    finally:
        station.close()


def test_unreachable_instrument_is_named_with_the_reason(bench, bench_station, tmp_path):
    text = bench_station.read_text().replace(bench.resources["stage"],
                                             f"TCPIP::127.0.0.1::{closed_port()}::SOCKET")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(StationError) as info:
        build_station(path)
    message = str(info.value)
    assert "instrument 'stage'" in message
    assert "refused" in message
    assert "'smu'" not in message


def test_wrong_instrument_is_refused_before_anything_turns_on(bench, bench_station, tmp_path):
    text = bench_station.read_text().replace(bench.resources["smu"], bench.resources["spectrometer"])
    path = tmp_path / "swapped.yaml"
    path.write_text(text)
    with pytest.raises(StationError, match=r"instrument 'smu'.*wrong instrument.*NANOCELL"):
        build_station(load_station(path))
    assert not bench.output_on("smu")


def _is_query(name: str, command: str) -> bool:
    """Commands that only read: SCPI/SC10 queries, TSP prints, ProScan reads, EmStat's identity."""
    c = command.strip()
    return (c.endswith("?") or c.startswith("print(") or c in ("P", "$", "SMS", "SAS", "t", "v", "i")
            or (name == "shutter" and c.endswith("?")))


def test_snapshot_stores_settings_read_from_the_instruments(bench, bench_station):
    station = build_station(bench_station)
    try:
        smu = station.role("source_meter")
        smu.configure_voltage_source(1e-7, nplc=0.5, current_range_A=1e-8)
        smu.set_voltage(0.02)
        spec = station.role("spectrometer")
        spec.exposure_s = 2.5
        spec.accumulations = 3
        station.role("laser").laser_setpoint_mW = 0.2
        station.role("stage").move_to(104.0, 200.0, 0.0)
        station.router.connect("conductance:S-D")
        before = {name: len(bench.log(name)) for name in bench.resources}

        snap = station.snapshot()

        settings = {name: inst["settings"] for name, inst in snap["instruments"].items()}
        assert settings["smu"]["source_function"] == "VOLT"
        assert settings["smu"]["source_voltage_V"] == pytest.approx(0.02)
        assert settings["smu"]["current_limit_A"] == pytest.approx(1e-7)
        assert settings["smu"]["current_range_A"] == pytest.approx(1e-8)
        assert settings["smu"]["current_autorange"] is False
        assert settings["smu"]["current_nplc"] == pytest.approx(0.5)
        assert settings["smu"]["output_enabled"] is False
        assert settings["smu"]["output_off_state"]["voltage"] == "HIMP"
        assert settings["spectrometer"]["exposure_s"] == pytest.approx(2.5)
        assert settings["spectrometer"]["accumulations"] == 3
        assert settings["spectrometer"]["laser_setpoint_mW"] == pytest.approx(0.2)
        assert settings["spectrometer"]["laser_enabled"] is False
        assert settings["stage"]["position_um"] == pytest.approx([104.0, 200.0, 0.0], abs=0.1)
        assert settings["stage"]["max_speed_percent"] == 100
        assert settings["shutter"] == {"enabled": False, "mode": 1, "closed": True, "open_time_s": 0.1,
                                       "timed_exposure": True}
        assert settings["matrix"]["closed_channels"] == ["1C01", "1D02"]
        assert snap["wiring"] == "conductance:S-D"
        assert settings["pstat"]["firmware"].startswith("es4_hr")
        assert settings["pstat"]["model"] == "es4_hr" and settings["pstat"]["potential_range_V"] == [-6, 6]
        assert settings["pstat"]["running"] is False
        assert json.loads(json.dumps(snap)) == snap  # stored as JSON with the run

        # queries only: nothing was set, and no output changed
        for name in bench.resources:
            told = bench.log(name)[before[name]:]
            assert told or name == "pstat", name  # the EmStat's firmware was read when it was identified
            assert all(_is_query(name, entry.command) for entry in told), (name, told)
            if name != "matrix":
                assert not any(entry.output_on for entry in told), name
        assert bench.log("matrix")[-1].output_on  # still closed onto S-D, as before the snapshot
    finally:
        station.shutdown_all()
        station.close()


def test_snapshot_survives_an_instrument_that_does_not_answer(bench, bench_station):
    station = build_station(bench_station)
    try:
        station.instruments["shutter"].adapter.connection.timeout = 300  # ms: keep the test fast
        bench.inject("shutter", "timeout")
        snap = station.snapshot()
        assert "timeout" in snap["instruments"]["shutter"]["settings"]["error"]
        assert snap["instruments"]["smu"]["settings"]["source_function"] in ("VOLT", "CURR")
    finally:
        bench.clear_faults()
        station.shutdown_all()
        station.close()
