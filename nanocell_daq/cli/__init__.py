"""The ``nanocell`` command: the composition root that builds stations and runs from files.

Each area registers its sub-commands from its own module (``register(app)``), so the pieces stay apart.
"""

from __future__ import annotations

import sys

import typer

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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; user mistakes end with a message, never a traceback."""
    try:
        # Standalone mode: click prints usage errors itself and leaves through SystemExit with the code.
        app(args=argv, standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
