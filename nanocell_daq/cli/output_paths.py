"""Where a command writes a file the user named: refused up front when it cannot be, one line if it fails."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nanocell_daq.errors import UserError


def check_output_folder(output: str | Path, option: str = "--output") -> None:
    """The folder that will hold ``output`` must be a folder (UserError before any work is done)."""
    parent = Path(output).parent
    if parent.exists() and not parent.is_dir():
        raise UserError(f"{option} {output}: {parent} is a file, not a folder")


@contextmanager
def writing(output: str | Path, option: str = "--output") -> Iterator[None]:
    """An OSError while writing ``output`` (read-only place, disk full...) becomes a one-line UserError."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise UserError(f"{option} {output}: cannot write: {' '.join(str(reason).split())}") from None
