"""Make the station safe: every output off (SMU, cell, shutter, laser) and, at the end, the matrix open."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_ATTEMPTS = 3


def _try(action: Callable[[], Any], what: str, failures: list[str]) -> None:
    last: BaseException | None = None
    for _ in range(_ATTEMPTS):
        try:
            action()
            return
        except Exception as exc:  # noqa: BLE001 - every output must be tried even if one instrument fails
            last = exc
    failures.append(f"{what}: {type(last).__name__}: {last}")


def outputs_off(instruments: Any) -> list[str]:
    """SMU output off, potentiostat stopped (cell off), shutter closed, laser off; returns what failed."""
    failures: list[str] = []
    if instruments.has("source_meter"):
        _try(instruments.role("source_meter").disable_output, "source_meter output off", failures)
    for role in ("galvanostat", "potentiostat"):
        if instruments.has(role):
            _try(instruments.role(role).stop, f"{role} stop", failures)
            break
    if instruments.has("shutter"):
        _try(instruments.role("shutter").close, "shutter close", failures)
    if instruments.has("laser"):
        _try(lambda: setattr(instruments.role("laser"), "power_mW", 0.0), "laser off", failures)
    return failures


def all_safe(instruments: Any) -> list[str]:
    """Every output off, then the router open (nothing connected to the chip)."""
    failures = outputs_off(instruments)
    if instruments.has("router"):
        _try(instruments.role("router").open_all, "router open all", failures)
    return failures
