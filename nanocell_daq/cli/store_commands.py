"""``nanocell db upgrade|copy``, ``nanocell runs``, ``nanocell show`` and ``nanocell bench storage``: the run
store from the shell."""

from __future__ import annotations

import json
from typing import Any

import typer

from nanocell_daq.cli.bench_commands import bench_app

db_app = typer.Typer(help="Run database maintenance.", no_args_is_help=True)

DB_HELP = (
    "Run database: a file path (SQLite) or a URL, e.g. postgresql://user@host/db (the password from"
    " PGPASSWORD or ~/.pgpass; one in the URL is never printed)"
)


@db_app.command("upgrade")
def db_upgrade(db: str = typer.Option(..., "--db", help=DB_HELP)) -> None:
    """Create the database, or migrate it to the schema of this nanocell-daq."""
    from nanocell_daq.storage import upgrade_database
    from nanocell_daq.storage.location import resolve

    shown = resolve(db).shown  # never the URL's password
    before, after = upgrade_database(db)
    if before is None:
        typer.echo(f"{shown}: created at schema revision {after}")
    elif before == after:
        typer.echo(f"{shown}: already at schema revision {after}")
    else:
        typer.echo(f"{shown}: upgraded from schema revision {before} to {after}")


@db_app.command("copy")
def db_copy(
    runs: list[str] = typer.Argument(..., help="Runs to copy: ids or uuids in the source."),
    source: str = typer.Option(..., "--from", help="Database the runs are in (path or URL)."),
    dest: str = typer.Option(..., "--to", help="Database to copy them to (created if absent)."),
) -> None:
    """Copy whole runs (steps, data, spectra, derived results, events) to another database, e.g. a
    station's SQLite file to the lab's PostgreSQL and back. Ids are renumbered; a run already copied
    (same uuid) is not copied twice; a run an engine still drives is refused."""
    from nanocell_daq.storage import Store
    from nanocell_daq.storage.copy import copy_runs

    with Store.open(source, create=False) as src, Store.open(dest, create=True) as dst:
        for done in copy_runs(src, dst, runs):
            typer.echo(done.line(src.location.shown, dst.location.shown))


def runs(
    db: str = typer.Option(..., "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
) -> None:
    """List the runs in a database: id, started, status, device, protocol, number of steps.

    A run marked running shows its engine's liveness: running, paused, stale (silent for a few seconds)
    or dead; ``--json`` adds ``stored_status`` and, while an engine holds the run, ``engine_pid`` and
    ``host``."""
    from nanocell_daq.provenance import summary
    from nanocell_daq.storage import Store
    from nanocell_daq.storage.leases import liveness

    with Store.open(db, create=False) as store:
        summaries = store.runs()
        live = liveness(store, summaries)
        sessions: dict[int, list[Any]] = {}
        for p in store.provenance(texts=False) if as_json else []:
            sessions.setdefault(p.run_id, []).append(p)
    if as_json:
        out = []
        for s in summaries:
            row, lv = s.as_json(), live[s.id]
            row.update(status=lv.state, stored_status=s.status, provenance=summary(sessions.get(s.id, [])))
            if lv.engine_pid is not None:
                age = round(lv.heartbeat_age_s, 1)
                row.update(engine_pid=lv.engine_pid, host=lv.host, heartbeat_age_s=age)
            out.append(row)
        typer.echo(json.dumps(out, indent=1, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"runs in {store.location.shown}")
    for col, justify in (("id", "right"), ("started (UTC)", "left"), ("status", "left"), ("device", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    table.add_column("protocol")
    table.add_column("steps", justify="right")
    for s in summaries:
        started = s.started.strftime("%Y-%m-%d %H:%M:%S")
        status = _shown(live[s.id])
        table.add_row(str(s.id), started, status, s.device or "-", s.protocol_name, str(s.n_steps))
    Console(width=max(100, Console().width)).print(table)
    if not summaries:
        typer.echo("no runs yet")


def show(
    run: str = typer.Argument(..., help="Run id (see `nanocell runs`) or uuid."),
    db: str = typer.Option("nanocell-runs.db", "--db", envvar="NANOCELL_DB", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (the provenance with texts)."),
    texts: bool = typer.Option(False, "--texts", help="Also print the station and protocol files as read."),
) -> None:
    """Show one run: status, times, device, and its provenance (software and git commit, host, operator,
    station file, protocol with the --set overrides, each resume, the stored analysis parameters)."""
    from nanocell_daq import provenance
    from nanocell_daq.errors import UserError
    from nanocell_daq.storage import Store

    key: int | str = int(run) if run.isdigit() and int(run) < 2**63 else run
    with Store.open(db, create=False) as store:
        try:
            info = store.run(key)
        except KeyError:
            raise UserError(f"{store.location.shown}: no run {run!r} (see `nanocell runs`)") from None
        prov = provenance.of_run(store, info.id)
    if as_json:
        head = {"id": info.id, "uuid": info.uuid, "status": info.status, "reason": info.reason,
                "protocol_name": info.protocol_name, "started": info.started.isoformat(),
                "ended": None if info.ended is None else info.ended.isoformat()}
        typer.echo(json.dumps({"run": head, "provenance": prov}, indent=1, ensure_ascii=False))
        return
    ended = "-" if info.ended is None else info.ended.strftime("%Y-%m-%d %H:%M:%S")
    typer.echo(f"run {info.id} ({info.uuid}): {info.protocol_name}, {info.status}"
               + (f": {info.reason}" if info.reason else ""))
    typer.echo(f"started {info.started:%Y-%m-%d %H:%M:%S} UTC, ended {ended}")
    for line in provenance.lines(prov):
        typer.echo(line)
    if texts:
        for title, part in (("station file", "station"), ("protocol file", "protocol")):
            typer.echo(f"--- {title} ---")
            typer.echo(str(prov[part]["text"]).rstrip("\n"))


def _shown(lv: Any) -> str:
    if lv.engine_pid is None:
        return str(lv.state)
    return f"{lv.state} (pid {lv.engine_pid} on {lv.host}, {lv.heartbeat_age_s:.0f} s)"


@bench_app.command("storage")
def bench_storage(
    quick: bool = typer.Option(
        False, "--quick", help="Small sizes (a format check; figures not comparable)."
    ),
    db: str = typer.Option(
        None, "--db", help="Measure on this database: a path (its disk) or a PostgreSQL URL (a throwaway "
        "schema there; the baseline is psycopg COPY on the same server). Default: a temporary SQLite file."
    ),
) -> None:
    """Write/load rates of the run store vs the raw driver; the last line is one JSON object."""
    from nanocell_daq.storage.benchmark import main

    main(quick=quick, db=db)


def register(app: typer.Typer) -> None:
    """Add ``nanocell db ...`` and ``nanocell runs`` (``bench storage`` hangs on bench_commands' group)."""
    app.add_typer(db_app, name="db")
    app.command("runs")(runs)
    app.command("show")(show)
