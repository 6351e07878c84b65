"""The MethodSCRIPT potentiostat: device commands, streamed packages in simulated time, cut-offs, abort."""

from __future__ import annotations

import itertools

import pytest
from conftest import connect

from simulated_instruments import datasheets
from simulated_instruments.methodscript import ScriptError, decode_value, encode_value, parse

CP_SCRIPT = """e
var p
var c
var t
store_var vmax {vmax} ja
set_pgstat_mode 6
set_range ba 100n
set_i 0
cell_on
timer_start
meas_loop_cp p c {current} {interval} {run_time}
  timer_get t
  pck_start
  pck_add t
  pck_add p
  pck_add c
  pck_end
  if p > vmax
    breakloop
  endif
endloop
on_finished:
  cell_off

"""


def _read_script(pstat) -> list[str]:
    lines = []
    while True:
        line = pstat.read()
        lines.append(line)
        if line == "":
            return lines


def _packages(lines: list[str]) -> list[list[float]]:
    return [[decode_value(v) for v in line[1:].split(";")] for line in lines if line.startswith("P")]


@pytest.mark.parametrize("value", [0.1, -0.5, 3.7123, 2e-11, -1.5e-12, 0.0, 12345.0])
def test_package_values_round_trip(value):
    assert decode_value(encode_value("ab", value)) == pytest.approx(value, rel=1e-6, abs=1e-18)


def test_readme_example_decodes():
    assert decode_value("da84E63DAn") == pytest.approx(5.137e-3, rel=1e-3)
    assert decode_value("ba82AB973f,14,284") == pytest.approx(2.8e-9, rel=1e-2)


def test_parse_errors_name_the_line():
    with pytest.raises(ScriptError) as err:
        parse(["var p", "meas_loop_ocp p 1 10", "pck_start"])
    assert err.value.line == 2 and err.value.wire().startswith("!4004")


def test_device_commands(bench, visa):
    pstat = visa(bench, "pstat")
    pstat.write("t")
    assert pstat.read().startswith("tes4_hr")  # the bench emulates an EmStat4 HR (+-6 V): a 2.5-4 V full cell
    assert pstat.read().endswith("*")
    assert pstat.query("Z") == "Z!0006"
    assert pstat.query("frobnicate") == "f!0001"


