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
    map_pixels: int = typer.Option(
        0, "--map-pixels", help="Live-map case: a map of this many pixels arrives (fitted live) while the "
        "trace grows at --rate; 10000 is the issue's case (200 s at 50 pixels/s)"
    ),
    pixel_rate: float = typer.Option(50.0, "--pixel-rate", help="Map pixels written per second (s^-1)"),
    fit_worker: str = typer.Option("process", "--fit-worker", help="Where live fits run: process | thread"),
    baseline_pixels: int = typer.Option(
        500, "--baseline-pixels", help="Live-map case: pixels of the baseline run without fits (0: none)"
    ),
) -> None:
    """Live trace growing to POINTS: event-loop stall p99 and write-to-draw latency p95 (ms); with
    --map-pixels, a Raman map fitted live: stall p99, pixel-to-map latency p95, fits on the GUI thread."""
    from nanocell_daq.errors import UserError

    if map_pixels < 0 or pixel_rate <= 0 or rate < 0 or baseline_pixels < 0:
        raise UserError(
            "bench gui: --map-pixels and --baseline-pixels must be >= 0, --pixel-rate > 0, --rate >= 0"
        )
    if fit_worker not in ("process", "thread"):
        raise UserError(f"bench gui: --fit-worker must be process or thread, not {fit_worker!r}")
    if map_pixels:
        from nanocell_daq.gui.benchmark_live_map import main as live_map

        live_map(map_pixels=map_pixels, pixel_rate=pixel_rate, rate=rate, fit_worker=fit_worker,
                 baseline_pixels=baseline_pixels)
        return
    from nanocell_daq.gui.benchmark import main

    main(points=points, rate=rate)


def register(app: typer.Typer) -> None:
    """Add ``nanocell gui``."""
    app.command("gui")(gui)
