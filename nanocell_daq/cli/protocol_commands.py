"""``nanocell protocols list | show NAME | copy NAME DEST | steps [KIND]``: the shipped protocols and the
parameters of every step kind (units, allowed range, default)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import typer

from nanocell_daq.errors import UserError

protocols_app = typer.Typer(
    help="The shipped protocols (list, show, copy to edit) and every step kind's parameters.",
    no_args_is_help=True,
)


def _shipped(name: str) -> Path:
    from nanocell_daq.cli.protocol_sets import resolve_protocol

    return resolve_protocol(name)


@protocols_app.command("list")
def list_protocols() -> None:
    """One line per shipped protocol: name, title and its parameters with their defaults."""
    from nanocell_daq.engine.protocol import load_protocol, shipped_protocols

    for name, path in shipped_protocols().items():
        proto = load_protocol(path)
        typer.echo(f"{name}: {proto.name}")
        params = ", ".join(f"{k}={v}" for k, v in proto.parameters.items())
        typer.echo(f"    parameters (--set NAME=VALUE): {params or 'none'}")


@protocols_app.command("show")
def show(name: str = typer.Argument(..., help="A shipped protocol's name (see `protocols list`).")) -> None:
    """Print a shipped protocol's YAML (steps, parameters and comments)."""
    path = _shipped(name)
    from nanocell_daq import yaml_input

    typer.echo(yaml_input.read_text(path, "protocol"), nl=False)


@protocols_app.command("copy")
def copy(
    name: str = typer.Argument(..., help="A shipped protocol's name (see `protocols list`)."),
    dest: Path = typer.Argument(..., help="File to write, or an existing folder (NAME.yaml goes there)."),
    force: bool = typer.Option(False, "--force", help="Overwrite DEST if it exists."),
) -> None:
    """Copy a shipped protocol to a file of yours to edit, then `nanocell run DEST ...`."""
    src = _shipped(name)
    target = dest / src.name if dest.is_dir() else dest
    if target.exists() and not force:
        raise UserError(f"{target}: exists; pass --force to overwrite it")
    if not target.parent.is_dir():
        raise UserError(f"{target}: folder {target.parent} does not exist")
    try:
        shutil.copyfile(src, target)
    except OSError as exc:
        raise UserError(f"{target}: cannot write: {exc.strerror or exc}") from None
    typer.echo(f"copied {src.stem} to {target}")


def _range(p: Any) -> str:
    from procedures.param_messages import allowed

    return allowed(p) or "-"


def _default(p: Any) -> str:
    value = getattr(p, "default", None)
    if isinstance(value, float) and math.isnan(value):
        return "(not set)"
    units = getattr(p, "units", None)
    return f"{value} {units}" if units and value is not None else str(value)


@protocols_app.command("steps")
def steps(
    kind: str = typer.Argument(None, help="One step kind (default: all)."),
) -> None:
    """Every step kind and its parameters: name, unit, allowed range, default, meaning."""
    import difflib

    from procedures import STEPS

    kinds = sorted(STEPS) if kind is None else [kind]
    if kind is not None and kind not in STEPS:
        close = [k for k in sorted(STEPS) if kind in k] or difflib.get_close_matches(kind, list(STEPS), n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        raise UserError(f"step kind {kind!r}: unknown.{hint} Known: {', '.join(sorted(STEPS))}")
    for k in kinds:
        typer.echo(f"{k}:")
        params = STEPS[k]()._parameters
        for pname in sorted(params):
            p = params[pname]
            typer.echo(
                f"    {pname:<18} {getattr(p, 'units', None) or '-':<5} {_range(p):<32} "
                f"default {_default(p):<14} {p.name}"
            )


def register(app: typer.Typer) -> None:
    """Add ``protocols`` (list, show, copy, steps)."""
    app.add_typer(protocols_app, name="protocols")
