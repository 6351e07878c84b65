"""Small helpers shared by the drivers: default connection options and temporary VISA timeouts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def with_defaults(kwargs: dict[str, Any], **defaults: Any) -> dict[str, Any]:
    """``kwargs`` with ``defaults`` filled in where the caller gave nothing (the caller always wins)."""
    merged = dict(defaults)
    merged.update(kwargs)
    return merged


@contextmanager
def longer_timeout(instrument: Any, timeout_ms: float) -> Iterator[None]:
    """Raise the VISA timeout of ``instrument`` to at least ``timeout_ms`` for a slow operation."""
    connection = getattr(instrument.adapter, "connection", None)
    old = getattr(connection, "timeout", None)
    if connection is None or not isinstance(old, int | float) or old >= timeout_ms:
        yield
        return
    connection.timeout = timeout_ms
    try:
        yield
    finally:
        connection.timeout = old
