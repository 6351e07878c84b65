"""Protocol names and ``--set`` overrides from the command line: a misspelled protocol name gets a
suggestion, and an error that only an override causes names ``--set NAME=VALUE`` rather than a line of the
(installed) protocol file."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from nanocell_daq.errors import UserError

_LOCATED = re.compile(r"^(?P<path>[^\n]+?\.ya?ml)(?::(?P<line>\d+))?: (?P<rest>.*)$")


def resolve_protocol(name_or_path: str) -> Path:
    """The protocol file for a path or a shipped name; UserError with a did-you-mean for anything else."""
    from nanocell_daq.engine.protocol import shipped_protocols
    from nanocell_daq.engine.service import protocol_path

    path = protocol_path(name_or_path)
    if path.exists() or path.suffix or len(path.parts) > 1:
        return path  # a file the user named: its loader says what is wrong with it
    shipped = shipped_protocols()
    close = difflib.get_close_matches(str(name_or_path), list(shipped), n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]}?" if close else ""
    raise UserError(
        f"protocol {name_or_path}: no such file and no shipped protocol of that name.{hint} "
        f"Shipped: {', '.join(sorted(shipped))} (see `nanocell protocols list`)"
    )


def _as_set_error(sets: dict[str, str], message: str) -> str:
    """``message`` (lines ``file:line: field: problem``) told as the fault of ``--set`` overrides."""
    where_of: dict[str, list[str]] = {}  # one problem, every place the override went
    for line in message.splitlines():
        m = _LOCATED.match(line)
        if not m:
            where_of.setdefault(line, [])
            continue
        places = where_of.setdefault(m["rest"], [])
        if not places:
            places.append(Path(m["path"]).name)
        if m["line"]:
            places.append(m["line"])
    lines = []
    for text, places in where_of.items():
        if places:
            file, numbers = places[0], places[1:]
            word = "lines" if len(numbers) > 1 else "line"
            at = f" {word} {', '.join(numbers)}" if numbers else ""
            lines.append(f"{text} (in {file}{at})")
        else:
            lines.append(text)
    given = " ".join(f"{k}={v}" for k, v in sets.items())
    return f"--set {given}: " + "\n".join(lines)


def plan_with_sets(protocol: str, station: Path, sets: dict[str, str], device: str | None = None) -> Any:
    """``make_plan`` for the command line (see the module doc); ``device``: the chip's device."""
    from nanocell_daq.engine.service import make_plan

    path = resolve_protocol(protocol)
    try:
        return make_plan(path, station, sets, device)
    except UserError as exc:
        if not sets:
            raise
        try:
            make_plan(path, station, {}, device)
        except UserError:
            raise exc from None  # the files themselves are at fault: say it as they are
        culprits = {}
        for name, value in sets.items():
            try:
                make_plan(path, station, {name: value}, device)
            except UserError:
                culprits[name] = value
        raise UserError(_as_set_error(culprits or sets, str(exc)), exit_code=exc.exit_code) from None
