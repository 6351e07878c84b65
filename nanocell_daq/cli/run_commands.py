"""``nanocell run | resume | check | control | demo`` and ``nanocell bench map``: protocol runs."""

from __future__ import annotations

import functools
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from nanocell_daq.cli.run_output import ProgressLines, RunLog, no_empty_database
from nanocell_daq.errors import UserError

DB_HELP = (
    "Run database: a file path (SQLite) or a URL (postgresql://user@host/db; the password from PGPASSWORD"
    " or ~/.pgpass)"
)

EXIT = {"completed": 0, "failed": 1, "aborted": 3, "interrupted": 3}
DEVICE_HELP = "The chip's device to run on (a station file with devices:)."
NOTIFY_HELP = "Notify file (urls: [apprise URLs]); the station file's notify: is used too."
# one default database for run, resume, control and the GUI (and analyze/export/report): $NANOCELL_DB, else
# ./nanocell-runs.db
DB_ENV = "NANOCELL_DB"
DEFAULT_DB = "nanocell-runs.db"
RUN_DB_HELP = (
    DB_HELP + f". Default: ${DB_ENV} if set, else ./{DEFAULT_DB}, the GUI's default too (created if absent"
    " for run). Each run writes a log to run-logs/ next to an SQLite file."
)
ControlAction = Enum("ControlAction", {a: a for a in ("pause", "resume", "abort")}, type=str)


def _overrides(values: list[str] | None) -> dict[str, str]:
    out = {}
    for v in values or []:
        if "=" not in v:
            raise UserError(f"--set {v}: expected NAME=VALUE (a parameter of the protocol)")
        k, _, val = v.partition("=")
        out[k.strip()] = val.strip()
    return out


