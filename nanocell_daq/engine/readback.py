"""Which outputs read back on: the SMU output, a running cell technique, an open shutter, the laser.

Reading back also orders things on the wire: a query to an instrument returns only after the commands written
to it before were processed, so an output written off and then read back off is off before the router moves.
"""

from __future__ import annotations

from typing import Any

_ATTEMPTS = 3


def _read(what: str, read: Any, found: list[str]) -> None:
    """Append ``what`` when ``read()`` says on; a read that fails three times counts as on."""
    for attempt in range(_ATTEMPTS):
        try:
            if read():
                found.append(what)
            return
        except Exception as exc:  # noqa: BLE001 - an output that cannot be read back is not known to be off
            if attempt == _ATTEMPTS - 1:
                found.append(f"{what} (read-back failed: {exc})")


def outputs_on(instruments: Any) -> list[str]:
    """Names of the outputs that read back on (or could not be read back), in a fixed order."""
    found: list[str] = []
    if instruments.has("source_meter"):
        smu = instruments.role("source_meter")
        _read("source_meter output", lambda: smu.output_enabled, found)
    seen: set[int] = set()
    for role in ("galvanostat", "potentiostat"):
        if instruments.has(role) and id(instruments.raw[role]) not in seen:
            seen.add(id(instruments.raw[role]))
            pstat = instruments.role(role)
            _read(f"{role} technique", lambda p=pstat: p.running, found)
    if instruments.has("shutter"):
        shutter = instruments.role("shutter")
        _read("shutter open", lambda: shutter.is_open, found)
    if instruments.has("laser"):
        laser = instruments.role("laser")
        _read("laser", lambda: float(laser.power_mW) > 0.0, found)
    return found
