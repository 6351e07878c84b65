"""The MethodSCRIPT potentiostat: device commands, streamed packages in simulated time, cut-offs, abort."""

from __future__ import annotations

import pytest
from conftest import connect

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
    assert currents[-1] == pytest.approx(20e-12, rel=0.1)
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
