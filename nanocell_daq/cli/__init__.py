"""The ``nanocell`` command: the composition root that builds stations and runs from files.

Each area registers its sub-commands from its own module (``register(app)``), so the pieces stay apart.
"""

from __future__ import annotations

import re
import sys

import typer

try:  # typer vendors its own click (0.2x); an older typer uses click itself
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover
    from click import exceptions as click_errors

from nanocell_daq import __version__
from nanocell_daq.errors import UserError

app = typer.Typer(
    name="nanocell",
    help="In situ cycling, source/drain I-V and Raman mapping of on-chip single-nanowire batteries.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nanocell-daq {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """In situ cycling, source/drain I-V and Raman mapping of on-chip single-nanowire batteries."""


def _register_all() -> None:
    from nanocell_daq.cli import (
        analysis_commands,
        bench_commands,
        gui_commands,
        notify_commands,
        protocol_commands,
        queue_commands,
        run_commands,
        serve_commands,
        sim_commands,
        station_commands,
        store_commands,
    )

    for module in (
        store_commands,
        sim_commands,
        station_commands,
        run_commands,
        protocol_commands,
        queue_commands,
        notify_commands,
        serve_commands,
        analysis_commands,
        gui_commands,
        bench_commands,
    ):
        module.register(app)


_register_all()


def usage_error_line(exc: click_errors.UsageError) -> str:
    """A click usage error (bad choice, missing argument, not an integer, unknown option) as one line
    naming the command, instead of typer's boxed usage text."""
    message = " ".join(exc.format_message().split())
    message = re.sub(r"Value error, ", "", message)  # typer's choice check wraps click's message
    for kind in ("integer", "number"):  # pydantic's wording, through typer
        message = re.sub(rf"Input should be a valid {kind}, unable to parse string as an? {kind}",
                         f"not an {kind}" if kind == "integer" else "not a number", message)
    message = message[:1].lower() + message[1:]
    command = exc.ctx.command_path if exc.ctx is not None else "nanocell"
    return f"{command}: {message} (see `{command} --help`)"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; user mistakes end with a one-line message (exit code 2), never a
    traceback or a boxed usage text."""
    try:
        # Not standalone: click's usage errors come here as exceptions, to be told in one line.
        code = app(args=argv, standalone_mode=False, prog_name="nanocell")
    except click_errors.NoArgsIsHelpError as exc:  # `nanocell`, `nanocell sim`: the help, as before
        typer.echo(exc.ctx.get_help())
        return 2
    except click_errors.UsageError as exc:
        typer.echo(f"error: {usage_error_line(exc)}", err=True)
        return exc.exit_code
    except click_errors.ClickException as exc:
        typer.echo(f"error: {' '.join(exc.format_message().split())}", err=True)
        return exc.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 1
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
