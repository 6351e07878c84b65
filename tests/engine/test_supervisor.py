"""The station after ``kill -9`` of ``nanocell run``, and the honest end state, through the real CLI against
``nanocell sim serve``: the supervisor makes the bench safe within 5 s and marks the run interrupted; a
persistent SMU error ends the run non-zero, names the unverified output and never opens the matrix under it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from nanocell_daq.engine.supervisor import SAFE_WITHIN_S
from nanocell_daq.storage import Store
from nanocell_daq.viewmodels.run_control import nanocell_command
from nanocell_daq.viewmodels.sim_server import SimServer
from procedures.electrochem import TECHNIQUE_STARTED
from simulated_instruments.control import request
from tests.engine import benchkit

IV = """\
protocol: long I-V
steps:
  - iv: {label: long, pairs: [S-D], v_max_V: 0.5, points: 201, compliance_A: 1.0e-6, settle_s: 0.5}
"""

MAP = """\
protocol: long map
steps:
  - raman_map: {label: long, mode: line, along_wire: true, nx: 50, exposure_s: 30.0, laser_power_mW: 0.1}
"""

CHARGE = """\
protocol: long charge
steps:
  - galvanostatic: {label: charge, current_A: 2.0e-11, v_min_V: 2.5, v_max_V: 3.95, capacity_fraction: 1.4,
                    interval_s: 2}
"""


def _serve(folder: Path, smu: str | None = None, speed: float = 20) -> Iterator[SimServer]:
    server = SimServer(preset="si", speed=speed, seed=0, folder=folder, smu=smu)
    server.folder.mkdir()
    server.start()
    try:
        server.wait(60)
        yield server
    finally:
        server.stop()


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimServer]:
    """``nanocell sim serve`` in its own process (stopped at the end): the shipped station (2636B cycles)."""
    yield from _serve(tmp_path / "sim")


@pytest.fixture
def sim_slow(tmp_path: Path) -> Iterator[SimServer]:
    """The shipped station at speed 5: a 20 pA charge of the pristine cell reaches 3.95 V after ~10 s of wall
    time, so its script still runs when the supervisor of a killed engine (slow to start on a loaded machine)
    connects."""
    yield from _serve(tmp_path / "sim", speed=5)


@pytest.fixture
def sim_2450(tmp_path: Path) -> Iterator[SimServer]:
    """``nanocell sim serve --smu 2450``: the EmStat4 cycles. Its station entry loses ``model: es4_hr`` so
    planning does not refuse 20 pA (an HR cannot deliver it; here only the safe end after kill -9 is tested,
    whatever the EmStat reads)."""
    for server in _serve(tmp_path / "sim", smu="2450"):
        station = Path(server.station_path)
        data = yaml.safe_load(station.read_text())
        data["instruments"]["pstat"]["options"].pop("model", None)
        station.write_text(yaml.safe_dump(data, sort_keys=False))
        yield server


def _address(station: Path) -> str:
    return yaml.safe_load(station.read_text())["simulation"]["control"]


def bench_state(station: Path) -> dict[str, Any]:
    """The bench's state through the control endpoint (cheap enough to poll)."""
    return request(_address(station), {"op": "state"})["state"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*nanocell_command(), *args], check=False, capture_output=True, text=True,
                          timeout=60)


