"""Small helpers shared by the drivers: default connection options, temporary VISA timeouts, error queues."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pymeasure.instruments import Instrument

from drivers.errors import InstrumentError


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


class ErrorQueue:
    """``raise_errors`` for a driver whose ``errors()`` drains the instrument's error queue."""

    name: str
    ask: Callable[[str], str]
    write: Callable[[str], None]

    def errors(self) -> list[tuple[int, str]]:  # pragma: no cover - interface
        raise NotImplementedError

    def raise_errors(self, doing: str) -> None:
        """Raise :class:`InstrumentError` if the error queue holds anything after ``doing``."""
        found = self.errors()
        if found:
            listed = "; ".join(f"{code} {message}" for code, message in found)
            raise InstrumentError(f"{self.name}: {doing}: {listed}")


class SCPIErrorQueue(ErrorQueue):
    """Error queue read with ``SYST:ERR?`` (``code,"message"`` until code 0); list it before Instrument."""

    ERROR_QUERY = ":SYST:ERR?"
    MAX_ERRORS = 50  # an instrument that never answers 0 must not hang the driver

    def errors(self) -> list[tuple[int, str]]:
        """Drain the error queue: ``[(code, message), ...]`` (empty when all is well)."""
        found = []
        for _ in range(self.MAX_ERRORS):
            code, _, message = self.ask(self.ERROR_QUERY).partition(",")
            if int(float(code)) == 0:
                break
            found.append((int(float(code)), message.strip().strip('"')))
        return found


class TSPMixin(ErrorQueue):
    """What TSP instruments share: ``*IDN?``, ``reset()``, ``errorqueue``; list it before Instrument."""

    id = Instrument.measurement("*IDN?", """Get the identity (``*IDN?`` works on TSP instruments).""",
                                cast=str, maxsplit=0)

    def reset(self) -> None:
        self.write("reset()")

    def errors(self) -> list[tuple[int, str]]:
        """Drain ``errorqueue``: ``[(code, message), ...]`` (TAB-separated ``errorqueue.next()``)."""
        found = []
        count = int(float(self.ask("print(errorqueue.count)")))
        for _ in range(count):
            code, _, rest = self.ask("print(errorqueue.next())").partition("\t")
            found.append((int(float(code)), rest.split("\t")[0].strip()))
        return found
