"""The 2636B emulator runs uploaded TSP scripts in Lua: the galvanostatic script's cut-offs, commands that
arrive while a script runs, ``abort``, Lua errors in the error queue, and a script that outlives its host."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest
import pyvisa

from drivers.keithley2600 import Keithley2600
from simulated_instruments.bench import SimulatedBench

CELL_PATH = {"1C01", "1D04"}  # SMU HI on S, LO on the counter film: the 2636B drives the cell


@pytest.fixture
def bench() -> Iterator[SimulatedBench]:
    with SimulatedBench("si", speed=1000.0, seed=0, smu_model="2636b") as b:
        b.wiring.close(CELL_PATH)
        yield b


@pytest.fixture
def smu(bench: SimulatedBench) -> Iterator[Keithley2600]:
    driver = Keithley2600(bench.resources["smu"], timeout=20000, model="2636B")
    yield driver
    driver.adapter.close()


@pytest.fixture
def raw(bench: SimulatedBench, rm: pyvisa.ResourceManager) -> Iterator[pyvisa.resources.MessageBasedResource]:
    inst = rm.open_resource(bench.resources["smu"], read_termination="\n", write_termination="\n",
                            timeout=5000)
    yield inst
    inst.close()


def _finish(smu: Keithley2600, wall_s: float = 10.0) -> list:
    deadline = time.monotonic() + wall_s
    samples = []
    while smu.running and time.monotonic() < deadline:
        samples += smu.poll()
        time.sleep(0.005)
    assert not smu.running, "the script did not stop by itself"
    return samples + smu.poll()


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"current_A": 2e-11, "v_min": 1.0, "v_max": 3.0}, "v_max"),
    ({"current_A": -2e-11, "v_min": 1.3, "v_max": 4.2}, "v_min"),
    ({"current_A": 2e-11, "v_min": 1.0, "v_max": 4.2, "capacity_C": 2e-10}, "capacity"),
    ({"current_A": 2e-11, "v_min": 1.0, "v_max": 4.2, "window_V": (1.0, 2.5)}, "window_max"),
    ({"current_A": 2e-11, "v_min": 1.0, "v_max": 4.2, "max_time_s": 20.0}, "max_time"),
])
def test_each_cut_off_stops_the_script_with_the_output_off_and_says_why(bench, smu, kwargs, reason):
    args = {"interval_s": 2.0, "max_time_s": 3000.0, **kwargs}
    smu.start_galvanostatic(args.pop("current_A"), args.pop("interval_s"), args.pop("max_time_s"),
                            args.pop("v_min"), args.pop("v_max"), **args)
    samples = _finish(smu)
    assert smu.stop_reason == reason
    assert not bench.output_on("smu") and smu.cell_is_off()
    last = samples[-1]
    if reason == "v_max":
        assert last.potential >= 3.0 > samples[-2].potential
    elif reason == "v_min":
        assert last.potential <= 1.3
    elif reason == "capacity":
        q = sum(s.current * (s.t - p.t) for p, s in zip([samples[0], *samples], samples, strict=False))
        assert q == pytest.approx(2e-10, rel=0.1)
    elif reason == "window_max":
        assert last.potential >= 2.5
    else:
        assert last.t >= 20.0 and all(s.potential < 4.2 for s in samples)
    assert smu.take_gaps() == []


def test_commands_sent_while_a_script_runs_wait_and_run_after_it(bench, raw):
    raw.write("loadscript ticks")
    for line in ("for k = 1, 3 do", "  print(k)", "  delay(5)", "end", "endscript"):
        raw.write(line)
    raw.write("ticks.run()")
    raw.write("smua.source.levelv = 0.25")
    raw.write("print(smua.source.levelv)")
    # the query is answered only after the script's own lines: it waited in the input queue
    assert [raw.read() for _ in range(4)] == ["1.00000e+00", "2.00000e+00", "3.00000e+00", "2.50000e-01"]


def test_abort_ends_a_script_at_once_and_leaves_its_output_as_it_was(bench, raw):
    raw.write("loadscript hold")
    for line in ("smua.source.func = smua.OUTPUT_DCAMPS", "smua.source.leveli = 1e-11",
                 "smua.source.output = smua.OUTPUT_ON", 'print("on")', "delay(1e6)", 'print("never")',
                 "endscript"):
        raw.write(line)
    raw.write("hold.run()")
    assert raw.read() == "on"
    raw.write("print(smua.source.output)")  # waits behind the script
    time.sleep(0.05)
    assert bench.output_on("smu")
    raw.write("abort")
    assert raw.read() == "1.00000e+00"  # the waiting query ran after the abort: the output is still on
    raw.write("smua.source.output = smua.OUTPUT_OFF")
    assert float(raw.query("print(smua.source.output)")) == 0.0
    assert not bench.output_on("smu")


def test_a_lua_syntax_error_is_queued_like_the_firmware_and_no_script_is_stored(bench, raw):
    raw.write("loadscript broken")
    raw.write("x = = 1")
    raw.write("endscript")
    assert float(raw.query("print(errorqueue.count)")) == 1.0
    code, message = raw.query("print(errorqueue.next())").split("\t")[:2]
    assert (float(code), message) == (-285.0, "TSP Syntax error at line 1: unexpected symbol near '='")
    raw.write("broken.run()")
    assert float(raw.query("print(errorqueue.count)")) == 1.0  # nothing to run: a nil value


def test_a_runtime_error_ends_the_script_and_is_queued(bench, raw):
    raw.write("loadscript oops")
    for line in ('print("before")', "local x = nil", "x = x + 1", 'print("after")', "endscript"):
        raw.write(line)
    raw.write("oops.run()")
    assert raw.read() == "before"
    code, message = raw.query("print(errorqueue.next())").split("\t")[:2]
    assert float(code) == -286.0
    assert message == "TSP Runtime error at line 3: attempt to perform arithmetic on local 'x' (a nil value)"


def test_a_script_left_with_no_host_stops_at_its_cut_off_by_itself(bench, rm):
    smu = Keithley2600(bench.resources["smu"], timeout=20000)
    smu.start_galvanostatic(2e-11, 2.0, 30.0, 1.0, 4.2)
    time.sleep(0.005)
    assert bench.output_on("smu")
    smu.adapter.close()  # the host is gone: nobody reads, nobody will send stop
    deadline = time.monotonic() + 10
    while bench.output_on("smu") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not bench.output_on("smu")
    later = rm.open_resource(bench.resources["smu"], read_termination="\n", write_termination="\n",
                             timeout=5000)
    try:
        assert later.query("print(nc_galv_state)") == "ended max_time"
    finally:
        later.close()


def test_connecting_while_a_dead_hosts_script_runs_aborts_it_and_says_so(bench):
    first = Keithley2600(bench.resources["smu"], timeout=20000)
    first.start_galvanostatic(1e-12, 2.0, 1e6, 1.0, 4.2)  # would run for days
    first.adapter.close()
    time.sleep(0.01)
    later = Keithley2600(bench.resources["smu"], timeout=20000)
    try:
        assert "Model 2636B" in later.id  # *IDN? waited behind the script: the driver aborted it
        assert "aborted a galvanostatic TSP script" in later.orphan_aborted
        assert bench.output_on("smu")  # an abort leaves the output as it was ...
        assert not later.cell_is_off()
        later.stop()  # ... until the caller switches it off and reads it back
        assert later.cell_is_off() and not bench.output_on("smu")
    finally:
        later.adapter.close()


def test_a_garbled_sample_line_is_reported_as_a_gap_never_as_data(bench, smu):
    # the script's prints follow the run's marker line on the link: aim one garble at them
    bench.inject("smu", "garble", match="NCGS_IDLE", count=1)
    smu.start_galvanostatic(2e-11, 2.0, 20.0, 1.0, 4.2)
    samples = _finish(smu)
    assert smu.stop_reason == "max_time"
    (gap,) = smu.take_gaps()
    times = [s.t for s in samples]
    assert gap.count == 1 and gap.t_end in times  # one line lost, between two samples that came
    assert gap.t_start is None or times.index(gap.t_end) == times.index(gap.t_start) + 1
    assert all(math.isfinite(s.potential) for s in samples)


def test_commands_and_scripts_share_the_runtime_environments_globals(bench, raw):
    """2600BS-901-01 Rev. B p. 6-13: "A global variable is accessible by all commands"."""
    raw.write('nc_state = "stopped"')
    assert raw.query("print(nc_state)") == "stopped"
    raw.write("loadscript bump")
    for line in ('print(nc_state)', 'nc_state = "ended by the script"', "endscript"):
        raw.write(line)
    raw.write("bump.run()")
    assert raw.read() == "stopped"
    assert raw.query("print(nc_state)") == "ended by the script"
    raw.write("smua = 5")  # a top-level command name stays refused (the firmware would hide smua.*)
    assert float(raw.query("print(errorqueue.count)")) == 1.0
    assert float(raw.query("print(smua.source.output)")) == 0.0


def test_an_abort_with_no_script_running_does_not_break_the_next_upload(bench):
    """The driver sends ``abort`` on connect; with nothing running it must not end later uploads (the Lua
    count hook fires every 1000 instructions, during an upload too)."""
    host = bench.emulators["smu"].scripts
    host.abort()
    for k in range(3000):
        host.load(f"s{k}", ["x = 1"])
    assert "s2999" in host.scripts
