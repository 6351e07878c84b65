"""MatrixRouter: named wirings on a switch matrix, break-before-make with read-back; fills Router."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Protocol

from drivers.errors import RoutingError


class Matrix(Protocol):
    """What the router needs from a switch matrix driver (the Keithley707B has it)."""

    @property
    def id(self) -> str: ...

    def close(self, channels: frozenset[str] | list[str]) -> None: ...

    def open_all(self) -> None: ...

    def closed(self) -> frozenset[str]: ...

    def shutdown(self) -> None: ...


class MatrixRouter:
    """Connect named wirings (``"cycling"``, ``"conductance:S-D"``) on a switch matrix.

    ``connect`` opens everything, reads back that nothing is closed, closes the wiring's channels and
    reads back exactly those: a mismatch raises :class:`RoutingError` (and leaves the matrix open).
    """

    def __init__(self, matrix: Matrix, wirings: Mapping[str, frozenset[str] | set[str] | list[str]]) -> None:
        self.matrix = matrix
        self._wirings = {name: frozenset(channels) for name, channels in wirings.items()}
        self._lock = threading.RLock()

    @property
    def id(self) -> str:
        return self.matrix.id

    @property
    def wirings(self) -> dict[str, frozenset[str]]:
        return dict(self._wirings)

    def connect(self, wiring: str) -> None:
        """Break before make: open all, check, close ``wiring``'s channels, check."""
        try:
            channels = self._wirings[wiring]
        except KeyError:
            known = ", ".join(sorted(self._wirings)) or "none"
            raise RoutingError(f"unknown wiring {wiring!r} (known: {known})") from None
        with self._lock:
            self.open_all()
            self.matrix.close(sorted(channels))
            closed = self.matrix.closed()
            if closed != channels:
                message = f"wiring {wiring!r}: asked to close {_fmt(channels)}, matrix reports {_fmt(closed)}"
                try:
                    self.matrix.open_all()
                except Exception as exc:
                    raise RoutingError(f"{message}; opening the matrix again failed too: {exc}") from exc
                raise RoutingError(f"{message} (matrix opened again)")

    def open_all(self) -> None:
        """Open every crosspoint and check that none is reported closed."""
        with self._lock:
            self.matrix.open_all()
            closed = self.matrix.closed()
            if closed:
                raise RoutingError(f"after opening all, the matrix still reports {_fmt(closed)} closed")

    def closed_channels(self) -> frozenset[str]:
        return self.matrix.closed()

    @property
    def current_wiring(self) -> str | None:
        closed = self.closed_channels()
        for name, channels in self._wirings.items():
            if channels == closed:
                return name
        return None

    def shutdown(self) -> None:
        """Open every crosspoint (the matrix reads it back)."""
        self.matrix.shutdown()


def _fmt(channels: frozenset[str]) -> str:
    return "{" + ", ".join(sorted(channels)) + "}" if channels else "nothing"
