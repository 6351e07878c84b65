"""CLI commands of the station area: ``nanocell station check FILE``, ``nanocell station new``."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from nanocell_daq.cli.run_commands import DB_ENV, DB_HELP, DEFAULT_DB

station_app = typer.Typer(name="station", no_args_is_help=True,
                          help="Station files: write a template, validate and check the instruments.")


@station_app.command("check")
def check(
    file: Path = typer.Argument(..., help="Station file (YAML)."),
    db: str = typer.Option(
        DEFAULT_DB, "--db", envvar=DB_ENV,
        help=DB_HELP + ". Its station leases tell whether a run is using the station (connecting would"
        f" disturb it: the check is then refused). Default: ${DB_ENV} if set, else ./{DEFAULT_DB}; never"
        " created.",
    ),
) -> None:
    """Validate FILE, connect every instrument, check identities, roles and wirings; switch nothing on.

    Refused while a run of the database uses the station; no run can start on it during the check."""
    from rich.console import Console
    from rich.table import Table

    from nanocell_daq.engine.lease import held_for_check
    from nanocell_daq.station.check import check_station
    from nanocell_daq.station.loader import load_station
    from nanocell_daq.station.station import StationError

    config = load_station(file)
    # a pipe or a CI log has no terminal width: rich would fold every column to 80 characters
    console = Console(width=max(shutil.get_terminal_size((140, 24)).columns, 120))
    with held_for_check(db, config, str(file)) as warning:
        if warning:
            console.print(f"[yellow]warning: {_escape(warning)}[/yellow]")
        report = check_station(config)

    table = Table(title=f"station {config.name!r} ({file})")
    for column in ("instrument", "driver", "resource", "identity", "roles", "status"):
        table.add_column(column, overflow="fold")
    for s in report.instruments:
        status = "[green]ok[/green]" if s.ok else f"[red]{_escape(s.problem)}[/red]"
        identity = s.identity if len(s.identity) <= 48 else s.identity[:47] + "…"
        table.add_row(s.name, s.driver, s.resource, _escape(identity), ", ".join(s.roles) or "-", status)
    console.print(table)

    bad_roles = [r for r in report.roles if not r.ok and r.detail != "instrument not ready"]
    for r in bad_roles:
        console.print(f"[red]role {r.role!r} ({r.instrument}): {_escape(r.detail)}[/red]")

    if report.wirings:
        wires = Table(title="wirings")
        for column in ("wiring", "instrument", "channels", "pads", "status"):
            wires.add_column(column, overflow="fold")
        for w in report.wirings:
            status = "[green]ok[/green]" if w.ok else f"[red]{_escape(w.detail)}[/red]"
            wires.add_row(w.wiring, w.instrument, ", ".join(w.channels), ", ".join(w.pads), status)
        console.print(wires)

    if report.ok:
        console.print("[green]station ready[/green]")
        return
    failed = [f"{s.name} ({s.problem})" for s in report.instruments if not s.ok]
    failed += [f"role {r.role}" for r in bad_roles]
    failed += [f"wiring {w.wiring}" for w in report.wirings if not w.ok]
    # a UserError, not typer.Exit: the root main() turns it into the exit code without a traceback
    raise StationError(f"{file}: station not ready: {'; '.join(failed)}", exit_code=1)


@station_app.command("new")
def new(
    instruments: str = typer.Option(..., "--instruments", "-i",
                                    help="Comma-separated: 2450, 2600b, emstat4, 707b, proscan, sc10, "
                                         "spectrometer."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here (default: print it)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --output file."),
) -> None:
    """Write a commented station template for the chosen instruments; fill in every <FILL IN: ...> value."""
    from nanocell_daq.cli.output_paths import check_output_folder, writing
    from nanocell_daq.errors import UserError
    from nanocell_daq.station.template import parse_choice, render

    text = render(parse_choice(instruments))
    if output is None:
        typer.echo(text, nl=False)
        return
    if output.is_dir():
        raise UserError(f"--output {output}: is a folder, not a file")
    if output.exists() and not force:
        raise UserError(f"--output {output}: exists already (add --force to overwrite it)")
    check_output_folder(output)
    with writing(output):
        output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}: replace every <FILL IN: ...> value, then: nanocell station check {output}")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.add_typer(station_app, name="station")
