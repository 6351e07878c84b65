"""``nanocell sim serve``: run the simulated bench (cell model + instrument emulators) until interrupted."""

from __future__ import annotations

import math
import signal
import threading
from pathlib import Path
from types import FrameType

import typer

from nanocell_daq.cli.output_paths import check_output_folder, writing
from nanocell_daq.errors import UserError

sim_app = typer.Typer(help="Simulation mode: instrument emulators driven by a model of the cell.",
                      no_args_is_help=True)


@sim_app.command("serve")
def serve(
    preset: str = typer.Option("si", "--preset", help="Cell card: si, h2v3o8 or a path to a YAML card."),
    speed: float = typer.Option(1000.0, "--speed", help="Simulated seconds per wall second."),
    seed: int = typer.Option(0, "--seed", help="Seed of the model's noise and heterogeneity."),
    station_out: Path | None = typer.Option(None, "--station-out", help="Write the station YAML here."),
    smu: str = typer.Option("2450", "--smu", help="SMU model served as 'smu': 2450 (SCPI) or 2636b (TSP)."),
) -> None:
    """Start the simulated bench on loopback sockets, print the resources, run until Ctrl-C/SIGTERM."""
    from rich.console import Console
    from rich.table import Table

    from simulated_instruments.bench import SMU_MODELS, SimulatedBench

    if not (math.isfinite(speed) and speed > 0):
        raise UserError(f"--speed: must be > 0 simulated s per wall s, got {speed}")
    if station_out is not None:
        check_output_folder(station_out, "--station-out")
    if smu.lower() not in SMU_MODELS:
        raise UserError(f"--smu: must be one of {', '.join(SMU_MODELS)}, got {smu!r}")
    try:
        bench = SimulatedBench(preset=preset, speed=speed, seed=seed, smu_model=smu)
    except (OSError, ValueError) as exc:  # the card loader's errors are ValueErrors with file and field
        raise UserError(f"--preset {preset}: {exc}") from exc
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    console = Console()
    try:
        bench.start()
        if station_out is not None:
            with writing(station_out, "--station-out"):
                bench.write_station(station_out)
        table = Table(title=f"simulated bench ({preset}, speed {speed:g}x, seed {seed})")
        for column in ("instrument", "driver", "resource"):
            table.add_column(column)
        for name, resource in bench.resources.items():
            table.add_row(name, bench.drivers[name], resource)
        console.print(table)
        if station_out is not None:
            console.print(f"station file: {station_out}")
        console.print("running; Ctrl-C to stop", highlight=False)
        while not stop.wait(0.2):
            pass
    finally:
        bench.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print("simulated bench stopped")


def register(app: typer.Typer) -> None:
    """Add ``nanocell sim ...`` to the root app."""
    app.add_typer(sim_app, name="sim")
