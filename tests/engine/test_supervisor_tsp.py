"""What the supervisor reports about the 2636B's galvanostatic TSP script after its engine died, at each
moment of a galvanostatic step's start, made deterministic in-process: the dead engine is a driver whose
link is closed without ``stop()`` at the chosen moment, the supervisor is :func:`supervisor.make_safe`.

Every galvanostatic step first reads the cell at open circuit with a short script of the same name (0 A,
0.1 s, ended by the instrument itself), stops it, then runs the charge script: a kill -9 in the step's
first fraction of a second finds no script running when the supervisor connects. Only a script the
supervisor's connection aborted is reported as aborted; a script that ended by itself is reported as ended.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers import keithley2600
from drivers.keithley707b import Keithley707B
from drivers.keithley2600 import Keithley2600
from nanocell_daq.engine import supervisor
from nanocell_daq.station import parse_station
from simulated_instruments.bench import SimulatedBench

CELL = ["1C01", "1D04"]  # the 2636B's rows on the wire and the counter film: it cycles the cell
SPEED = 50.0
"""Slow enough that a script sourcing 1 pA waits between its checks (at 1000 its thread holds the emulator's
lock nearly all the time and a command that needs the lock, ``abort`` included, may wait for seconds)."""
ABORTED = "smu: aborted a galvanostatic TSP script a previous host left running (read back stopped"


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[tuple[SimulatedBench, Any]]:
    """The shipped station (2636B), the cell path closed; yields (bench, station config)."""
    with SimulatedBench(preset="si", speed=SPEED, seed=0, smu_model="2636b") as bench:
        path = bench.write_station(tmp_path / "station.yaml")
        matrix = Keithley707B(bench.resources["matrix"])
        matrix.close(CELL)
        matrix.adapter.close()
        yield bench, parse_station(path.read_text(), path)


@pytest.fixture
def engine(bench: tuple[SimulatedBench, Any]) -> Iterator[Keithley2600]:
    """The engine's SMU driver; a test "kills" the engine by closing its link without stop()."""
    driver = Keithley2600(bench[0].resources["smu"], timeout=20000, model="2636B")
    yield driver
    with contextlib.suppress(Exception):  # closed already by a test's kill
        driver.adapter.close()


def _kill(engine: Keithley2600) -> None:
    engine.adapter.close()  # nothing is stopped or switched off: the instrument goes on as the engine left it


