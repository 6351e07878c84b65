"""``nanocell gui`` (the probe-station window) and ``nanocell bench gui`` (its live-plot benchmark)."""

from __future__ import annotations

from pathlib import Path

import typer

from nanocell_daq.cli.bench_commands import bench_app


def gui(
    db: str = typer.Option(
        None, "--db", help="Run database (path or SQLAlchemy URL); default $NANOCELL_DB if set, else "
        "./nanocell-runs.db (the default of run, resume and control too)"
    ),
    station: Path = typer.Option(None, "--station", help="Station file to load"),
    protocol: Path = typer.Option(None, "--protocol", help="Protocol file to open in the editor"),
    screenshot: Path = typer.Option(None, "--screenshot", help="Save a PNG of the window, then quit"),
    after: float = typer.Option(3.0, "--after", help="Seconds before the --screenshot is taken"),
    device: str = typer.Option(None, "--device", help="The chip's device runs start on"),
) -> None:
    """Open the probe-station GUI: station, protocol editor, run control, live plots, run browser."""
    from nanocell_daq.gui.app import run_gui

    code = run_gui(
        db=db,
        station=None if station is None else str(station),
        protocol=None if protocol is None else str(protocol),
        screenshot=None if screenshot is None else str(screenshot),
        quit_after_s=after if screenshot else None,
        device=device,
    )
    raise typer.Exit(code)


@bench_app.command("gui")
def bench_gui(
    points: int = typer.Option(1_000_000, "--points", help="Cycling points the live trace grows to"),
    rate: float = typer.Option(25_000.0, "--rate", help="Points written per second (s^-1)"),
) -> None:
    """Live trace growing to POINTS: event-loop stall p99 and write-to-draw latency p95 (ms)."""
    from nanocell_daq.gui.benchmark import main

    main(points=points, rate=rate)


def register(app: typer.Typer) -> None:
    """Add ``nanocell gui``."""
    app.command("gui")(gui)