class _Display:
    """Rich progress on stderr: the step, overall fraction and ETA; log lines of warnings and errors.

    When stderr is not a terminal (a pipe, a file: unattended runs), plain progress lines instead, every
    10 s and at each new step, flushed as they come. ``log``: a ``RunLog`` that gets the same lines."""

    def __init__(self, quiet: bool = False, log: RunLog | None = None) -> None:
        self.console = Console(stderr=True)
        self.quiet = quiet
        self.log = log
        self.lines = None if self.console.is_terminal or quiet else ProgressLines(sys.stderr)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>5.1f}%"),
            TextColumn("ETA {task.fields[eta]}"),
            console=self.console,
            transient=True,
        )
        self.task = self.progress.add_task("starting", total=1.0, eta="-")

    def __enter__(self) -> _Display:
        if not self.quiet and self.lines is None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def on_progress(self, label: str, fraction: float, eta: float | None) -> None:
        from nanocell_daq.engine.plan import fmt_duration  # the engine is imported by then

        shown = "-" if eta is None else fmt_duration(eta)
        self.progress.update(self.task, description=label[:40], completed=fraction, eta=shown)
        if self.lines is not None:
            self.lines.update(label, fraction, shown)
        if self.log is not None and self.log.progress is not None:
            self.log.progress.update(label, fraction, shown)

    def on_log(self, level: str, message: str) -> None:
        if self.log is not None:
            self.log.write(level, message)
        if level in ("warning", "error") and not self.quiet:
            # soft wrap: a printed command (e.g. how to resume) stays one line to copy; no markup in messages
            self.console.print(
                f"{level}: {message.splitlines()[0]}",
                style="yellow" if level == "warning" else "red",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


def _existing_run(store: Any, run_id: int, db: str) -> Any:
    """The stored run ``run_id``, or a UserError naming the database and the runs it has."""
    try:
        if not 0 < run_id < 2**63:  # a database integer; a larger number cannot even be looked up
            raise KeyError(run_id)
        return store.run(run_id)
    except KeyError:
        ids = [r.id for r in store.runs()]
        have = f"runs in it: {', '.join(map(str, ids[-10:]))}" if ids else "it has no runs"
        raise UserError(f"{store.location.shown}: no run {run_id} ({have})") from None


def _open_store(db: str) -> Any:
    from nanocell_daq.storage import Store

    return Store.open(db, create=True)


def cmd_check(protocol: str, station: Path, sets: list[str] | None, device: str | None = None) -> int:
    from nanocell_daq.cli.protocol_sets import plan_with_sets
    from nanocell_daq.engine.plan import plan_table

    plan = plan_with_sets(protocol, station, _overrides(sets), device)
    Console().print(plan_table(plan))
    _print_warnings(plan)
    return 0


def _print_warnings(plan: Any) -> None:
    """The plan's warnings (capability check), one line each, on stderr."""
    for warning in plan.warnings:
        typer.echo(f"warning: {warning}", err=True)


def _notifier(notify: Path | None, config: Any) -> Any:
    """The run's notifier (``--notify FILE`` and the station's ``notify:``), or None."""
    from nanocell_daq.notify import notifier_for

    def say(level: str, message: str) -> None:
        typer.echo(f"{level}: {message}", err=True)

    return notifier_for(notify, config, on_log=say)


def _stored_or_given_station(info: Any, station: Path | None) -> Any:
    """The station whose ``notify:`` a resume uses: the file given, else the run's stored snapshot."""
    from nanocell_daq.station import load_station
    from nanocell_daq.station.config import StationConfig

    if station is not None:
        return load_station(station)
    config = (info.station or {}).get("config")
    try:
        return StationConfig.model_validate(config) if isinstance(config, dict) else None
    except ValueError:  # an old snapshot the schema no longer reads: resume itself says what is wrong
        return None


def _start_log(db: str, command: str) -> RunLog:
    """The command's log file (see ``run_output``); its path is printed first, on stderr."""
    log = RunLog(db, command)
    path = log.open()
    typer.echo(f"log: {path}" if path else f"log: none ({log.path.parent} cannot be written)", err=True)
    return log


def _run_shown(db: str, store: Any, start: Callable[..., Any], command: str = "run",
               notifier: Any = None) -> int:
    """Run ``start(on_progress=, on_log=, db_label=)`` with the progress display; print the outcome;
    then deliver the notifications (bounded wait: a dead target cannot hold the exit)."""
    shown = store.location.shown  # a URL's password is never printed nor stored in messages
    log = _start_log(db, command)
    try:
        with _Display(log=log) as display:
            result = start(on_progress=display.on_progress, on_log=display.on_log, db_label=shown)
        reason = f": {result.reason}" if result.reason else ""
        typer.echo(f"run {result.run_id} {result.status}{reason} (database {shown})")
        log.write("info", f"run {result.run_id} {result.status}{reason}")
        return EXIT.get(result.status, 1)
    except BaseException as exc:
        log.write("error", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        store.close()
        if notifier is not None:
            notifier.close()
        log.close()


def cmd_run(protocol: str, station: Path, db: str, operator: str | None, sets: list[str] | None,
            device: str | None = None, notify: Path | None = None) -> int:
    from nanocell_daq.cli.protocol_sets import plan_with_sets
    from nanocell_daq.engine.service import run_plan

    plan = plan_with_sets(protocol, station, _overrides(sets), device)
    _print_warnings(plan)
    notifier = _notifier(notify, plan.station.config)
    with no_empty_database(db):
        store = _open_store(db)
        start = functools.partial(run_plan, plan, store, operator=operator, supervise=True, notifier=notifier)
        return _run_shown(db, store, start, "run", notifier)


def cmd_resume(
    run_id: int, db: str, station: Path | None, operator: str | None, device: str | None = None,
    notify: Path | None = None,
) -> int:
    from nanocell_daq.engine.resume import resume_run
    from nanocell_daq.storage import Store

    store = Store.open(db, create=False)
    try:
        info = _existing_run(store, run_id, db)
        notifier = _notifier(notify, _stored_or_given_station(info, station))
    except UserError:
        store.close()
        raise
    return _run_shown(
        db,
        store,
        functools.partial(
            resume_run, store, run_id, station, operator=operator, supervise=True, device=device,
            notifier=notifier,
        ),
        "resume",
        notifier,
    )


def cmd_control(run_id: int, action: str, db: str) -> int:
    from nanocell_daq.storage import Store

    if action not in ("pause", "resume", "abort"):
        raise UserError(f"control action {action!r}: use pause, resume or abort")
    store = Store.open(db, create=False)
    try:
        info = _existing_run(store, run_id, db)
        if info.status != "running":
            raise UserError(f"run {run_id} is {info.status}, not running")
        store.request_control(run_id, action, requested_by="nanocell control")
        typer.echo(f"asked run {run_id} to {action} (the engine acts within ~0.5 s, between points)")
        return 0
    finally:
        store.close()


def cmd_demo(db: str, speed: float, as_json: bool, cycles: int, report: Path | None = None) -> int:
    if not (math.isfinite(speed) and speed > 0):
        raise UserError(f"--speed: must be a number > 0 (simulated seconds per wall second), got {speed:g}")
    if not 1 <= cycles <= 100:
        raise UserError(f"--cycles: must be between 1 and 100, got {cycles}")
    if report is not None:  # refuse a bad report path before a run of tens of seconds, not after
        from nanocell_daq.analysis.report import REPORT_SUFFIXES

        if report.suffix.lower() not in REPORT_SUFFIXES:
            raise UserError(f"--report {report}: the report is written as .png or .pdf")
        if not report.parent.exists():
            raise UserError(f"--report {report}: folder {report.parent} does not exist")
    t0 = time.monotonic()
    with no_empty_database(db):
        store = _open_store(db)
        log = _start_log(db, "demo")
        try:
            result = _demo_run(store, speed, cycles, as_json, log)
        except BaseException as exc:
            log.write("error", f"{type(exc).__name__}: {exc}")
            store.close()
            raise
        finally:
            log.close()
    return _demo_summary(store, result, db, t0, as_json, report)


def _demo_run(store: Any, speed: float, cycles: int, as_json: bool, log: RunLog) -> Any:
    from nanocell_daq.engine.service import make_plan, run_plan
    from simulated_instruments.bench import SimulatedBench

    with (
        tempfile.TemporaryDirectory(prefix="nanocell-demo-") as tmp,
        SimulatedBench(preset="si", speed=speed, seed=0) as bench,
    ):
        station = Path(tmp) / "station.yaml"
        bench.write_station(station)
        plan = make_plan("si_seed", station, {"cycles": str(cycles)})
        with _Display(quiet=as_json, log=log) as display:
            return run_plan(
                plan, store, operator="demo", on_progress=display.on_progress, on_log=display.on_log
            )


def _demo_summary(store: Any, result: Any, db: Path, t0: float, as_json: bool, report: Path | None) -> int:
    from nanocell_daq.engine.summary import run_summary, summary_lines

    summary = run_summary(store, result.run_id)
    summary["wall_s"] = round(time.monotonic() - t0, 2)
    summary["database"] = store.location.shown
    if report is not None:
        from nanocell_daq.analysis.report import write_report

        summary["report"] = str(write_report(store, result.run_id, report))
    store.close()
    if not as_json:
        for line in summary_lines(summary):
            typer.echo(line)
        typer.echo(f"database {summary['database']}; wall time {summary['wall_s']:.1f} s")
        if report is not None:
            typer.echo(f"report {summary['report']}")
    else:
        typer.echo(json.dumps(summary, ensure_ascii=False))
    return EXIT.get(result.status, 1)


def register(app: typer.Typer) -> None:
    """Add ``run``, ``resume``, ``check``, ``demo`` and ``bench map``."""

    @app.command("check")
    def check(
        protocol: str = typer.Argument(..., help="Protocol YAML file, or a shipped protocol name (si_seed)."),
        station: Path = typer.Option(..., "--station", help="Station YAML file."),
        sets: list[str] = typer.Option(None, "--set", help="Override a protocol parameter: NAME=VALUE."),
        device: str = typer.Option(None, "--device", help=DEVICE_HELP),
    ) -> None:
        """Validate a protocol against a station and print the plan with estimated durations."""
        raise typer.Exit(cmd_check(protocol, station, sets, device))

    @app.command("run")
    def run(
        protocol: str = typer.Argument(..., help="Protocol YAML file, or a shipped protocol name (si_seed)."),
        station: Path = typer.Option(..., "--station", help="Station YAML file."),
        db: str = typer.Option(DEFAULT_DB, "--db", envvar=DB_ENV, help=RUN_DB_HELP),
        operator: str = typer.Option(None, "--operator", help="Who runs it (stored with the run)."),
        sets: list[str] = typer.Option(None, "--set", help="Override a protocol parameter: NAME=VALUE."),
        device: str = typer.Option(None, "--device", help=DEVICE_HELP),
        notify: Path = typer.Option(None, "--notify", help=NOTIFY_HELP),
    ) -> None:
        """Run a protocol on a station. Ctrl-C pauses safely (again: abort); SIGTERM aborts safely."""
        raise typer.Exit(cmd_run(protocol, station, db, operator, sets, device, notify))

    @app.command("resume")
    def resume(
        run_id: int = typer.Argument(..., help="The run to continue."),
        db: str = typer.Option(DEFAULT_DB, "--db", envvar=DB_ENV, help=RUN_DB_HELP),
        station: Path = typer.Option(None, "--station", help="Station file (default: the stored snapshot)."),
        operator: str = typer.Option(
            None, "--operator", help="Who continues it (stored with the resumed attempt; default: as before)."
        ),
        device: str = typer.Option(None, "--device", help="The chip's device (default: the run's own)."),
        notify: Path = typer.Option(None, "--notify", help=NOTIFY_HELP),
    ) -> None:
        """Continue a killed or aborted run: interrupted step kept, OCV re-check, then the rest."""
        raise typer.Exit(cmd_resume(run_id, db, station, operator, device, notify))

    @app.command("demo")
    def demo(
        db: str = typer.Option(
            "nanocell-demo.db", "--db",
            help=DB_HELP + " to write (its own default, so that demo runs stay out of your run database; "
            "a log goes to run-logs/ next to it).",
        ),
        speed: float = typer.Option(2000.0, "--speed", help="Simulated seconds per wall second."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object as the last line."),
        cycles: int = typer.Option(2, "--cycles", help="Number of cycles."),
        report: Path = typer.Option(None, "--report", help="Also write the report (.png: one page; .pdf: and "
                                    "the map, spectra, time line and capacity pages)."),
    ) -> None:
        """Run the shipped Si protocol on the simulated bench and print the summary."""
        raise typer.Exit(cmd_demo(db, speed, as_json, cycles, report))

    @app.command("control")
    def control(
        run_id: int = typer.Argument(..., help="The running run."),
        action: ControlAction = typer.Argument(..., help="pause, resume or abort.", case_sensitive=False),
        db: str = typer.Option(DEFAULT_DB, "--db", envvar=DB_ENV, help=RUN_DB_HELP),
    ) -> None:
        """Ask a running engine (any process) to pause, resume or abort between points."""
        raise typer.Exit(cmd_control(run_id, action.value, db))

    from nanocell_daq.cli.bench_commands import bench_app

    @bench_app.command("map")
    def bench_map(
        pixels: int = typer.Option(400, "--pixels", help="Pixels in the map."),
    ) -> None:
        """Raman map overhead per pixel (engine + drivers + VISA + emulator + store); JSON last line."""
        from nanocell_daq.engine.benchmark import map_overhead
        from simulated_instruments.bench import SimulatedBench

        with (
            SimulatedBench(preset="si", speed=1e6, seed=0) as bench,
            tempfile.TemporaryDirectory(prefix="nanocell-bench-") as tmp,
        ):
            station = Path(tmp) / "station.yaml"
            bench.write_station(station)
            figures = map_overhead(station, Path(tmp) / "bench.db", pixels)
        for k, v in figures.items():
            typer.echo(f"{k}: {v}", err=True)
        typer.echo(json.dumps(figures))
        sys.stdout.flush()
