"""Make the station safe and say so only when read back: every output off (SMU, cell, shutter, laser), then
the matrix open, and the matrix never opened while a source reads back on (or cannot be read).

``instruments`` is anything with ``has(role)``, ``role(role)`` (guarded role objects with ``_recover()``),
and ``raw`` (role -> driver): the engine's
:class:`~nanocell_daq.engine.guard.Instruments`, or the supervisor's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_ATTEMPTS = 3
_READ_ATTEMPTS = 2

CELL_ROLES = ("galvanostat", "potentiostat")


def _try(action: Callable[[], Any], what: str, failures: list[str], guarded: Any = None) -> None:
    """Try ``action`` a few times, reconnecting the instrument after a dropped link."""
    last: BaseException | None = None
    for _ in range(_ATTEMPTS):
        try:
            action()
            return
        except Exception as exc:  # noqa: BLE001 - every output must be tried even if one instrument fails
            last = exc
            if guarded is not None:
                guarded._recover()
    failures.append(f"{what}: {type(last).__name__}: {last}")


def _read(question: Callable[[], Any], guarded: Any) -> tuple[Any, str | None]:
    """(answer, None), or (None, why) when the instrument could not answer (after a reconnect)."""
    last: BaseException | None = None
    for _ in range(_READ_ATTEMPTS):
        try:
            return question(), None
        except Exception as exc:  # noqa: BLE001 - an unreadable output is reported, never assumed off
            last = exc
            try:
                guarded._recover()
            except Exception:  # noqa: BLE001 - the read's error is the one reported
                pass
    return None, f"{type(last).__name__}: {last}"


def _name(instruments: Any, role: str) -> str:
    """``role (instrument)``: the guarded object's instrument name, when it differs from the role."""
    name = getattr(instruments.role(role), "_name", None)
    return f"{role} ({name})" if isinstance(name, str) and name != role else role


def _cell_roles(instruments: Any) -> list[str]:
    """Galvanostat/potentiostat roles, one per physical instrument."""
    seen: set[int] = set()
    out = []
    for role in CELL_ROLES:
        if instruments.has(role) and id(instruments.raw[role]) not in seen:
            seen.add(id(instruments.raw[role]))
            out.append(role)
    return out


def outputs_off(instruments: Any) -> list[str]:
    """SMU output off, potentiostat stopped (cell off), shutter closed, laser off; returns what failed."""
    failures: list[str] = []
    if instruments.has("source_meter"):
        smu = instruments.role("source_meter")
        _try(smu.disable_output, "source_meter output off", failures, smu)
    for role in _cell_roles(instruments):  # one instrument may fill both; two must both stop
        pstat = instruments.role(role)
        _try(pstat.stop, f"{role} stop", failures, pstat)
    if instruments.has("shutter"):
        shutter = instruments.role("shutter")
        _try(shutter.close, "shutter close", failures, shutter)
    if instruments.has("laser"):
        laser = instruments.role("laser")
        _try(lambda: setattr(laser, "power_mW", 0.0), "laser off", failures, laser)
    return failures


def outputs_read_back(instruments: Any) -> tuple[list[str], list[str]]:
    """Read every output back: (the ones that read on, the ones that could not be read, with why).

    SMU output state, potentiostat/galvanostat cell and technique (``cell_is_off``), shutter, laser power.
    """
    live: list[str] = []
    unread: list[str] = []
    checks: list[tuple[str, str, Callable[[Any], bool]]] = []
    if instruments.has("source_meter"):
        checks.append(("source_meter", "output", lambda o: bool(o.output_enabled)))
    for role in _cell_roles(instruments):
        checks.append((role, "cell", lambda o: not o.cell_is_off()))
    if instruments.has("shutter"):
        checks.append(("shutter", "open", lambda o: bool(o.is_open)))
    if instruments.has("laser"):
        checks.append(("laser", "emission", lambda o: float(o.power_mW) > 0))
    for role, what, is_on in checks:
        obj = instruments.role(role)
        on, why = _read(lambda o=obj, f=is_on: f(o), obj)
        label = f"{_name(instruments, role)} {what}"
        if why is not None:
            unread.append(f"{label} could not be read back ({why})")
        elif on:
            live.append(f"{label} reads back on")
    return live, unread


def verify_outputs_off(instruments: Any) -> list[str]:
    """Each output that does not read back off (on, or unreadable); empty when every one reads off."""
    live, unread = outputs_read_back(instruments)
    return live + unread


def open_router_if_safe(instruments: Any, problems: list[str]) -> list[str]:
    """Open the router only when ``problems`` (outputs not verified off) is empty, and read it back open.

    Returns what is wrong with the router: left closed on purpose (naming the closed channels when they can
    be read), failed to open, or not read back open.
    """
    if not instruments.has("router"):
        return []
    router = instruments.role("router")
    label = _name(instruments, "router")
    if problems:
        closed, why = _read(lambda: sorted(router.closed_channels()), router)
        if closed == []:
            return []  # already open: nothing connects the chip
        where = f"closed on {', '.join(closed)}" if closed else f"as it was ({why})"
        return [f"{label} left {where}: not opened while a source is not verified off"]
    failures: list[str] = []
    _try(router.open_all, f"{label} open", failures, router)
    closed, why = _read(lambda: sorted(router.closed_channels()), router)
    if why is not None:
        return [*failures, f"{label} could not be read back ({why})"]
    if closed:
        return [*failures, f"{label} still closed on {', '.join(closed)}"]
    return []


def all_safe(instruments: Any) -> list[str]:
    """Every output off and read back off, then the router opened and read back open.

    Returns what could not be verified (empty = every output reads back off and the matrix reads open). The
    router is not opened while any source reads back on or cannot be read.
    """
    failures = outputs_off(instruments)
    problems = verify_outputs_off(instruments)
    if problems and failures:
        problems = [*problems, f"(switching off: {'; '.join(failures)})"]
    return problems + open_router_if_safe(instruments, problems)