def _wait_for(done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not done() and time.monotonic() < deadline:
        time.sleep(0.002)
    assert done()


def _wait_until_idle(bench: SimulatedBench) -> None:
    _wait_for(lambda: not bench.emulators["smu"].script_running)


def _supervise(bench: SimulatedBench, config: Any) -> tuple[list[str], str]:
    """What the supervisor does once its engine died: (what it found, its report)."""
    found, problems, station = supervisor.make_safe(config)
    station.close()
    assert problems == [], problems
    emu = bench.emulators["smu"]
    assert not emu.script_running and not bench.output_on("smu") and not bench.output_on("matrix")
    report = supervisor._report(None, None, 4321, "died", found, problems, [], 0.1)
    assert "every output off, matrix open (read back)" in report
    return found, report


def test_a_charge_script_running_at_the_kill_is_aborted_read_back_stopped_and_reported(bench, engine):
    bench_, config = bench
    engine.start_galvanostatic(1e-12, 2.0, 1e6, 1.0, 4.2)  # would run for days
    _wait_for(lambda: bench_.output_on("smu"))
    _kill(engine)
    found, report = _supervise(bench_, config)
    assert found[0].startswith(ABORTED), found
    assert "galvanostat (smu) cell reads back on" in found and "matrix closed on 1C01, 1D04" in found
    assert f"found on: {ABORTED}" in report
    assert not any("ended by itself" in f or "cut short" in f for f in found)


def test_a_kill_during_the_open_circuit_read_reports_the_script_that_ended_by_itself(bench, engine):
    bench_, config = bench
    engine.start_ocp(0.1, 0.1)  # what opens every galvanostatic step: 0 A for 0.1 s, output on
    _kill(engine)
    _wait_until_idle(bench_)  # it ends at its own time limit before the supervisor comes, output off
    found, report = _supervise(bench_, config)
    assert not any("aborted" in f for f in found), found
    assert "found on: smu: no script running" in report
    assert ("smu: no script running: the galvanostatic TSP script a previous host started had ended by "
            "itself (max_time), switching its output off, before this connection") in found
    assert not any("reads back on" in f for f in found)  # the script switched it off: nothing to find on


def test_a_kill_between_the_open_circuit_read_and_the_charge_claims_no_script(bench, engine, monkeypatch):
    """The engine stopped its open-circuit script (an abort), then died inside a long command: the
    supervisor's *IDN? waits, it sends abort; no script of anyone's was running, none is claimed."""
    bench_, config = bench
    monkeypatch.setattr(keithley2600, "IDN_WAIT_MS", 100)  # the busy instrument costs less wall time
    engine.start_ocp(0.1, 1e6)
    time.sleep(0.01)
    engine.stop()  # the engine takes its technique back (abort, output off, read back off)
    engine.write(f"delay({0.4 * SPEED:g})")  # 0.4 s of wall time: longer than the supervisor waits for *IDN?
    # the engine's link is left open: whether its socket is gone makes no difference to the instrument, and
    # closing it could reset the connection before the delay command is read
    found, _ = _supervise(bench_, config)
    assert not any("script" in f for f in found), found
    assert found == ["matrix closed on 1C01, 1D04"]


def test_a_script_the_dead_engine_aborted_is_reported_cut_short_not_aborted(bench, engine):
    bench_, config = bench
    engine.start_galvanostatic(1e-12, 2.0, 1e6, 1.0, 4.2)
    _wait_for(lambda: bench_.output_on("smu"))  # the script is sourcing
    engine.write("abort")  # the engine's stop() had begun: the script ends, the output stays on
    _wait_until_idle(bench_)  # (a socket closed with unread lines is reset: its last bytes may be lost)
    _kill(engine)
    found, _ = _supervise(bench_, config)
    assert not any("aborted a galvanostatic" in f for f in found), found
    assert ("smu: no script running: the galvanostatic TSP script a previous host started was cut short "
            "(aborted or failed) and no host took over after it") in found
    assert "galvanostat (smu) cell reads back on" in found


class _Died(Exception):
    """The engine's process ended here (kill -9): nothing more leaves it."""


class _DiesBeforeWrite:
    """The engine's ``write``, dying (link closed, nothing sent) at its ``n``-th call; ``sent``: what left."""

    def __init__(self, engine: Keithley2600, n: int) -> None:
        self.engine, self.n, self.sent = engine, n, []
        self._write = engine.write

    def __call__(self, command: str, **kwargs: Any) -> None:
        if len(self.sent) + 1 == self.n:
            self.engine.adapter.close()
            raise _Died
        self._write(command, **kwargs)
        self.sent.append(command)


def test_a_kill_between_the_messages_of_a_script_start_leaves_an_smu_the_supervisor_makes_safe(
    bench, monkeypatch
):
    """The engine dies before the n-th message of ``start_galvanostatic`` (output off, the upload, the
    error check, the run, its marker): the supervisor identifies the SMU every time (an upload cut
    between loadscript and endscript would leave it taking every message for a script line), claims an
    aborted script exactly when the run left the engine, and reads the output back off."""
    bench_, config = bench
    monkeypatch.setattr(keithley2600, "IDN_WAIT_MS", 200)  # a script holds the interface at least that long
    for n in (2, 3, 4, 5):
        engine = Keithley2600(bench_.resources["smu"], timeout=20000, model="2636B")
        engine.write = link = _DiesBeforeWrite(engine, n)  # type: ignore[method-assign]
        with pytest.raises(_Died):
            engine.start_galvanostatic(1e-12, 2.0, 1e6, 1.0, 4.2)
        ran = "nc_galv.run()" in link.sent
        if ran:
            _wait_for(lambda: bench_.output_on("smu"))  # the script sources
        found, _ = _supervise(bench_, config)
        assert any(f.startswith(ABORTED) for f in found) == ran, (n, found)
        assert not any("cut short" in f or "ended by itself" in f for f in found), (n, found)
        matrix = Keithley707B(bench_.resources["matrix"])
        matrix.close(CELL)  # the next start on a cell path
        matrix.adapter.close()
