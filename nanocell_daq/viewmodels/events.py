"""A minimal evented-model signal: a list of callbacks, called in order on ``emit`` (no Qt)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Signal:
    """Callbacks connected to one kind of change of a model.

    Errors raised by a callback propagate to the emitter: a broken view must be noticed, not hidden.
    """

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Call ``callback(*args)`` on every ``emit``; returns it, so this also works as a decorator."""
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any]) -> None:
        """Stop calling ``callback``; no error if it was not connected."""
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        """Call every connected callback with ``args``."""
        for callback in list(self._callbacks):
            callback(*args)

    def __len__(self) -> int:
        return len(self._callbacks)
