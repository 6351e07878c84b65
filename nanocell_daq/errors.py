"""User-facing errors: a message that names the file, line and field, shown without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix (bad file, bad value, unreachable instrument).

    The CLI prints ``str(error)`` on one line (or a few) and exits with ``exit_code``; no traceback.
    """

    exit_code = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


def where(path: object, line: int | None = None, field: str | None = None) -> str:
    """Format a location as ``file:line: field`` for error messages."""
    out = str(path)
    if line is not None:
        out += f":{line}"
    if field:
        out += f": {field}"
    return out
