"""``nanocell station check`` compares the model a station file declares with the instrument's identity."""

from __future__ import annotations

from pathlib import Path

from nanocell_daq.station import parse_station
from nanocell_daq.station.check import _check_model
from nanocell_daq.station.station import InstrumentStatus

STATION = (Path(__file__).parents[1] / "engine" / "station_si.yaml").read_text().replace(
    "  stage:        {driver: proscan3",
    '  sm26:         {driver: keithley2600, resource: "TCPIP::127.0.0.1::1::SOCKET", '
    'options: {model: 2636B}}\n'
    "  stage:        {driver: proscan3")


def _status(identity: str) -> InstrumentStatus:
    return InstrumentStatus("sm26", "keithley2600", "TCPIP::127.0.0.1::1::SOCKET", [], identity, True, "")


def test_a_2450_answering_for_a_declared_2636b_is_reported():
    config = parse_station(STATION, "station.yaml")
    wrong = _status("KEITHLEY INSTRUMENTS,MODEL 2450,04431893,1.7.12b")
    _check_model(config, wrong)
    assert not wrong.ok
    assert wrong.problem == ("the station declares model Keithley 2636B (options: model), but the "
                             "instrument identifies as 'KEITHLEY INSTRUMENTS,MODEL 2450,04431893,1.7.12b'; "
                             "the capability check used the declared model's ranges")
    right = _status("Keithley Instruments Inc., Model 2636B, 4309987, 4.0.4")
    _check_model(config, right)
    assert right.ok and right.problem == ""
