"""Small helpers shared by the drivers: default connection options, temporary VISA timeouts, error queues,
flushing a link that may hold a late or torn reply."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pyvisa
from pymeasure.adapters import VISAAdapter
from pymeasure.instruments import Instrument

from drivers.errors import InstrumentError, ReplyError


def stream_lines(driver: Any, handle: Callable[[str], bool]) -> None:
    """The reader thread of a technique that streams lines (EmStat MethodSCRIPT, 2600B TSP script): read
    lines and pass each to ``handle`` until it returns True (the technique has ended). A read timeout only
    means no line yet; any other error is kept in ``driver._error`` for the caller of ``poll()``, never
    swallowed. ``driver._running`` is False when the thread ends."""
    try:
        while True:
            try:
                line = driver.read()
            except pyvisa.errors.VisaIOError as exc:
                if exc.error_code == pyvisa.constants.StatusCode.error_timeout:
                    continue
                raise
            if handle(line):
                return
    except Exception as exc:  # noqa: BLE001 - handed to the caller of poll(), never swallowed
        driver._error = exc
    finally:
        driver._running = False


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


@contextmanager
def short_timeout(instrument: Any, timeout_ms: float) -> Iterator[None]:
    """Set the VISA timeout of ``instrument`` to ``timeout_ms`` (e.g. to read until a link goes quiet)."""
    connection = getattr(instrument.adapter, "connection", None)
    old = getattr(connection, "timeout", None)
    if old is None:
        yield
        return
    connection.timeout = timeout_ms
    try:
        yield
    finally:
        connection.timeout = old


def drain_input(instrument: Any, quiet_ms: float = 100, max_reads: int = 10000) -> None:
    """Read and discard whatever ``instrument`` has sent until its link stays quiet for ``quiet_ms``.

    A torn binary block, the rest of a garbled reply or a reply that came after its timeout would otherwise
    be decoded as the answer to the next query. Each read ends at a termination character or at the quiet
    timeout; either way what it read is dropped. (A test adapter answers its next scripted read instead.)
    """
    adapter = instrument.adapter
    if not isinstance(adapter, VISAAdapter):
        adapter.read_bytes(-1)
        return
    connection = adapter.connection
    old = connection.timeout
    connection.timeout = quiet_ms
    try:
        for _ in range(max_reads):  # an instrument that never stops talking must not hang the driver
            try:
                connection.read_raw()
            except pyvisa.errors.VisaIOError as exc:
                if exc.error_code == pyvisa.constants.StatusCode.error_timeout:
                    return
                raise
        raise ReplyError(f"{instrument.name}: the link never went quiet ({max_reads} reads discarded)")
    finally:
        connection.timeout = old


class Resync:
    """For request/reply drivers whose replies can arrive late or torn; list it before Instrument.

    :meth:`resync` discards pending input, then makes one exchange whose reply cannot be mistaken for
    anything else (:meth:`sync_exchange`); the engine calls it after a fault so the next query never decodes
    a stale reply. A link that stays out of step after ``RESYNC_ATTEMPTS`` flushes raises :class:`ReplyError`.
    """

    RESYNC_QUIET_MS = 100
    RESYNC_ATTEMPTS = 3
    name: str

    def sync_exchange(self) -> None:  # pragma: no cover - interface
        """One exchange with an unmistakable reply; raises when the reply is not that."""
        raise NotImplementedError

    def resync(self) -> None:
        """Flush the link and check, by one known exchange, that requests and replies are in step again."""
        last: Exception | None = None
        for _ in range(self.RESYNC_ATTEMPTS):
            try:
                drain_input(self, self.RESYNC_QUIET_MS)
                self.sync_exchange()
                return
            except Exception as exc:  # noqa: BLE001 - junk or a timeout: flush again, then give up
                last = exc
        raise ReplyError(f"{self.name}: link still out of step after {self.RESYNC_ATTEMPTS} flushes: "
                         f"{type(last).__name__}: {last}") from last


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
