"""``nanocell analyze``, ``nanocell export`` and ``nanocell report``: the analysis area from the shell."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

import typer

from nanocell_daq.cli.output_paths import check_output_folder, writing
from nanocell_daq.errors import UserError

DB_HELP = (
    "Run database: a file path (SQLite) or an SQLAlchemy URL. Default: $NANOCELL_DB if set, else "
    "./nanocell-runs.db (as for run and the GUI)."
)
RUN_HELP = "Run id (see `nanocell runs`) or uuid."
Y_HELP = "a-Si/c-Si Raman cross-section ratio y in Xc = Ic/(Ic + y*Ia)."
PARTIAL_HELP = "Allow a run that is still running (the output covers the data so far)."
# kept in step with nanocell_daq.analysis.export.FORMATS (a test checks); not imported here so that the CLI
# does not load pandas before it has parsed its arguments
EXPORT_FORMATS = ("csv", "hdf5", "bdf", "nexus", "jcamp", "netcdf")
ExportFormat = Enum("ExportFormat", {f: f for f in EXPORT_FORMATS}, type=str)  # choices for --format
FORMAT_HELP = (
    "csv: every table, a folder of files; hdf5: every table, one file; bdf: the cell's cycling as Battery "
    "Data Format (.bdf.csv, .bdf.parquet, .bdf.metadata.json); nexus: NeXus/HDF5 (NXraman maps and spectra, "
    "I-V and cycling as NXdata); jcamp: one JCAMP-DX file per spectrum; netcdf: the run's xarray Dataset."
)


def _run_key(run: str) -> int | str:
    if not run.isdigit():
        return run
    if int(run) >= 2**63:  # larger than any database integer: no run can have it
        raise UserError(f"run {run}: no such run (see `nanocell runs`)")
    return int(run)


def _write(output: str, action: Callable[[], Any]) -> Any:
    check_output_folder(output)
    with writing(output):
        return action()


def analyze(
    run: str = typer.Argument(..., help=RUN_HELP),
    db: str = typer.Option("nanocell-runs.db", "--db", envvar="NANOCELL_DB", help=DB_HELP),
    y: float = typer.Option(0.8, "--y", help=Y_HELP),
    refit: bool = typer.Option(False, "--refit", help="Refit the Raman maps even if cached."),
) -> None:
    """Analyse a run (capacities, conductance, nonlinearity, Xc per checkpoint); store and print it."""
    from nanocell_daq.analysis.run_analysis import analyze_run
    from nanocell_daq.storage import Store

    with Store.open(db, create=False) as store:
        result = analyze_run(store, _run_key(run), y, use_cache=not refit)
    typer.echo(result.summary())


def export(
    run: str = typer.Argument(..., help=RUN_HELP),
    db: str = typer.Option("nanocell-runs.db", "--db", envvar="NANOCELL_DB", help=DB_HELP),
    fmt: ExportFormat = typer.Option(..., "--format", "-f", case_sensitive=False, help=FORMAT_HELP),
    output: str = typer.Option(
        ..., "--output", "-o",
        help="Folder (csv, jcamp), file (hdf5, nexus, netcdf) or file stem (bdf: STEM.bdf.csv ...) to write.",
    ),
    y: float = typer.Option(0.8, "--y", help=Y_HELP),
    partial: bool = typer.Option(False, "--partial", help=PARTIAL_HELP),
) -> None:
    """Export every table of a run (points, spectra with axis and map coordinates, events, analysis)."""
    from nanocell_daq.analysis.export import export_run
    from nanocell_daq.storage import Store

    with Store.open(db, create=False) as store:
        written = _write(output, lambda: export_run(store, _run_key(run), fmt.value, output, y=y,
                                                    allow_running=partial))
    typer.echo(f"run {run}: wrote {len(written)} file(s) to {output}")


def report(
    run: str = typer.Argument(..., help=RUN_HELP),
    db: str = typer.Option("nanocell-runs.db", "--db", envvar="NANOCELL_DB", help=DB_HELP),
    output: str = typer.Option(..., "--output", "-o", help="report.png or report.pdf"),
    y: float = typer.Option(0.8, "--y", help=Y_HELP),
    partial: bool = typer.Option(False, "--partial", help=PARTIAL_HELP),
) -> None:
    """Write a run's report: a .png is the one-page summary (V vs capacity, I-V per checkpoint, G0/Xc
    trends, Xc maps, numbers); a .pdf adds pages: c-Si/a-Si maps normalised to pristine, mean spectra with
    fits, position and FWHM maps, the time line, G0 per segment and vs Xc, capacity in mAh/g and Li per Si."""
    from nanocell_daq.analysis.report import write_report
    from nanocell_daq.storage import Store

    with Store.open(db, create=False) as store:
        path = _write(output, lambda: write_report(store, _run_key(run), output, y=y, allow_running=partial))
    typer.echo(f"run {run}: report written to {path}")


def register(app: typer.Typer) -> None:
    """Add ``analyze``, ``export`` and ``report`` to the root app."""
    app.command("analyze")(analyze)
    app.command("export")(export)
    app.command("report")(report)
