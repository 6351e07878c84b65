"""``nanocell bench timings``: the speed figures the tests used to assert, as a benchmark.

Each figure is printed with its ratio to an in-run baseline (a fixed NumPy workload timed in the same process
just before), so figures from a loaded CI machine and a free workstation compare, and with the target the
tests once held it to. The last line is one JSON object.

- ``map_fit_ms_per_pixel``: Raman map fit (c-Si + a-Si, spikes removed) of 40 synthetic pixels; target 50.
- ``sim_spectrum_ms``: one simulated Raman spectrum from the cell model; target 2.
- ``emulator_reply_ms``: ``*IDN?`` round trip to the simulated matrix after a delay fault was cleared;
  target 200.
- ``e2e_si_cycle_s`` (``--e2e``): the shipped Si protocol, one cycle, on the simulated bench; target 120.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import typer

from nanocell_daq.cli.bench_commands import bench_app

TARGETS = {
    "map_fit_ms_per_pixel": 50.0,
    "sim_spectrum_ms": 2.0,
    "emulator_reply_ms": 200.0,
    "e2e_si_cycle_s": 120.0,
}


def _median_s(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def baseline_ms() -> float:
    """A fixed NumPy workload (a 100x100 solve and a 4096-point FFT, 10 times), median of 7, in ms."""
    rng = np.random.default_rng(0)
    a, b, x = rng.random((100, 100)) + 100 * np.eye(100), rng.random(100), rng.random(4096)

    def work() -> None:
        for _ in range(10):
            np.linalg.solve(a, b)
            np.fft.rfft(x)

    work()
    return _median_s(work, 7) * 1e3


def map_fit_ms_per_pixel(n: int = 40) -> float:
    from nanocell_daq.analysis.raman import si_model
    from nanocell_daq.analysis.raman_map import fit_map

    rng = np.random.default_rng(7)
    axis = np.linspace(100.0, 1800.0, 1024)
    spectra = []
    for k in range(n):
        c_area = 15000.0 if k < n // 2 else 1000.0
        clean = si_model(axis, np.array([c_area, 519.0, 4.5, 10000.0, 476.0, 70.0, 300.0, 0.05]))
        spectra.append(rng.poisson(np.clip(clean, 0, None)).astype(np.float32))
    positions = np.array([(100.0 + 10.0 * k / (n - 1), 200.0) for k in range(n)])
    data = np.array(spectra)
    return _median_s(lambda: fit_map(axis, data, positions), 3) / n * 1e3


def sim_spectrum_ms(n: int = 200) -> float:
    from simulated_instruments.cell import CellModel

    model = CellModel("si", seed=0)
    model.raman_spectrum(0.0, 101.0, 200.0, 0.0, 1.0, 1, 0.1)

    def work() -> None:
        for k in range(n):
            model.raman_spectrum(0.0, 101.0 + 0.04 * k, 200.0, 0.0, 1.0, 1, 0.1)

    return _median_s(work, 3) / n * 1e3


def emulator_reply_ms(n: int = 50) -> float:
    import pyvisa

    from simulated_instruments.bench import SimulatedBench

    with SimulatedBench(preset="si", speed=1000.0, seed=0) as bench:
        rm = pyvisa.ResourceManager("@py")
        mx = rm.open_resource(bench.resources["matrix"], read_termination="\n", write_termination="\n")
        try:
            bench.inject("matrix", "delay", seconds=0.05)
            mx.query("*IDN?")
            bench.clear_faults("matrix")
            return _median_s(lambda: mx.query("*IDN?"), n) * 1e3
        finally:
            mx.close()
            rm.close()


def e2e_si_cycle_s() -> float:
    from nanocell_daq.engine.service import make_plan, run_plan
    from nanocell_daq.storage import Store
    from simulated_instruments.bench import SimulatedBench

    with tempfile.TemporaryDirectory(prefix="nanocell-bench-") as tmp:
        t0 = time.perf_counter()
        store = Store.open(Path(tmp) / "demo.db")
        try:
            with SimulatedBench(preset="si", speed=20000.0, seed=0) as bench:
                station = bench.write_station(Path(tmp) / "station.yaml")
                plan = make_plan("si_seed", station, {"cycles": "1", "map_points": "8", "rest_s": "10"})
                result = run_plan(plan, store)
        finally:
            store.close()
        if result.status != "completed":
            raise RuntimeError(f"the Si run ended {result.status}: {result.reason}")
        return time.perf_counter() - t0


def timings(e2e: bool = False) -> dict[str, Any]:
    """Every figure, its ratio to the baseline and its target."""
    base = baseline_ms()
    figures: dict[str, Any] = {"baseline_ms": float(f"{base:.4g}")}
    measures: dict[str, Callable[[], float]] = {
        "map_fit_ms_per_pixel": map_fit_ms_per_pixel,
        "sim_spectrum_ms": sim_spectrum_ms,
        "emulator_reply_ms": emulator_reply_ms,
    }
    if e2e:
        measures["e2e_si_cycle_s"] = e2e_si_cycle_s
    for name, measure in measures.items():
        value = measure()
        in_ms = value * 1e3 if name.endswith("_s") else value
        figures[name] = float(f"{value:.4g}")
        figures[f"{name}_ratio"] = float(f"{in_ms / base:.3g}")
        figures[f"{name}_target"] = TARGETS[name]
        figures[f"{name}_within_target"] = value <= TARGETS[name]
    return figures


@bench_app.command("timings")
def bench_timings(
    e2e: bool = typer.Option(False, "--e2e", help="Also time the shipped Si protocol (one cycle, ~30 s)."),
) -> None:
    """Map fit per pixel, simulated spectrum, emulator reply (and --e2e: one Si cycle) against an in-run
    baseline; JSON last line."""
    figures = timings(e2e)
    for k, v in figures.items():
        typer.echo(f"{k}: {v}", err=True)
    typer.echo(json.dumps(figures))
    sys.stdout.flush()
