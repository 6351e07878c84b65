"""``nanocell queue add | list | hold | release | cancel | run``: the run queue from the shell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from nanocell_daq.errors import UserError

queue_app = typer.Typer(
    name="queue", help="The run queue: protocols that run one after another, unattended.",
    no_args_is_help=True,
)

DB_OPTION = typer.Option(
    "nanocell-runs.db", "--db", envvar="NANOCELL_DB",
    help="Run database: a file (SQLite, created if absent) or a URL. Default: $NANOCELL_DB if set, else"
    " ./nanocell-runs.db (as for run and the GUI).",
)


def _store(db: str, create: bool = True) -> Any:
    from nanocell_daq.storage import Store

    return Store.open(db, create=create)


def _entry(store: Any, entry_id: int, db: str) -> Any:
    from nanocell_daq.storage import queue as rows

    try:
        if not 0 < entry_id < 2**63:
            raise KeyError(entry_id)
        return rows.entry(store, entry_id)
    except KeyError:
        ids = [str(e.id) for e in rows.entries(store)][-10:]
        have = f"entries: {', '.join(ids)}" if ids else "the queue is empty"
        raise UserError(f"{store.location.shown}: no queue entry {entry_id} ({have})") from None


def cmd_add(protocol: str, station: Path, device: str | None, sets: list[str] | None, stop_on_failure: bool,
            hold: bool, db: str, operator: str | None) -> int:
    from nanocell_daq import yaml_input
    from nanocell_daq.cli.run_commands import _overrides
    from nanocell_daq.engine.eta import plan_wall_s
    from nanocell_daq.engine.plan import fmt_duration
    from nanocell_daq.engine.service import make_plan, protocol_path
    from nanocell_daq.storage import queue as rows

    overrides = _overrides(sets)
    plan = make_plan(protocol, station, overrides, device)  # refused now, not at night
    text = yaml_input.read_text(protocol_path(protocol), "protocol")
    with _store(db) as store:
        entry_id = rows.add(store, protocol, text, station=str(station), device=device, overrides=overrides,
                            stop_on_failure=stop_on_failure, added_by=operator, held=hold)
    speed = plan.station.speed
    takes = fmt_duration(plan_wall_s(plan)) + (" (simulated)" if speed != 1 else "")
    where = f" on {device}" if device else ""
    typer.echo(f"queued entry {entry_id}: {plan.protocol.name}{where}, about {takes}"
               + (" (held)" if hold else ""))
    return 0


def cmd_list(db: str, as_json: bool) -> int:
    from rich.console import Console
    from rich.table import Table

    from nanocell_daq.storage import queue as rows

    with _store(db, create=False) as store:
        entries = rows.entries(store)
    if as_json:
        typer.echo(json.dumps([e.as_dict() for e in entries], indent=1, ensure_ascii=False))
        return 0
    if not entries:
        typer.echo("the queue is empty")
        return 0
    table = Table(title=f"queue in {store.location.shown}")
    for column in ("id", "state", "protocol", "device", "set", "run", "reason"):
        table.add_column(column)
    for e in entries:
        sets = " ".join(f"{k}={v}" for k, v in e.overrides.items())
        flag = " (stop on failure)" if e.stop_on_failure else ""
        table.add_row(str(e.id), e.state + flag, Path(e.protocol).stem, e.device or "", sets,
                      "" if e.run_id is None else str(e.run_id), (e.reason or "")[:80])
    Console(width=160).print(table)
    return 0


def cmd_move(entry_id: int, action: str, db: str) -> int:
    from nanocell_daq.storage import queue as rows

    to, when = {"hold": ("held", ("queued",)), "release": ("queued", ("held",)),
                "cancel": ("cancelled", rows.WAITING)}[action]
    with _store(db, create=False) as store:
        entry = _entry(store, entry_id, db)
        if not rows.move(store, entry_id, to, when=when):
            now = rows.entry(store, entry_id).state
            done = {"hold": "held", "release": "released", "cancel": "cancelled"}[action]
            raise UserError(f"queue entry {entry_id} is {now}: only a {' or '.join(when)} entry can be "
                            f"{done}")
    typer.echo(f"queue entry {entry.id} {to}")
    return 0


def cmd_run(station: Path, db: str, notify: Path | None, operator: str | None) -> int:
    from nanocell_daq.cli.run_commands import _Display, _notifier, _start_log
    from nanocell_daq.engine.queue import QueueRunner
    from nanocell_daq.engine.service import run_plan
    from nanocell_daq.engine.stationview import StationView

    config = StationView.from_file(station, _any_device(station)).config
    notifier = _notifier(notify, config)
    store = _store(db)

    def run_entry(plan: Any, entry: Any, created: Any) -> Any:
        log = _start_log(db, f"queue-entry{entry.id}")  # one log per run, its path printed first
        log.write("info", f"queue entry {entry.id}: {plan.protocol.name}")
        try:
            with _Display(log=log) as display:
                result = run_plan(plan, store, operator=operator or entry.added_by, supervise=True,
                                  notifier=notifier, on_progress=display.on_progress, on_log=display.on_log,
                                  db_label=store.location.shown, on_run_created=created)
            reason = f": {result.reason}" if result.reason else ""
            log.write("info", f"run {result.run_id} {result.status}{reason}")
        except BaseException as exc:
            log.write("error", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            log.close()
        typer.echo(f"entry {entry.id}: run {result.run_id} {result.status}{reason}")
        return result

    def say(level: str, message: str) -> None:
        if level != "info":
            typer.echo(f"{level}: {message}", err=True)

    try:
        queue = QueueRunner(store, station, run_entry, notifier=notifier, on_log=say)
        outcomes = queue.run()
    finally:
        store.close()
        if notifier is not None:
            notifier.close()
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.state] = counts.get(o.state, 0) + 1
    summary = ", ".join(f"{n} {state}" for state, n in counts.items()) or "nothing was queued"
    if queue.stopped:
        typer.echo(f"queue stopped: {queue.stopped} ({summary})")
        return 1
    typer.echo(f"queue empty: {summary} (database {store.location.shown})")
    return 0 if all(o.state == "completed" for o in outcomes) else 1


def _any_device(station: Path) -> str | None:
    """A device of the station file, for reading its notify: section (every device shares it)."""
    from nanocell_daq.station import load_station

    config = load_station(station)
    return next(iter(config.devices), None)


def register(app: typer.Typer) -> None:
    """Add ``nanocell queue ...``."""

    @queue_app.command("add")
    def add(
        protocol: str = typer.Argument(..., help="Protocol YAML file, or a shipped protocol name (si_seed)."),
        station: Path = typer.Option(..., "--station", help="Station file it is planned against now."),
        device: str = typer.Option(None, "--device", help="The chip's device to run on (devices:)."),
        sets: list[str] = typer.Option(None, "--set", help="Override a protocol parameter: NAME=VALUE."),
        stop_on_failure: bool = typer.Option(False, "--stop-on-failure",
                                             help="Stop the queue if this run does not complete."),
        hold: bool = typer.Option(False, "--hold", help="Add it held (it waits until released)."),
        db: str = DB_OPTION,
        operator: str = typer.Option(None, "--operator", help="Who queued it (stored with its run)."),
    ) -> None:
        """Plan a protocol against a station's device now and add it to the queue."""
        raise typer.Exit(cmd_add(protocol, station, device, sets, stop_on_failure, hold, db, operator))

    @queue_app.command("list")
    def list_(
        db: str = DB_OPTION,
        as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
    ) -> None:
        """The queue, oldest first: state, protocol, device, overrides, its run and why it ended."""
        raise typer.Exit(cmd_list(db, as_json))

    entry_arg = typer.Argument(..., help="The queue entry.")

    @queue_app.command("hold")
    def hold_(entry_id: int = entry_arg, db: str = DB_OPTION) -> None:
        """Keep a queued entry back until it is released."""
        raise typer.Exit(cmd_move(entry_id, "hold", db))

    @queue_app.command("release")
    def release(entry_id: int = entry_arg, db: str = DB_OPTION) -> None:
        """Put a held entry back in the queue."""
        raise typer.Exit(cmd_move(entry_id, "release", db))

    @queue_app.command("cancel")
    def cancel(entry_id: int = entry_arg, db: str = DB_OPTION) -> None:
        """Cancel a queued or held entry."""
        raise typer.Exit(cmd_move(entry_id, "cancel", db))

    @queue_app.command("run")
    def run(
        station: Path = typer.Option(..., "--station", help="Station file (every entry's device is in it)."),
        db: str = DB_OPTION,
        notify: Path = typer.Option(None, "--notify", help="Notify file (urls: [apprise URLs])."),
        operator: str = typer.Option(None, "--operator", help="Who runs them (default: who queued each)."),
    ) -> None:
        """Work through the queue unattended: validate every entry, then run them one after another.

        Each run writes a log to run-logs/cli-queue-entry<N>-<date>-<time>-<pid>.log next to the database
        (its path printed when the run starts)."""
        raise typer.Exit(cmd_run(station, db, notify, operator))

    app.add_typer(queue_app)
