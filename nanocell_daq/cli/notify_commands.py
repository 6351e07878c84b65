"""``nanocell notify test | watch``: check where notifications go; watch engines for silence."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from nanocell_daq.errors import UserError

notify_app = typer.Typer(name="notify", help="Notifications (apprise URLs): test them, watch engines.",
                         no_args_is_help=True)

NOTIFY_OPTION = typer.Option(None, "--notify", help="Notify file (urls: [apprise URLs], optional on: [...]).")
STATION_OPTION = typer.Option(None, "--station", help="Station file whose notify: section to use.")


def _notifier(notify: Path | None, station: Path | None, **kw: Any) -> Any:
    from nanocell_daq.notify import notifier_for
    from nanocell_daq.station import load_station

    def say(level: str, message: str) -> None:
        typer.echo(f"{level}: {message}", err=True)

    notifier = notifier_for(notify, None if station is None else load_station(station), on_log=say, **kw)
    if notifier is None:
        raise UserError("no notification URL: give --notify FILE or a station file with notify: urls:")
    return notifier


def cmd_test(notify: Path | None, station: Path | None) -> int:
    notifier = _notifier(notify, station, retry_after_s=(1.0, 3.0))
    notifier.notify("run_finished", "nanocell: test notification",
                    "nanocell-daq can reach you here (sent by `nanocell notify test`)")
    notifier.flush(30)
    notifier.close(1)
    for _kind, target in notifier.sent:
        typer.echo(f"sent to {target}")
    for _kind, target in notifier.dropped:
        typer.echo(f"NOT delivered to {target}", err=True)
    return 0 if not notifier.dropped else 1


def cmd_watch(db: str, notify: Path | None, station: Path | None, interval: float) -> int:
    from nanocell_daq.notify.watch import StaleWatch
    from nanocell_daq.storage import Store

    if not 0.5 <= interval <= 3600:
        raise UserError(f"--interval: between 0.5 and 3600 s, got {interval:g}")
    notifier = _notifier(notify, station)
    store = Store.open(db, create=False)
    watch = StaleWatch(store, notifier)
    typer.echo(f"watching {db} every {interval:g} s (Ctrl-C stops)", err=True)
    try:
        while True:
            for run_id, state in watch.look():
                typer.echo(f"run {run_id}: engine {state}")
            time.sleep(interval)
    except KeyboardInterrupt:
        return 0
    finally:
        store.close()
        notifier.close(5)


def register(app: typer.Typer) -> None:
    """Add ``nanocell notify ...``."""

    @notify_app.command("test")
    def test(notify: Path = NOTIFY_OPTION, station: Path = STATION_OPTION) -> None:
        """Send one test notification to every URL; say which took it."""
        raise typer.Exit(cmd_test(notify, station))

    @notify_app.command("watch")
    def watch(
        db: str = typer.Option(..., "--db", help="Run database (path or SQLAlchemy URL)."),
        notify: Path = NOTIFY_OPTION,
        station: Path = STATION_OPTION,
        interval: float = typer.Option(5.0, "--interval", help="Seconds between looks."),
    ) -> None:
        """Notify when a running run's engine falls silent (stale, dead) and when it beats again."""
        raise typer.Exit(cmd_watch(db, notify, station, interval))

    app.add_typer(notify_app)
