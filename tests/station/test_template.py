"""The station template of ``nanocell station new``: it loads once filled in, and never before."""

from __future__ import annotations

import re

import pytest

from nanocell_daq.errors import UserError
from nanocell_daq.station.loader import StationFileError, parse_station
from nanocell_daq.station.template import CHOICES, PLACEHOLDER, parse_choice, render

ROWS = {"pstat": "A", "smu": "C"}
COLUMNS = {"S": "01", "CE": "02", "D": "03"}
VALUES = [  # (pattern of the placeholder text, value a user would write)
    (r"^VISA resource of the (\w+)$", lambda m: '"TCPIP::127.0.0.1::5025::SOCKET"'),
    (r"^a name for this probe station$", lambda m: "my bench"),
    (r"^chip identifier$", lambda m: "CHIP-7"),
    (r"^es4_lr or es4_hr$", lambda m: "es4_lr"),
    (r"^2636B, 2635B, 2602B", lambda m: "2636B"),
    (r"^matrix channel (\w+) -> pad (\w+)$", lambda m: f'"1{ROWS[m[1]]}{COLUMNS[m[2]]}"'),
    (r"^largest \|I\| through the cell", lambda m: "1.0e-9"),
    (r"^lowest cell voltage", lambda m: "2.4"),
    (r"^highest cell voltage", lambda m: "2.9"),
    (r"^largest \|I\| of an I-V", lambda m: "1.0e-6"),
    (r"^largest \|V\| of an I-V", lambda m: "1.0"),
    (r"^largest laser power", lambda m: "0.5"),
    (r"^[xy] low, um$", lambda m: "0"),
    (r"^[xy] high, um$", lambda m: "1000"),
]


def fill(text: str, resources: dict[str, str] | None = None) -> str:
    """Replace every placeholder as a user would (text replacement); resources by instrument name."""
    def value(match: re.Match[str]) -> str:
        what = match[1]
        if resources is not None and (m := re.match(r"^VISA resource of the (\w+)$", what)):
            return f'"{resources[CHOICES[m[1]].instrument]}"'
        for pattern, make in VALUES:
            if found := re.match(pattern, what):
                return make(found)
        raise AssertionError(f"no value for placeholder {what!r}")

    filled = re.sub(r'"<FILL IN: (.*?)>"', value, text)
    assert f"\"{PLACEHOLDER}" not in filled
    return filled


SETS = ["2450,emstat4,707b,proscan,sc10,spectrometer", "2600b,emstat4,707b", "2450,707b", "2450",
        "emstat4", "sc10", "proscan,sc10,spectrometer", "spectrometer,sc10,proscan,707b,2600b,emstat4"]


@pytest.mark.parametrize("choice", SETS)
def test_filled_template_loads_with_every_chosen_instrument(choice):
    keys = parse_choice(choice)
    config = parse_station(fill(render(keys)), "new.yaml")
    drivers = {inst.driver for inst in config.instruments.values()}
    assert drivers == {CHOICES[k].driver for k in keys}
    for key in keys:  # every role the instrument can fill is given to someone
        for role in CHOICES[key].roles:
            assert role in config.roles
    if "707b" in keys and len(keys) > 1:
        assert config.wirings and "router" in config.roles
    if "emstat4" in keys:
        assert config.instruments["pstat"].options["model"] == "es4_lr"
        assert config.roles["galvanostat"] == ("smu" if "2600b" in keys else "pstat")
        assert config.limits.cycling is not None
    if ("2450" in keys and "emstat4" not in keys) or "2600b" in keys:  # a 2600B cycles (pA) before an EmStat
        assert config.roles["galvanostat"] == "smu"
    if "proscan" in keys:
        assert config.limits.stage_travel_um is not None
    if "spectrometer" in keys:
        assert config.limits.max_laser_power_mW == 0.5


def test_unfilled_template_is_refused_naming_each_placeholder_line():
    text = render(parse_choice("2450,emstat4,707b"))
    with pytest.raises(StationFileError) as err:
        parse_station(text, "new.yaml")
    lines = str(err.value).splitlines()
    placeholders = text.count(f"\"{PLACEHOLDER}")
    assert len(lines) == placeholders
    at = next(i for i, line in enumerate(text.splitlines(), 1) if "VISA resource of the 707b" in line)
    assert f"new.yaml:{at}: instruments.matrix.resource: still a template placeholder" in str(err.value)


def test_one_placeholder_left_is_refused():
    text = render(parse_choice("2450,707b"))
    filled = fill(text)
    left = filled.replace("max_voltage_V: 1.0", 'max_voltage_V: "<FILL IN: largest |V|, V>"')
    with pytest.raises(StationFileError, match=r"limits\.wirings\.conductance:S-D\.max_voltage_V: still a "):
        parse_station(left, "new.yaml")


@pytest.mark.parametrize("choice, message", [
    ("2450,foo", "unknown instrument 'foo' (valid: 2450, 2600b, emstat4, 707b, proscan, sc10, spectrometer)"),
    ("2450,2450", "named twice"),
    ("2450,2600b", "2450 and 2600b are both the source meter"),
    (" , ", "name at least one instrument"),
])
def test_bad_choices_are_refused(choice, message):
    with pytest.raises(UserError, match=re.escape(message)):
        parse_choice(choice)


def test_filled_template_passes_station_check_on_the_simulated_bench(bench, tmp_path):
    from nanocell_daq.station.check import check_station
    from nanocell_daq.station.loader import load_station

    path = tmp_path / "new.yaml"
    text = render(parse_choice("2450,emstat4,707b,proscan,sc10,spectrometer"))
    path.write_text(fill(text, bench.resources).replace("es4_lr", "es4_hr"), encoding="utf-8")
    report = check_station(load_station(path))
    problems = [s.problem for s in report.instruments if not s.ok] + \
        [r.detail for r in report.roles if not r.ok] + [w.detail for w in report.wirings if not w.ok]
    assert report.ok, problems
    assert [w.wiring for w in report.wirings] == ["cycling", "conductance:S-D"]
    assert not any(bench.output_on(name) for name in bench.resources)


def test_filled_2600b_template_passes_station_check_on_a_2636b_bench(tmp_path):
    from nanocell_daq.station.check import check_station
    from nanocell_daq.station.loader import load_station
    from simulated_instruments.bench import SimulatedBench

    path = tmp_path / "new.yaml"
    with SimulatedBench(preset="si", speed=1000.0, seed=0, smu_model="2636b") as bench:
        path.write_text(fill(render(parse_choice("2600b,707b,emstat4")), bench.resources)
                        .replace("es4_lr", "es4_hr"), encoding="utf-8")
        config = load_station(path)
        assert config.instruments["smu"].driver == "keithley2600"
        # the 2636B cycles (pA) on its own wiring; the EmStat is the potentiostat
        assert config.roles["galvanostat"] == "smu" and config.roles["source_meter"] == "smu"
        assert config.roles["potentiostat"] == "pstat" and config.wirings["cycling:smu"].instrument == "smu"
        report = check_station(config)
        assert report.ok, [s.problem for s in report.instruments] + [w.detail for w in report.wirings]
