"""Per-instrument locks and fault translation around the role objects the steps use.

Every failed call, property read or property write becomes an :class:`InstrumentFault` marked ``link_error``
when the link dropped or timed out (the retry in ``StepContext.query`` and the safety code reconnect first).
Before the fault is raised, a driver that can resynchronise (``drivers._common.Resync``) gets a new session
and a flushed link whenever the reply may still be on its way or only half read (timeout, dropped link, torn
or unparseable reply): whatever runs next, a retry or the shutdown, never decodes a stale reply.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from drivers.errors import DriverError, ReplyError
from procedures.context import InstrumentFault, StepAborted, StepFault

_PASS = (StepAborted, StepFault, KeyboardInterrupt)


def _connection(obj: Any) -> Any:
    """The pyvisa resource under a driver (or under a router's matrix), if any."""
    for holder in (obj, getattr(obj, "matrix", None), getattr(obj, "instrument", None)):
        adapter = getattr(holder, "adapter", None)
        conn = getattr(adapter, "connection", None)
        if conn is not None and hasattr(conn, "open") and hasattr(conn, "close"):
            return conn
    return None


def reconnect(obj: Any) -> bool:
    """Close and reopen the instrument's VISA session (after a dropped connection); True if done.

    The timeout is restored: a reopened session starts with the VISA default.
    """
    conn = _connection(obj)
    if conn is None:
        return False
    timeout = getattr(conn, "timeout", None)
    read_term = getattr(conn, "read_termination", None)
    write_term = getattr(conn, "write_termination", None)
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - the session is dead anyway
        pass
    try:
        conn.open()
        # a new session starts with VISA defaults: put back what the driver had set
        if timeout is not None:
            conn.timeout = timeout
        if read_term is not None:
            conn.read_termination = read_term
        if write_term is not None:
            conn.write_termination = write_term
        return True
    except Exception:  # noqa: BLE001 - the caller reports the original fault
        return False


def _is_link_error(exc: BaseException) -> bool:
    """A dropped connection or a VISA I/O error: worth a reconnect before the next attempt."""
    if isinstance(exc, ConnectionError | BrokenPipeError | EOFError):
        return True
    return type(exc).__name__ in ("VisaIOError", "InvalidSession")


def _may_hold_stale_bytes(exc: BaseException) -> bool:
    """False only for an error the instrument reported cleanly (its error queue, a framed error reply): after
    anything else (timeout, dropped link, torn block, a reply that does not parse) the link may still hold
    bytes of the failed exchange."""
    return isinstance(exc, ReplyError) or not isinstance(exc, DriverError)


def flush(obj: Any) -> bool:
    """Reconnect and resynchronise a driver that can (``resync()``); True if its link is in step again.

    A new session leaves a reply still on its way behind on the old one (TCP); ``resync`` then drains what
    is pending (serial) and checks one known exchange. Drivers without ``resync`` (e.g. a potentiostat
    whose reader thread owns the link) are left alone: False.
    """
    resync = getattr(obj, "resync", None)
    if not callable(resync):
        return False
    reconnect(obj)
    try:
        resync()
        return True
    except Exception:  # noqa: BLE001 - the caller reports the original fault
        return False


class Guarded:
    """Wraps an instrument: every call, property read and attribute write holds the instrument's lock
    (parallel lanes and the safety code share instruments), and any driver/VISA error becomes an
    :class:`InstrumentFault` naming the instrument and the call."""

    def __init__(
        self, obj: Any, lock: threading.RLock, name: str, fence: Callable[[], None] | None = None
    ) -> None:
        object.__setattr__(self, "_fence", fence)
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_lock", lock)
        object.__setattr__(self, "_name", name)

    def _fault(self, call: str, exc: Exception) -> InstrumentFault:
        """The fault for ``exc`` (lock held); first the link is flushed if it may hold stale bytes."""
        fault = InstrumentFault(self._name, call, exc)
        fault.link_error = _is_link_error(exc)
        fault.flushed = (fault.link_error or _may_hold_stale_bytes(exc)) and flush(self._obj)
        return fault

    def _wrap(self, call: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                try:
                    return fn(*args, **kwargs)
                except _PASS:
                    raise
                except Exception as exc:
                    raise self._fault(call, exc) from exc

        return guarded

    def __getattr__(self, attr: str) -> Any:
        if self._fence is not None:  # the engine still holds its lease (raises LeaseLost if not)
            self._fence()
        with self._lock:
            try:
                value = getattr(self._obj, attr)
            except _PASS:
                raise
            except AttributeError:
                raise
            except Exception as exc:  # a property read is an exchange like any call
                raise self._fault(attr, exc) from exc
        return self._wrap(attr, value) if callable(value) else value

    def _recover(self) -> bool:
        """Reconnect after a link error (called by retries and the safety code); drivers that can
        resynchronise also get their link flushed and checked."""
        with self._lock:
            if callable(getattr(self._obj, "resync", None)):
                return flush(self._obj)
            return reconnect(self._obj)

    def __setattr__(self, attr: str, value: Any) -> None:
        if self._fence is not None:
            self._fence()
        with self._lock:
            try:
                setattr(self._obj, attr, value)
            except _PASS:
                raise
            except Exception as exc:
                raise self._fault(f"{attr} = {value!r}", exc) from exc


class Instruments:
    """The station's role objects, guarded; one lock per physical instrument (roles may share one).

    ``fence`` (if given) runs before every instrument call, property read or write: the engine's lease check.
    """

    def __init__(
        self, roles: dict[str, Any], names: dict[str, str], fence: Callable[[], None] | None = None
    ) -> None:
        locks: dict[int, threading.RLock] = {}
        self.raw = dict(roles)
        self.guarded: dict[str, Guarded] = {}
        for role, obj in roles.items():
            lock = locks.setdefault(id(obj), threading.RLock())
            self.guarded[role] = Guarded(obj, lock, names.get(role, role), fence)

    def only(self, roles: set[str] | frozenset[str]) -> Instruments:
        """A view of these ``roles`` alone (the same guarded objects and locks)."""
        view = Instruments({}, {})
        view.raw = {r: o for r, o in self.raw.items() if r in roles}
        view.guarded = {r: g for r, g in self.guarded.items() if r in roles}
        return view

    def role(self, name: str) -> Any:
        try:
            return self.guarded[name]
        except KeyError:
            raise StepFault(f"the station has no {name!r} role") from None

    def has(self, name: str) -> bool:
        return name in self.guarded
