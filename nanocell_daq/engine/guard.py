"""Per-instrument locks and fault translation around the role objects the steps use."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

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

    def _wrap(self, call: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                try:
                    return fn(*args, **kwargs)
                except _PASS:
                    raise
                except Exception as exc:
                    fault = InstrumentFault(self._name, call, exc)
                    fault.link_error = _is_link_error(exc)
                    raise fault from exc

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
            except Exception as exc:
                raise InstrumentFault(self._name, attr, exc) from exc
        return self._wrap(attr, value) if callable(value) else value

    def _recover(self) -> bool:
        """Reconnect after a link error (called by retries and the safety code)."""
        with self._lock:
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
                raise InstrumentFault(self._name, f"{attr} = {value!r}", exc) from exc


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

    def role(self, name: str) -> Any:
        try:
            return self.guarded[name]
        except KeyError:
            raise StepFault(f"the station has no {name!r} role") from None

    def has(self, name: str) -> bool:
        return name in self.guarded
