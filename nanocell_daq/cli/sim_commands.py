"""``nanocell sim serve``: run the simulated bench (cell model + instrument emulators) until interrupted."""

from __future__ import annotations

import json
import math
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

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
    smu: str = typer.Option("2636b", "--smu", help="SMU model served as 'smu': 2636b (TSP; it cycles the "
                            "cell) or 2450 (SCPI; the EmStat4 cycles)."),
    fresh_per_run: bool = typer.Option(
        False, "--fresh-per-run", help="Each run starts on a pristine cell: the cell is reset when an "
        "instrument connection opens while none to the bench is open (a run opens its instruments at its "
        "start and closes them at its end). Not while an output is on. A `resume` also starts afresh: "
        "not for runs you mean to resume."),
) -> None:
    """Start the simulated bench on loopback sockets, print the resources, run until Ctrl-C/SIGTERM.

    The cell keeps its state from run to run (run 2's "pristine" is run 1's end) unless --fresh-per-run
    is given or `nanocell sim reset --station FILE` is called between runs."""
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
        bench = SimulatedBench(preset=preset, speed=speed, seed=seed, smu_model=smu,
                               fresh_per_run=fresh_per_run)
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
            console.print(f"control: {bench.control.address} (`nanocell sim state --station {station_out}`, "
                          f"`nanocell sim fault ...`)", highlight=False, markup=False)
        if fresh_per_run:
            console.print("fresh cell per run: the cell is reset when a new session of instrument "
                          "connections starts", highlight=False)
            bench.on_cell_reset = lambda why, cell: console.print(
                f"cell reset ({why}): {_cell_line(cell)}", highlight=False, markup=False, soft_wrap=True)
        console.print("running; Ctrl-C to stop", highlight=False)
        while not stop.wait(0.2):
            pass
    finally:
        bench.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print("simulated bench stopped")


def _ask(station: Path, payload: dict[str, Any]) -> dict[str, Any]:
    """Send ``payload`` to the control endpoint the station file names; UserError on any failure."""
    from nanocell_daq.station import load_station
    from simulated_instruments.control import ControlError, ControlRefused, request

    config = load_station(station)
    address = config.simulation.control if config.simulation is not None else None
    if address is None:
        raise UserError(f"{station}: simulation.control: missing; this is not the station file of a running "
                        f"`nanocell sim serve --station-out FILE`")
    try:
        return request(address, payload)
    except ControlRefused as exc:
        raise UserError(str(exc)) from exc
    except ControlError as exc:
        raise UserError(f"{station}: {exc}") from exc


@sim_app.command("state")
def state(
    station: Path = typer.Option(..., "--station", help="Station file written by `sim serve --station-out`."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """The running simulated bench's state: live outputs, closed crosspoints, damage, wire current."""
    found = _ask(station, {"op": "state"})["state"]
    if as_json:
        typer.echo(json.dumps(found))
        return
    typer.echo(f"outputs on: {', '.join(found['outputs_on']) or 'none'}")
    typer.echo(f"matrix closed: {', '.join(found['matrix_closed']) or 'none'}")
    typer.echo(f"damage events: {found['damage_events']}")
    typer.echo(f"max wire current: {found['max_wire_current_A']:.4g} A")
    typer.echo(f"matrix switched under bias: {found['switched_under_bias']}")
    pending = {name: kinds for name, kinds in found["faults"].items() if kinds}
    typer.echo(f"pending faults: {json.dumps(pending) if pending else 'none'}")


def _cell_line(cell: dict[str, Any]) -> str:
    """The cell's state after a reset, on one line."""
    parts = [f"OCV {cell['ocv_cell_V']:.4g} V", f"G0(S-D) {cell['g0_S_D_S']:.4g} S"]
    if "crystalline_fraction_core" in cell:
        parts.append(f"crystalline fraction {cell['crystalline_fraction_core']:.3g}")
    if "x_li_per_fu" in cell:
        parts.append(f"x(Li) {cell['x_li_per_fu']:.3g}")
    parts += [f"full cycles {cell['full_cycles']:g}", f"damage events {cell['damage_events']}",
              f"resets {cell['resets']}"]
    return ", ".join(parts)


@sim_app.command("reset")
def reset(
    station: Path = typer.Option(..., "--station", help="Station file written by `sim serve --station-out`."),
    as_json: bool = typer.Option(False, "--json", help="Print the cell's state after the reset as JSON."),
) -> None:
    """Reset the running simulated bench's cell to pristine (the chip as `sim serve` started it) and print
    its state read back after the reset. Refused while an output is on or the matrix is closed."""
    cell = _ask(station, {"op": "reset"})["cell"]
    if as_json:
        typer.echo(json.dumps(cell))
        return
    typer.echo(f"cell reset to pristine: {_cell_line(cell)}")


@sim_app.command("fault")
def fault(
    instrument: str = typer.Argument(..., help="smu, pstat, stage, spectrometer, shutter or matrix."),
    kind: str = typer.Argument(..., help="delay, timeout, drop, garble, error_next, compliance_trip, "
                                         "stage_limit; or clear (remove the instrument's faults)."),
    station: Path = typer.Option(..., "--station", help="Station file written by `sim serve --station-out`."),
    count: int = typer.Option(None, "--count", help="Occurrences (default 1; delay: every reply)."),
    persistent: bool = typer.Option(False, "--persistent", help="Keep the fault until cleared."),
    seconds: float = typer.Option(None, "--seconds", help="delay: wall seconds per reply."),
) -> None:
    """Inject a fault into an instrument of the running simulated bench."""
    if count is not None and persistent:
        raise UserError("--count and --persistent: give one of them")
    if count is not None and count < 1:
        raise UserError(f"--count: must be >= 1, got {count}")
    if kind == "clear":
        _ask(station, {"op": "clear", "instrument": instrument})
        typer.echo(f"{instrument}: faults cleared")
        return
    payload: dict[str, Any] = {"op": "fault", "instrument": instrument, "kind": kind, "seconds": seconds}
    if persistent:
        payload["count"] = None
    elif count is not None:
        payload["count"] = count
    pending = _ask(station, payload)["pending"]
    typer.echo(f"{instrument}: {kind} injected; pending: {json.dumps(pending)}")


def register(app: typer.Typer) -> None:
    """Add ``nanocell sim ...`` to the root app."""
    app.add_typer(sim_app, name="sim")
