"""The 707B matrix over TSP, and what it connects: paths, the cell only through the wiring, damage."""

from __future__ import annotations

import pytest
from conftest import connect
from fake_model import FakeCell

from simulated_instruments.wiring import SourceState, Wiring


def test_tsp_channel_calls(bench, visa):
    mx = visa(bench, "matrix")
    assert "MODEL 707B" in mx.query("*IDN?")
    assert mx.query('print(channel.getclose("allslots"))') == "nil"  # all open at power-on
    mx.write('channel.close("1A01,1B04")')
    assert mx.query('print(channel.getclose("slot1"))') == "1A01;1B04"
    assert bench.output_on("matrix")
    mx.write('channel.exclusiveclose("1C01,1D02")')
    assert mx.query('print(channel.getclose("allslots"))') == "1C01;1D02"
    mx.write('channel.open("1C01")')
    assert mx.query('print(channel.getclose("allslots"))') == "1D02"
    mx.write("channel.connectrule = channel.BREAK_BEFORE_MAKE")
    assert float(mx.query("print(channel.connectrule)")) == 1
    assert mx.query("print(slot[1].idn)").startswith("7174A")
    mx.write("reset()")
    assert mx.query('print(channel.getclose("allslots"))') == "nil"


def test_matrix_errors_queue_tsp_style(bench, visa):
    mx = visa(bench, "matrix")
    mx.write('channel.close("9Z99")')
    mx.write("launch()")
    assert float(mx.query("print(errorqueue.count)")) == 2
    code, message, *_ = mx.query("print(errorqueue.next())").split("\t")
    assert float(code) == 1115 and "invalid channel" in message
    assert float(mx.query("print(errorqueue.next())").split("\t")[0]) == -285
    assert mx.query("print(errorqueue.next())").split("\t")[1] == "Queue Is Empty"
    assert mx.query('print(channel.getclose("allslots"))') == "nil"


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t


def test_paths_follow_the_crosspoints():
    w = Wiring(FakeCell(), _Clock())
    assert w.smu_path() == ("open",) and w.pstat_we_pads() is None
    w.close({"1C01", "1D03"})
    assert w.smu_path() == ("wire", "S", "C1")
    w.open()
    w.close({"1C02", "1D04"})
    assert w.smu_path() == ("cell", "D")
    w.close({"1A01", "1A02", "1B04"})
    assert w.pstat_we_pads() == ("S", "D")
    w.open({"1B04"})
    assert w.pstat_we_pads() is None  # no counter electrode: no cycling path


def test_the_cell_is_driven_only_through_a_closed_path():
    model, clock = FakeCell(), _Clock()
    w = Wiring(model, clock)
    w.set_pstat(SourceState(True, "current", 1e-11))
    assert model.drives[-1][1] == "open"  # cell on but nothing connected
    clock.t = 1.0
    w.close({"1A01", "1B04"})
    assert model.drives[-1][1:] == ("current", 1e-11, ("S",))
    clock.t = 2.0
    w.open({"1A01"})
    assert model.drives[-1][1] == "open"


def test_two_sources_on_one_pad_is_damage(bench, visa):
    connect(visa(bench, "matrix"), "1A01,1B04,1C01,1D02")
    smu = visa(bench, "smu")
    smu.write(":OUTP ON")
    smu.query("*OPC?")
    assert bench.damage == []  # the potentiostat's cell is off
    pstat = visa(bench, "pstat")
    pstat.write_raw(b"e\nset_pgstat_mode 6\nset_i 1p\ncell_on\nwait 1\n\n")
    assert pstat.read() == "e" and pstat.read() == ""
    assert [d.pad for d in bench.damage] == ["S"]
    assert bench.model.damage and "S" in bench.model.damage[0].reason
    smu.write(":OUTP OFF")
    smu.query("*OPC?")
    pstat.write_raw(b"e\ncell_off\n\n")
    assert pstat.read() == "e" and pstat.read() == ""
    assert len(bench.damage) == 1


def test_station_file_is_complete_and_loads(bench, tmp_path):
    from nanocell_daq.station.loader import load_station

    path = bench.write_station(tmp_path / "station.yaml")
    station = bench.station_dict()
    assert set(station["instruments"]) == {"smu", "pstat", "stage", "spectrometer", "shutter", "matrix"}
    assert station["instruments"]["stage"]["options"]["read_termination"] == "\r"
    assert station["wirings"]["cycling"]["channels"] == ["1A01", "1B04"]
    assert station["wirings"]["conductance:S-C1"]["channels"] == ["1C01", "1D03"]
    assert station["wirings"]["conductance:C1-D"]["channels"] == ["1C03", "1D02"]
    assert station["device"]["nominal_capacity_Ah"] == pytest.approx(bench.model.nominal_capacity_Ah)
    assert station["simulation"]["speed"] == 1000.0
    config = load_station(path)
    assert config is not None


@pytest.mark.parametrize("spec", ["allslots", "slot1", "1A01,allslots", "ALLSLOTS"])
def test_close_refuses_slot_and_allslots_like_the_707b(bench, visa, spec):
    """707B-901-01 p. 7-17: ``channel.close`` with ``slotX``/``allslots`` is an error and closes nothing."""
    mx = visa(bench, "matrix")
    connect(mx, "1C01")
    mx.write(f'channel.close("{spec}")')
    assert mx.query('print(channel.getclose("allslots"))') == "1C01"  # nothing closed, nothing opened
    code, message, *_ = mx.query("print(errorqueue.next())").split("\t")
    assert float(code) == 1115 and "does not accept" in message


def test_exclusiveclose_with_an_empty_list_opens_everything(bench, visa):
    """707B-901-01 p. 7-22: an empty string or spaces opens all channels; accepted when none is closed."""
    mx = visa(bench, "matrix")
    connect(mx, "1A01,1B04,1C02")
    mx.write('channel.exclusiveclose("")')
    assert mx.query('print(channel.getclose("allslots"))') == "nil"
    assert not bench.output_on("matrix")
    mx.write("channel.exclusiveclose('  ')")  # nothing closed now: still no error
    assert float(mx.query("print(errorqueue.count)")) == 0


def test_exclusiveclose_refuses_allslots_and_keeps_what_was_closed(bench, visa):
    mx = visa(bench, "matrix")
    connect(mx, "1C01")
    mx.write('channel.exclusiveclose("allslots")')
    assert mx.query('print(channel.getclose("allslots"))') == "1C01"
    assert float(mx.query("print(errorqueue.count)")) == 1
