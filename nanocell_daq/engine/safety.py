"""Make the station safe: every output off (SMU, cell, shutter, laser) and, at the end, the matrix open."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_ATTEMPTS = 3


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


def outputs_off(instruments: Any) -> list[str]:
    """SMU output off, potentiostat stopped (cell off), shutter closed, laser off; returns what failed."""
    failures: list[str] = []
    if instruments.has("source_meter"):
        smu = instruments.role("source_meter")
        _try(smu.disable_output, "source_meter output off", failures, smu)
    stopped: set[int] = set()
    for role in ("galvanostat", "potentiostat"):  # one instrument may fill both; two must both stop
        if instruments.has(role) and id(instruments.raw[role]) not in stopped:
            stopped.add(id(instruments.raw[role]))
            pstat = instruments.role(role)
            _try(pstat.stop, f"{role} stop", failures, pstat)
    if instruments.has("shutter"):
        shutter = instruments.role("shutter")
        _try(shutter.close, "shutter close", failures, shutter)
    if instruments.has("laser"):
        laser = instruments.role("laser")
        _try(lambda: setattr(laser, "power_mW", 0.0), "laser off", failures, laser)
    return failures


def all_safe(instruments: Any) -> list[str]:
    """Every output off, then the router open (nothing connected to the chip)."""
    failures = outputs_off(instruments)
    if instruments.has("router"):
        router = instruments.role("router")
        _try(router.open_all, "router open all", failures, router)
    return failures