def cli_state(station: Path) -> dict[str, Any]:
    """``nanocell sim state --station FILE --json``: what a user would type."""
    done = cli("sim", "state", "--station", str(station), "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def wait_for(station: Path, proc: subprocess.Popen, ready: Callable[[dict[str, Any]], bool]) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        state = bench_state(station)
        if ready(state):
            return state
        time.sleep(0.1)
    raise AssertionError(f"the bench never reached the awaited state: {bench_state(station)}")


def _safe(state: dict[str, Any]) -> bool:
    return (not state["outputs_on"] and not state["matrix_closed"] and not state["pstat_running"]
            and not state["smu_script_running"])


def kill_and_watch(station: Path, proc: subprocess.Popen) -> tuple[float, dict[str, Any]]:
    """kill -9 the engine; poll the bench until it is safe (or SAFE_WITHIN_S passed): (seconds, state)."""
    os.kill(proc.pid, signal.SIGKILL)
    killed = time.monotonic()
    state = bench_state(station)
    while not _safe(state) and time.monotonic() - killed < SAFE_WITHIN_S:
        time.sleep(0.05)
        state = bench_state(station)
    return time.monotonic() - killed, state


def wait_for_event(db: Path, proc: subprocess.Popen, prefix: str) -> None:
    """Until the run's log has an event starting with ``prefix`` (the engine commits events in batches)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        store = Store.open(db, create=False)
        try:
            runs = store.runs()
            if runs and any(e.message.startswith(prefix) for e in store.events(runs[0].id)):
                return
        finally:
            store.close()
        time.sleep(0.05)
    raise AssertionError(f"no event {prefix!r} in the run's log")


def supervisor_event(db: Path) -> tuple[Any, str]:
    """(the run, the supervisor's event) once the supervisor has marked the run."""
    deadline = time.monotonic() + 30
    while True:
        store = Store.open(db, create=False)
        try:
            run = store.run(store.runs()[0].id)
            said = [e.message for e in store.events(run.id) if e.message.startswith("supervisor: ")]
        finally:
            store.close()
        if run.status != "running" or time.monotonic() > deadline:
            assert said, f"no supervisor event; run {run.status}"
            return run, said[-1]
        time.sleep(0.1)


def _start(tmp_path: Path, sim: SimServer, protocol: str) -> tuple[Path, Path, subprocess.Popen]:
    proto = tmp_path / "protocol.yaml"
    proto.write_text(protocol)
    db = tmp_path / "runs.db"
    station = Path(sim.station_path)
    return station, db, benchkit.start_cli_run(proto, station, db)


def _finish(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=30)


def test_kill_9_during_an_iv_leaves_the_smu_off_and_the_matrix_open(tmp_path, sim):
    station, db, proc = _start(tmp_path, sim, IV)
    try:
        before = wait_for(station, proc, lambda s: "smu" in s["outputs_on"] and s["matrix_closed"])
        assert before["matrix_closed"] == ["1C01", "1D02"]
        took, state = kill_and_watch(station, proc)
    finally:
        _finish(proc)
    assert _safe(state), f"after {took:.1f} s: {state}"
    state = cli_state(station)
    assert (state["outputs_on"], state["matrix_closed"], state["damage_events"]) == ([], [], 0)
    assert state["switched_under_bias"] == 0  # the matrix opened only after the SMU read back off
    run, said = supervisor_event(db)
    assert run.status == "interrupted"
    assert "killed" in run.reason and "every output off, matrix open" in run.reason
    # the 2636B fills source_meter and galvanostat: its output reads on under both names
    assert "found on: source_meter (smu) output reads back on;" in said
    assert "matrix closed on 1C01, 1D02" in said
    assert "every output off, matrix open (read back)" in said


def test_kill_9_during_a_map_turns_the_laser_off_and_closes_the_shutter(tmp_path, sim):
    station, db, proc = _start(tmp_path, sim, MAP)
    try:
        wait_for(station, proc, lambda s: {"spectrometer", "shutter"} <= set(s["outputs_on"]))
        took, state = kill_and_watch(station, proc)
    finally:
        _finish(proc)
    assert _safe(state), f"after {took:.1f} s: {state}"
    assert cli_state(station)["outputs_on"] == []
    run, said = supervisor_event(db)
    assert run.status == "interrupted"
    assert "laser (spectrometer) emission reads back on" in said and "shutter open reads back on" in said


def test_kill_9_during_a_2636b_galvanostatic_step_aborts_the_script_and_reads_the_output_off(
    tmp_path, sim_slow
):
    station, db, proc = _start(tmp_path, sim_slow, CHARGE)
    try:
        wait_for(station, proc, lambda s: s["smu_script_running"] and "smu" in s["outputs_on"])
        # that may be the step's 0.1 s open-circuit read (a script of the same name, ended by the instrument
        # itself): killed there, no script runs when the supervisor comes, and it says so instead
        # (tests/engine/test_supervisor_tsp.py). The charge script runs once its start is logged.
        wait_for_event(db, proc, TECHNIQUE_STARTED)
        took, state = kill_and_watch(station, proc)
    finally:
        _finish(proc)
    assert _safe(state), f"after {took:.1f} s: {state}"
    state = cli_state(station)
    assert (state["outputs_on"], state["matrix_closed"], state["smu_script_running"]) == ([], [], False)
    assert state["switched_under_bias"] == 0  # the matrix opened only once the SMU read back off
    run, said = supervisor_event(db)
    assert run.status == "interrupted"
    assert "every output off, matrix open" in run.reason
    assert "found on: smu: aborted a galvanostatic TSP script a previous host left running" in said, said
    assert "galvanostat (smu) cell reads back on" in said and "matrix closed on 1C01, 1D04" in said
    assert "every output off, matrix open (read back)" in said


def test_kill_9_during_an_emstat_galvanostatic_step_aborts_the_technique_and_turns_the_cell_off(
    tmp_path, sim_2450
):
    sim = sim_2450
    station, db, proc = _start(tmp_path, sim, CHARGE)
    try:
        wait_for(station, proc, lambda s: s["pstat_running"] and "pstat" in s["outputs_on"])
        took, state = kill_and_watch(station, proc)
    finally:
        _finish(proc)
    assert _safe(state), f"after {took:.1f} s: {state}"
    state = cli_state(station)
    assert (state["outputs_on"], state["matrix_closed"], state["pstat_running"]) == ([], [], False)
    run, said = supervisor_event(db)
    assert run.status == "interrupted"
    assert "found on: pstat: aborted a MethodSCRIPT technique left running" in said
    assert "matrix closed on 1A01, 1B04" in said


def test_a_persistent_smu_error_mid_iv_ends_non_zero_naming_the_smu_and_keeps_the_matrix_closed(
    tmp_path, sim
):
    station = Path(sim.station_path)
    data = yaml.safe_load(station.read_text())
    data["instruments"]["smu"]["options"]["timeout_ms"] = 1000  # a dead SMU answers nothing: fail fast
    short = tmp_path / "station-short-timeout.yaml"
    short.write_text(yaml.safe_dump(data, sort_keys=False))
    proto = tmp_path / "protocol.yaml"
    proto.write_text(IV)
    db = tmp_path / "runs.db"
    proc = benchkit.start_cli_run(proto, short, db)
    try:
        wait_for(short, proc, lambda s: "smu" in s["outputs_on"] and s["matrix_closed"])
        injected = cli("sim", "fault", "smu", "error_next", "--persistent", "--station", str(short))
        assert injected.returncode == 0, injected.stderr
        out = proc.communicate(timeout=120)[0].decode()
    finally:
        _finish(proc)
    assert proc.returncode not in (0, None), out
    assert "source_meter (smu) output could not be read back" in out
    assert "left closed on 1C01, 1D02" in out and "every output off, matrix open" not in out
    state = cli_state(short)
    assert state["matrix_closed"] == ["1C01", "1D02"]  # not opened while the SMU may be on
    assert state["switched_under_bias"] == 0 and state["damage_events"] == 0
    store = Store.open(db, create=False)
    try:
        run = store.run(store.runs()[0].id)
        said = [e.message for e in store.events(run.id)]
    finally:
        store.close()
    assert run.status == "failed" and "source_meter (smu) output could not be read back" in run.reason
    assert not any("every output off, matrix open" in m for m in said)
    assert not any(m.startswith("supervisor: ") for m in said)  # the engine ended the run itself
    cleared = cli("sim", "fault", "smu", "clear", "--station", str(short))
    assert cleared.returncode == 0, cleared.stderr


@pytest.fixture
def live_bench(tmp_path: Path) -> Iterator[tuple[Any, Any, Store, int]]:
    """A bench with the SMU on across the wire (matrix closed), its station view and a running run."""
    from drivers.keithley707b import Keithley707B
    from drivers.keithley2450 import Keithley2450
    from nanocell_daq.engine.stationview import StationView
    from simulated_instruments.bench import SimulatedBench

    with SimulatedBench(preset="si", speed=1000.0, seed=0, smu_model="2450", ideal_pstat=True) as bench:
        view = StationView.from_file(benchkit.station_file(bench, tmp_path))
        smu, matrix = Keithley2450(bench.resources["smu"]), Keithley707B(bench.resources["matrix"])
        matrix.close(["1C01", "1D02"])
        smu.configure_voltage_source(1e-6)
        smu.set_voltage(0.25)
        smu.enable_output()
        smu.adapter.close()
        matrix.adapter.close()
        store = Store.open(tmp_path / "runs.db")
        run_id = store.create_run("supervised", device_id=store.add_device("chip"))
        try:
            yield bench, view, store, run_id
        finally:
            store.close()


def test_an_exception_escaping_the_engine_hands_the_station_to_the_supervisor(live_bench):
    from nanocell_daq.engine.supervisor import supervised

    bench, view, store, run_id = live_bench
    told = len(bench.log("smu"))
    with pytest.raises(RuntimeError, match="disk on fire"), supervised(store, view) as sup:
        sup.run_created(run_id)
        raise RuntimeError("disk on fire")
    assert sup.proc.wait(30) == 0
    assert benchkit.outputs_on(bench) == {}
    # connecting identified the SMU (and its SCPI command set) and read its output before switching
    # anything; nothing was reset
    said = [entry.command for entry in bench.log("smu")[told:]]
    assert said[:3] == ["*IDN?", "*LANG?", ":OUTP?"] and ":OUTP OFF" in said, said
    assert not any("RST" in c or "reset" in c for c in said)
    info = store.run(run_id)
    assert info.status == "interrupted"
    assert "crashed (RuntimeError: disk on fire)" in info.reason and "every output off" in info.reason
    said = [e.message for e in store.events(run_id)]
    assert any("found on: source_meter (smu) output reads back on" in m for m in said), said


def test_a_clean_exit_leaves_the_station_and_the_run_to_the_engine(live_bench):
    from nanocell_daq.engine.supervisor import supervised

    bench, view, store, run_id = live_bench
    told = len(bench.log("smu"))
    with supervised(store, view) as sup:
        sup.run_created(run_id)
    assert sup.proc.poll() is not None  # gone (ended at once if it was still starting)
    assert len(bench.log("smu")) == told  # the supervisor never talked to an instrument
    assert benchkit.outputs_on(bench) == {"smu": True, "matrix": True}
    assert store.run(run_id).status == "running" and store.events(run_id) == []


def test_an_engine_whose_supervisor_died_refuses_to_run_unsupervised(live_bench):
    from nanocell_daq.engine.supervisor import SupervisorError, supervised

    _, view, store, run_id = live_bench
    with pytest.raises(SupervisorError, match="refusing to run unsupervised"), supervised(store, view) as sup:
        sup.proc.kill()
        sup.proc.wait(10)
        sup.run_created(run_id)


def test_kill_9_during_nanocell_resume_is_caught_too(tmp_path, sim):
    station, db, proc = _start(tmp_path, sim, CHARGE)
    try:
        wait_for(station, proc, lambda s: s["smu_script_running"])
        kill_and_watch(station, proc)
    finally:
        _finish(proc)
    run, _ = supervisor_event(db)
    resume = subprocess.Popen([*nanocell_command(), "resume", str(run.id), "--db", str(db), "--station",
                               str(station)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(station, resume, lambda s: s["smu_script_running"] and "smu" in s["outputs_on"])
        took, state = kill_and_watch(station, resume)
    finally:
        _finish(resume)
    assert _safe(state), f"after {took:.1f} s: {state}"
    store = Store.open(db, create=False)
    try:
        assert store.run(run.id).status == "interrupted"
        said = [e.message for e in store.events(run.id) if e.message.startswith("supervisor: ")]
    finally:
        store.close()
    assert len(said) == 2 and f"engine pid {resume.pid} " in said[1]


def test_an_unreachable_instrument_is_a_plain_error_without_the_supervisor_acting(tmp_path, capsys,
                                                                                 monkeypatch):
    from nanocell_daq.cli import main
    from nanocell_daq.engine import supervisor
    from simulated_instruments.bench import SimulatedBench

    started: list[supervisor.Supervisor] = []
    original = supervisor.start

    def start(*args: Any, **kwargs: Any) -> supervisor.Supervisor:
        started.append(original(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr("nanocell_daq.engine.supervisor.start", start)
    with SimulatedBench(preset="si", speed=1000.0, seed=0) as bench:
        data = yaml.safe_load(benchkit.station_file(bench, tmp_path).read_text())
    station = tmp_path / "gone.yaml"  # the bench has stopped: every resource refuses connections
    station.write_text(yaml.safe_dump(data, sort_keys=False))
    proto = tmp_path / "protocol.yaml"
    proto.write_text(IV)
    assert main(["run", str(proto), "--station", str(station), "--db", str(tmp_path / "runs.db")]) == 2
    assert "station not ready" in capsys.readouterr().err
    (sup,) = started
    # told "clean" and already gone: nothing was switched on, so nothing is to be made safe or recorded
    assert not sup.run_started and sup.proc.poll() is not None
