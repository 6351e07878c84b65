"""Devices on a chip: each device's pads, wirings and limits; one matrix for the whole chip; --device."""

from __future__ import annotations

import pytest
import yaml

from nanocell_daq.cli import main
from nanocell_daq.engine.stationview import StationView
from nanocell_daq.station import StationFileError, parse_station, select_device
from tests.station.chip_devices import dump, two_device_station


def line_of(text: str, needle: str, after: str = "") -> int:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i, line in enumerate(lines[start:], start + 1) if needle in line)


@pytest.fixture
def chip_text(example_text) -> str:
    return dump(two_device_station(yaml.safe_load(example_text)))


def test_each_device_sees_its_own_wirings_pads_and_limits(chip_text):
    config = parse_station(chip_text, "chip.yaml")
    assert config.device_name is None and set(config.devices) == {"nw1", "nw2"}
    nw1, nw2 = select_device(config, "nw1"), select_device(config, "nw2")
    assert nw1.wirings["conductance:S-D"].channels == ["1C01", "1D02"]
    assert nw2.wirings["conductance:S-D"].channels == ["1C05", "1D06"]
    assert set(nw2.pads) == {"CE", "S", "D"}  # the counter film is shared
    assert (nw1.device_name, nw2.device_name) == ("nw1", "nw2")
    assert nw2.device.chip == "SIM-SI-01"
    # nw2's own limit is enforced and named by its line in the whole file
    limits = StationView.from_config(nw2).limits
    with pytest.raises(Exception, match=r"device limit 0.5 V \(chip.yaml line (\d+)\)") as info:
        limits.check_iv("conductance:S-D", 0.8, 1e-7)
    line = int(info.value.args[0].rsplit("line ", 1)[1].rstrip(")"))
    assert line == line_of(chip_text, "max_voltage_V: 0.5")
    StationView.from_config(nw1).limits.check_iv("conductance:S-D", 0.8, 1e-7)  # nw1 allows 1 V


def test_snapshot_of_a_device_reloads_as_that_device(chip_text):
    nw2 = StationView.from_config(select_device(parse_station(chip_text, "chip.yaml"), "nw2"))
    again = StationView.from_text(yaml.safe_dump(nw2.raw, sort_keys=False), "snapshot.yaml")
    assert again.config.device_name == "nw2"
    assert again.config.wirings["cycling"].channels == ["1A05", "1B04"]


def test_a_column_is_one_pad_of_one_device_on_the_whole_chip(chip_text):
    bad = chip_text.replace("- 1D06", "- 1D01")
    with pytest.raises(StationFileError) as info:
        parse_station(bad, "chip.yaml")
    line = line_of(bad, "- 1D01", after="nw2:")
    assert str(info.value).startswith(f"chip.yaml:{line}: devices.nw2.wirings.conductance:S-D.channels.1: "
                                      "channel 1D01 reaches pad 'nw1.S'")


@pytest.mark.parametrize(("device", "expected"), [
    (None, "the chip has several devices (nw1, nw2); choose one with --device NAME"),
    ("nw9", "--device nw9: no such device under devices: (nw1, nw2)"),
])
def test_choosing_a_device_is_required_and_checked(chip_text, device, expected):
    with pytest.raises(StationFileError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        select_device(parse_station(chip_text, "chip.yaml"), device)


def test_single_device_file_is_one_implicit_device(example_text):
    config = parse_station(example_text, "station.yaml")
    assert select_device(config, None) is config
    with pytest.raises(StationFileError, match="has no devices: section"):
        select_device(config, "nw1")


def test_wirings_outside_devices_and_a_shadowed_shared_pad_are_refused(chip_text):
    data = yaml.safe_load(chip_text)
    data["wirings"] = {"x": {"instrument": "smu", "channels": ["1C09"]}}
    data["devices"]["nw2"]["pads"]["CE"] = {"kind": "counter"}
    text = dump(data)
    with pytest.raises(StationFileError) as info:
        parse_station(text, "chip.yaml")
    message = str(info.value)
    assert "wirings: with devices:, each device lists its wirings" in message
    assert "devices.nw2.pads.CE: pad 'CE' is already a shared pad" in message


def test_check_takes_device(tmp_path, chip_text, capsys):
    station = tmp_path / "chip.yaml"
    station.write_text(chip_text)
    proto = tmp_path / "iv.yaml"
    proto.write_text("protocol: iv only\nsteps:\n"
                     "  - iv: {pairs: [S-D], v_max_V: 0.8, points: 5, compliance_A: 1.0e-7}\n")
    assert main(["check", str(proto), "--station", str(station), "--device", "nw1"]) == 0
    assert main(["check", str(proto), "--station", str(station), "--device", "nw2"]) == 2
    err = capsys.readouterr().err
    assert "device limit 0.5 V" in err and f"line {line_of(chip_text, 'max_voltage_V: 0.5')}" in err
    assert main(["check", str(proto), "--station", str(station)]) == 2
    assert "choose one with --device NAME" in capsys.readouterr().err
