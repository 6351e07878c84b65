"""Per-instrument locks and fault translation around the role objects the steps use."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from procedures.context import InstrumentFault, StepAborted, StepFault

_PASS = (StepAborted, StepFault, KeyboardInterrupt)


class Guarded:
    """Wraps an instrument: every call, property read and attribute write holds the instrument's lock
    (parallel lanes and the safety code share instruments), and any driver/VISA error becomes an
    :class:`InstrumentFault` naming the instrument and the call."""

    def __init__(self, obj: Any, lock: threading.RLock, name: str) -> None:
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
                    raise InstrumentFault(self._name, call, exc) from exc
        return guarded

    def __getattr__(self, attr: str) -> Any:
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

    def __setattr__(self, attr: str, value: Any) -> None:
        with self._lock:
            try:
                setattr(self._obj, attr, value)
            except _PASS:
                raise
            except Exception as exc:
                raise InstrumentFault(self._name, f"{attr} = {value!r}", exc) from exc


class Instruments:
    """The station's role objects, guarded; one lock per physical instrument (roles may share one)."""

    def __init__(self, roles: dict[str, Any], names: dict[str, str]) -> None:
        locks: dict[int, threading.RLock] = {}
        self.raw = dict(roles)
        self.guarded: dict[str, Guarded] = {}
        for role, obj in roles.items():
            lock = locks.setdefault(id(obj), threading.RLock())
            self.guarded[role] = Guarded(obj, lock, names.get(role, role))

    def role(self, name: str) -> Any:
        try:
            return self.guarded[name]
        except KeyError:
            raise StepFault(f"the station has no {name!r} role") from None

    def has(self, name: str) -> bool:
        return name in self.guarded
