"""Helpers of the end-to-end engine tests: run a protocol on a simulated bench, read outputs and data."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nanocell_daq.engine.plan import Plan, expand
from nanocell_daq.engine.protocol import load_protocol, parse_protocol
from nanocell_daq.engine.service import protocol_path, run_plan
from nanocell_daq.engine.stationview import StationView
from nanocell_daq.errors import UserError
from nanocell_daq.storage import Store
from simulated_instruments.bench import SimulatedBench

OUTPUTS = ("smu", "pstat", "shutter", "spectrometer", "matrix")
"""Emulated instruments whose output (SMU output, cell, shutter, laser, crosspoints) must end off."""

FAST = {"iv_pairs": "[S-D]", "iv_points": "11", "map_points": "5", "rest_s": "10"}
"""Overrides that keep the shipped Si protocol short in tests."""


def outputs_on(bench: Any) -> dict[str, bool]:
    return {name: bench.output_on(name) for name in OUTPUTS if bench.output_on(name)}


def station_file(bench: Any, tmp: Path) -> Path:
    return bench.write_station(tmp / "station.yaml")


def plan_for(bench: Any, tmp: Path, protocol: str, overrides: dict[str, str] | None = None) -> Plan:
    view = StationView.from_file(station_file(bench, tmp))
    if "\n" in protocol:
        return expand(parse_protocol(textwrap.dedent(protocol), "test.yaml"), view)
    return expand(load_protocol(protocol_path(protocol), overrides), view)


def run(
    bench: Any, tmp: Path, protocol: str, overrides: dict[str, str] | None = None, **kw: Any
) -> tuple[Store, Any]:
    store = Store.open(tmp / "runs.db")
    plan = plan_for(bench, tmp, protocol, overrides)
    return store, run_plan(plan, store, **kw)


def g0(store: Store, run_id: int, label: str, pair: str = "S-D") -> float:
    """Zero-bias conductance (S) of the I-V step labelled ``label``: slope of I(V) over the three voltages
    nearest 0 V."""
    (step,) = [s for s in store.steps(run_id) if s.kind == "iv" and s.label == label]
    iv = store.iv(run_id, step_id=step.id)
    window = np.sort(np.unique(np.round(np.abs(iv.V), 9)))[1] + 1e-9
    sel = (np.abs(iv.V) <= window) & (np.asarray(iv.pair) == pair)
    return float(np.polyfit(iv.V[sel], iv.I[sel], 1)[0])


def nonlinearity(store: Store, run_id: int, label: str) -> float:
    """dI/dV at the top of the sweep over the zero-bias slope."""
    (step,) = [s for s in store.steps(run_id) if s.kind == "iv" and s.label == label]
    iv = store.iv(run_id, step_id=step.id)
    v, i = np.asarray(iv.V), np.asarray(iv.I)
    top = np.abs(v) >= 0.8 * np.abs(v).max()
    pos = top & (v > 0)
    slope_hi = np.polyfit(v[pos], i[pos], 1)[0]
    return float(slope_hi / g0(store, run_id, label))


def start_cli_run(protocol: Path, station: Path, db: Path | str) -> subprocess.Popen:
    """``nanocell run`` in its own process (as a user or a service manager starts it)."""
    cmd = [sys.executable, "-m", "nanocell_daq", "run", str(protocol), "--station", str(station)]
    cmd += ["--db", str(db)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_points(
    db: Path | str, proc: subprocess.Popen, label: str, n: int = 15, timeout: float = 60.0
) -> int:
    """Wait until the step ``label`` of the first run in ``db`` has ``n`` cycling points; its run id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        run_id = _points_reached(db, label, n)
        if run_id is not None:
            return run_id
        time.sleep(0.1)
    raise AssertionError(f"step {label!r} never got going")


def _points_reached(db: Path | str, label: str, n: int) -> int | None:
    if isinstance(db, Path) and not db.exists():
        return None
    try:
        store = Store.open(db, create=False)
    except UserError:  # the engine is still creating the schema
        return None
    try:
        runs = store.runs()
        if not runs:
            return None
        step = {s.label: s for s in store.steps(runs[0].id)}.get(label)
        if step is not None and len(store.cycling(runs[0].id, step_id=step.id).t) >= n:
            return runs[0].id
        return None
    finally:
        store.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@dataclass
class CliRun:
    """A ``nanocell run`` process on a simulated bench, caught in its step ``label``."""

    bench: Any
    proc: subprocess.Popen
    run_id: int
    db: Path | str
    station: Path


@contextlib.contextmanager
def cli_run_in_step(tmp: Path, protocol: str, label: str, speed: float = 100,
                    db: Path | str | None = None) -> Iterator[CliRun]:
    """Start ``nanocell run`` of ``protocol`` (YAML text) on a Si bench; yield once step ``label`` has
    recorded cycling points. The bench stops at the end (the process is the test's to end). ``db``: a
    database URL (default: ``tmp/runs.db``)."""
    proto = tmp / "p.yaml"
    proto.write_text(protocol)
    db = tmp / "runs.db" if db is None else db
    # the EmStat4 cycles here (the paths these tests aim at); test_run_si/test_run_h2v3o8, the demo and the
    # supervisor's kill test run the shipped station, where the 2636B cycles
    with SimulatedBench(preset="si", speed=speed, seed=0, smu_model="2450", ideal_pstat=True) as bench:
        station = station_file(bench, tmp)
        proc = start_cli_run(proto, station, db)
        try:
            yield CliRun(bench, proc, wait_for_points(db, proc, label), db, station)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)


def child_pids(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux /proc): an engine's supervisor, to kill every host process."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found