def test_cp_with_cutoff_charges_and_stops(bench, visa):
    connect(visa(bench, "matrix"), "1A01,1B04")
    pstat = visa(bench, "pstat")
    pstat.write_raw(CP_SCRIPT.format(vmax=3.9, current="20p", interval=1, run_time=100000).encode())
    lines = _read_script(pstat)
    assert lines[:2] == ["e", "M0000"] and lines[-2:] == ["*", ""]
    pk = _packages(lines)
    times, potentials, currents = ([row[i] for row in pk] for i in range(3))
    assert len(pk) > 10
    assert potentials[-1] > 3.9 and all(p <= 3.9 for p in potentials[:-1])  # stopped at the cut-off
    assert potentials[-1] > potentials[len(pk) // 4]  # E rises under positive current
    # read on the HR's 100 nA range: 20 pA plus that range's offset (within +-100 pA, half the datasheet's)
    offset = datasheets.range_offset("es4_hr", "measure", "current", 100e-9, bench.emulators["pstat"].seed)
    assert 1e-12 < abs(offset) <= 100e-12
    assert currents[-1] == pytest.approx(20e-12 + offset, abs=1e-12)
    assert times[-1] < 100000
    assert not bench.output_on("pstat")  # on_finished: cell_off


def test_cp_without_the_cycling_path_rails_and_leaves_the_cell_alone(bench, visa):
    pstat = visa(bench, "pstat")
    v0 = bench.model.cell_voltage(bench.clock.now())
    pstat.write_raw(CP_SCRIPT.format(vmax=3.9, current="20p", interval=1, run_time=100).encode())
    pk = _packages(_read_script(pstat))
    assert len(pk) == 1 and pk[0][1] == pytest.approx(10.0)  # compliance voltage, overload
    assert bench.model.cell_voltage(bench.clock.now()) == pytest.approx(v0, abs=0.05)


def test_z_aborts_a_running_script_and_turns_the_cell_off(bench, visa):
    connect(visa(bench, "matrix"), "1A01,1B04")
    pstat = visa(bench, "pstat")
    pstat.write_raw(CP_SCRIPT.format(vmax=5.0, current="1p", interval=10, run_time=1e7).encode())
    assert pstat.read() == "e" and pstat.read() == "M0000"
    pstat.read()  # first package
    assert bench.output_on("pstat")
    pstat.write("Z")
    rest = _read_script(pstat)
    assert "Z" in rest and rest[-1] == ""
    assert not bench.output_on("pstat")
    assert pstat.query("Z") == "Z!0006"


def test_ocp_ca_and_cv(bench, visa):
    connect(visa(bench, "matrix"), "1A01,1B04")
    pstat = visa(bench, "pstat")
    ocp = "e\nvar p\ncell_off\nmeas_loop_ocp p 1 5\npck_start\npck_add p\npck_end\nendloop\n\n"
    pstat.write_raw(ocp.encode())
    pk = _packages(_read_script(pstat))
    assert len(pk) == 5 and all(0.5 < row[0] < 4.5 for row in pk)
    cv = ("e\nvar p\nvar c\nset_pgstat_mode 2\nset_e 1.5\ncell_on\n"
          "meas_loop_cv p c 1.5 1.6 1.4 10m 100m nscans(2)\n"
          "pck_start\npck_add p\npck_add c\npck_end\nendloop\n"
          "on_finished:\ncell_off\n\n")
    pstat.write_raw(cv.encode())
    pk = _packages(_read_script(pstat))
    potentials = [row[0] for row in pk]
    assert max(potentials) == pytest.approx(1.6) and min(potentials) == pytest.approx(1.4)
    assert len(pk) == 2 * 41


def test_script_errors_are_reported_not_fatal(bench, visa):
    pstat = visa(bench, "pstat")
    pstat.write_raw(b"e\nvar p\nfly_to_moon p\n\n")
    assert pstat.read() == "e"
    assert pstat.read().startswith("!4001: Line 2")
    assert pstat.read() == ""
    pstat.write("t")
    assert pstat.read().startswith("tes4")
    pstat.read()


BREAK_SCRIPT = """e
var p
var c
var t
var n
var b
var pl
var dp
var tn
store_var vmax {vmax} ab
store_var n 0i ja
store_var tn 0 eb
store_var pl 0 ab
set_pgstat_mode 6
set_i 0
cell_on
timer_start
meas_loop_cp p c {current} {interval} 1000
  timer_get t
  copy_var p dp
  sub_var dp pl
  store_var b 0i ja
  if p > vmax
    store_var b 1i ja
  endif
  if b > 0i
    add_var n 1i
    pck_start
    pck_add t
    pck_add p
    pck_add n
    pck_end
  elseif t >= tn
    add_var n 1i
    pck_start
    pck_add t
    pck_add p
    pck_add n
    pck_end
    add_var tn {record}
  elseif dp > {dE}
    add_var n 1i
    pck_start
    pck_add t
    pck_add p
    pck_add n
    pck_end
    copy_var p pl
  endif
  if b > 0i
    breakloop
  endif
endloop
on_finished:
  cell_off

"""


def test_breaks_act_at_the_device_sample_that_crosses_and_cell_off_follows_at_once(fake_bench, visa):
    """The fake cell rises ~0.9 V/s at 1 pA: checked every 2 ms on the device, the loop leaves at the first
    sample above 3.5 V; the numbered packages come every 0.2 s, plus the breaking one. The cell is off from
    that sample's time on, however late the interpreter thread runs at speed 1000."""
    connect(visa(fake_bench, "matrix"), "1A01,1B04")
    pstat = visa(fake_bench, "pstat")
    script = BREAK_SCRIPT.format(vmax="3500m", current="1p", interval="2m", record="200m", dE="10")
    pstat.write_raw(script.encode())
    pk = _packages(_read_script(pstat))
    times, potentials, numbers = ([row[i] for row in pk] for i in range(3))
    assert numbers == list(range(1, len(pk) + 1))
    assert 3.5 < potentials[-1] < 3.5 + 0.005  # one 2 ms device sample beyond, not one 0.2 s package
    assert all(p <= 3.5 for p in potentials[:-1])
    assert times[-2] - times[-3] == pytest.approx(0.2, abs=0.003)
    drives = fake_bench.model.drives
    start = next(d for d in drives if d[1:3] == ("current", 1e-12))
    (t_end, mode, value, _), (t_off, off, _, _) = drives[-2:]
    assert (mode, value, off) == ("current", 0.0, "open")
    assert t_off == t_end  # cell_off acts at the breaking sample, not when the thread got there
    k = (t_end - start[0]) / 0.002
    assert k == pytest.approx(round(k), abs=1e-6)  # a nominal device sample time
    assert t_end - start[0] == pytest.approx(times[-1], abs=0.02)


def test_a_package_whenever_the_potential_moved_by_de(fake_bench, visa):
    connect(visa(fake_bench, "matrix"), "1A01,1B04")
    pstat = visa(fake_bench, "pstat")
    script = BREAK_SCRIPT.format(vmax="3300m", current="1p", interval="2m", record="100", dE="20m")
    pstat.write_raw(script.encode())
    pk = _packages(_read_script(pstat))
    steps = [b[1] - a[1] for a, b in itertools.pairwise(pk[1:])]
    assert len(pk) >= 12  # 0.3 V in 20 mV steps, though the 100 s record period never came round
    assert all(0.02 < s < 0.03 for s in steps[:-1])


def test_the_hr_selects_only_ranges_it_has_and_refuses_one_beyond_its_largest(bench, visa):
    """``set_range ba 1n`` (an LR range) on the HR selects its smallest, 100 nA: the argument is the largest
    expected current (MethodSCRIPT's ``set_range ba 50u`` example). Beyond 100 mA there is no range: !4002."""
    pstat = visa(bench, "pstat")
    dev = bench.emulators["pstat"]
    pstat.write_raw(b"e\nvar c\nset_range ba 1n\nset_autoranging ba 1n 10u\n\n")
    assert _read_script(pstat) == ["e", ""]
    assert dev.current_range == 100e-9 and dev.autorange == (100e-9, 10e-6)
    assert dev.range_in_use(20e-12) == 100e-9 and dev.range_in_use(3e-6) == 10e-6
    pstat.write_raw(b"e\nvar c\nset_range ba 1\n\n")
    assert _read_script(pstat) == ["e", "!4002: Line 2, Col 1", ""]
    assert "current range 1 A beyond the largest 0.1 A of the EmStat4 HR" in bench.errors("pstat")[-1]
    # each range reads with its own fixed offset, the same for the same seed
    on_100n, on_10u = (datasheets.range_offset("es4_hr", "measure", "current", r, dev.seed)
                       for r in (100e-9, 10e-6))
    assert on_100n != on_10u and abs(on_10u) <= 0.5 * 0.002 * 10e-6
    assert datasheets.range_offset("es4_hr", "measure", "current", 100e-9, dev.seed) == on_100n
