"""build_station against the simulated bench: roles, router, limits, shutdown, snapshot, bad stations."""

from __future__ import annotations

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
