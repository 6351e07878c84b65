"""One engine per station and per run, through the real CLI on a simulated bench: a second ``nanocell run``
on a busy station is refused naming the holder; an engine stopped (SIGSTOP) past the stale threshold is
taken over by ``nanocell resume`` and, woken (SIGCONT), exits without sending the bench a command."""

from __future__ import annotations

import json
import os
import signal
import socket
import time

import pytest

from nanocell_daq.cli import main
from nanocell_daq.storage import Store
from nanocell_daq.storage.leases import STALE_AFTER_S
from simulated_instruments.bench import SimulatedBench
from tests.engine import benchkit

PROTOCOL = """\
protocol: lease test
parameters: {current_A: 1.0e-12}
steps:
  - iv: {label: pristine, pairs: [S-D], points: 5}
  - galvanostatic: {label: charge, current_A: $current_A, capacity_fraction: 0.4, interval_s: 2}
  - rest: {label: rest, time_s: 20}
  - iv: {label: after charge, pairs: [S-D], points: 5}
"""

INSTRUMENTS = ("smu", "pstat", "stage", "shutter", "spectrometer", "matrix")


def _runs_json(db, capsys) -> list[dict]:  # type: ignore[no-untyped-def]
    assert main(["runs", "--db", str(db), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _error_lines(err: str) -> list[str]:
    """stderr without the ``log: PATH`` line every run prints first, the plan's warnings and blank lines."""
    return [line for line in err.splitlines()
            if line.strip() and not line.startswith(("log: ", "warning: "))]


def _commands(bench) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {name: len(bench.log(name)) for name in INSTRUMENTS}


def test_a_second_run_on_a_leased_station_is_refused_naming_the_holder(tmp_path, capsys):
    with benchkit.cli_run_in_step(tmp_path, PROTOCOL, "charge") as cli:
        bench, first = cli.bench, cli.proc
        idn_before = [e.command for e in bench.log("smu")].count("*IDN?")
        second = benchkit.start_cli_run(tmp_path / "p.yaml", cli.station, cli.db)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2, err
        lines = _error_lines(err.decode())
        assert len(lines) == 1, lines
        holder = f"run {cli.run_id} (pid {first.pid} on {socket.gethostname()}, heartbeat "
        assert "station " in lines[0] and f"is in use by {holder}" in lines[0], lines
        assert " s ago)" in lines[0]
        # nothing touched: no run stored, the SMU never asked who it is a second time
        assert [r["id"] for r in _runs_json(cli.db, capsys)] == [cli.run_id]
        assert [e.command for e in bench.log("smu")].count("*IDN?") == idn_before

        _, err = first.communicate(timeout=120)
        assert first.returncode == 0, err.decode()[-2000:]
        assert benchkit.outputs_on(bench) == {}
        assert bench.damage == []
    with Store.open(cli.db, create=False) as store:
        assert store.run(cli.run_id).status == "completed"
        (charge,) = [s for s in store.steps(cli.run_id) if s.label == "charge"]
        assert charge.status == "completed"
        q = store.cycling(cli.run_id, step_id=charge.id).Q
        nominal = store.run(cli.run_id).station["config"]["device"]["nominal_capacity_Ah"]
        assert abs(q[-1]) / 3600 == pytest.approx(0.4 * nominal, rel=0.1)  # a normal, full charge


def test_two_runs_started_one_second_apart_one_is_refused_the_other_completes(tmp_path, capsys):
    proto = tmp_path / "p.yaml"
    proto.write_text(PROTOCOL.replace("capacity_fraction: 0.4", "capacity_fraction: 0.1"))
    db = tmp_path / "runs.db"
    with SimulatedBench(preset="si", speed=200, seed=0, smu_model="2450", ideal_pstat=True) as bench:
        station = benchkit.station_file(bench, tmp_path)
        first = benchkit.start_cli_run(proto, station, db)
        time.sleep(1.0)
        second = benchkit.start_cli_run(proto, station, db)
        outs = [p.communicate(timeout=180) for p in (first, second)]
        codes = sorted((first.returncode, second.returncode))
        assert codes == [0, 2], [o[1].decode()[-1500:] for o in outs]
        refused = outs[[first.returncode, second.returncode].index(2)][1].decode()
        # the winner may still be opening the station (no run yet) or already running run 1
        assert len(_error_lines(refused)) == 1, refused
        holder = ("is in use by run 1 (pid ", "is in use by an engine starting a run (pid ")
        assert any(h in refused for h in holder), refused
        assert benchkit.outputs_on(bench) == {}
        assert bench.damage == []
    (run,) = _runs_json(db, capsys)  # the refused one stored nothing
    assert run["status"] == "completed"


@pytest.mark.slow  # waits out the stale threshold, then a whole resumed run
def test_sigstop_past_the_stale_threshold_resume_takes_over_and_the_woken_engine_touches_nothing(
    tmp_path, capsys
):
    with benchkit.cli_run_in_step(tmp_path, PROTOCOL, "charge") as cli:
        bench, first, db, run_id = cli.bench, cli.proc, cli.db, cli.run_id
        os.kill(first.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            # the heartbeat is fresh: resume refuses, naming the engine
            assert main(["resume", str(run_id), "--db", str(db)]) == 2
            err = capsys.readouterr().err
            assert f"run {run_id} is in use by run {run_id} (pid {first.pid} on " in err, err
            time.sleep(max(0.0, STALE_AFTER_S + 1.0 - (time.monotonic() - stopped)))
            (shown,) = _runs_json(db, capsys)
            assert (shown["status"], shown["engine_pid"]) == ("stale", first.pid)

            code = main(["resume", str(run_id), "--db", str(db)])
            assert code == 0, capsys.readouterr()
            assert f"run {run_id} completed" in capsys.readouterr().out
            with Store.open(db, create=False) as store:
                blocks = len(store.cycling(run_id).t)
                steps = [(s.label, s.status) for s in store.steps(run_id)]
            sent = _commands(bench)
        finally:
            os.kill(first.pid, signal.SIGCONT)
        _, err = first.communicate(timeout=60)
        text = err.decode()
        assert first.returncode == 3, text[-2000:]
        lost = f"was taken over by another engine (free again now) while engine pid {first.pid} was silent"
        assert lost in text
        assert "exited without touching an instrument" in text
        # the woken engine sent no command to any instrument and the bench is still safe
        assert _commands(bench) == sent
        assert benchkit.outputs_on(bench) == {}
        assert bench.damage == []

    with Store.open(db, create=False) as store:
        info = store.run(run_id)
        assert info.status == "completed"  # the resumed engine's end state, not the woken one's
        assert [(s.label, s.status) for s in store.steps(run_id)] == steps
        assert len(store.cycling(run_id).t) == blocks  # nothing written after the take-over
        labels = [s.label for s in store.steps(run_id)]
        # the device's technique ran on while the engine was stopped: resume recovered its samples and
        # continued the charge only if it had not reached its cut-off meanwhile
        assert labels.count("charge") == 1 and labels.count("charge (resumed)") <= 1
        said = [e.message for e in store.events(run_id)]
        assert any(f"engine pid {first.pid} on " in m and "exited without touching" in m for m in said)
    (shown,) = _runs_json(db, capsys)
    assert shown["status"] == "completed" and "engine_pid" not in shown


def test_runs_shows_a_live_engine_running_then_paused_and_a_killed_one_dead_never_running(tmp_path, capsys):
    with benchkit.cli_run_in_step(tmp_path, PROTOCOL, "charge") as cli:
        (shown,) = _runs_json(cli.db, capsys)
        assert (shown["status"], shown["engine_pid"], shown["host"]) == (
            "running",
            cli.proc.pid,
            socket.gethostname(),
        )
        assert main(["control", str(cli.run_id), "pause", "--db", str(cli.db)]) == 0
        capsys.readouterr()
        assert benchkit.wait_until(lambda: _runs_json(cli.db, capsys)[0]["status"] == "paused", timeout=30)
        # every process of the run dies: the supervisor first (it would mark the run interrupted), the engine
        for child in benchkit.child_pids(cli.proc.pid):
            os.kill(child, signal.SIGKILL)
        cli.proc.send_signal(signal.SIGKILL)
        cli.proc.communicate(timeout=10)
        (shown,) = _runs_json(cli.db, capsys)
        assert shown["status"] == "dead" and shown["stored_status"] == "running"
        assert main(["runs", "--db", str(cli.db)]) == 0
        table = capsys.readouterr().out
        assert "dead" in table and "running" not in table
