"""``nanocell bench ...``: benchmarks that print figures (the last line is one JSON object)."""

from __future__ import annotations

import typer

bench_app = typer.Typer(
    help="Benchmarks; each prints its figures, the last line one JSON object.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add ``nanocell bench`` with one sub-command per benchmark."""
    from nanocell_daq.cli import bench_fit, bench_longrun, bench_timings  # noqa: F401 - registers them

    app.add_typer(bench_app, name="bench")
