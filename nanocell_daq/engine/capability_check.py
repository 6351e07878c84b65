"""Can the station's instruments do what a step asks? Currents against each model's datasheet ranges.

Planning (``engine.plan.expand``) asks this for every written step, before anything is switched on:

- a galvanostatic step's ``current_A`` on the galvanostat: refused when no source range holds it, when it
  is below the programming resolution of the smallest range that holds it, or when the expected error
  there (``gain * |I| + offset`` from the datasheet) is at least 100 % of the setting (the instrument may
  then deliver nothing or the opposite sign); a warning when that error exceeds 5 % of the setting;
- an I-V step's ``compliance_A`` on the source meter: refused outside the limit values the model can set;
  a warning when its current reading near the compliance is uncertain by more than 5 %;
- a hold or CV step's current cut-off (the station's ``cycling_max_current_A``) on the potentiostat:
  refused beyond its largest current range; a warning when it is measured less well than 5 %; likewise a
  warning for a hold's stop current ``i_min_A`` read less well than 5 %.

A driver with tables whose station entry names no model (``options: {model: ...}``) gets one warning per
instrument saying the capability was not checked; a driver without tables is not checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drivers.capability import WARN_FRACTION, Capability, si


@dataclass(frozen=True)
class Finding:
    """A refusal (``refuse``) or a warning (``warn``) about ``field`` of a step."""

    level: str
    field: str
    message: str


def check_step(kind: str, params: dict[str, Any], label: str, station: Any) -> list[Finding]:
    """Findings for one step (``kind``, its parameters as a dict, its plan label) on ``station``."""
    if kind == "galvanostatic":
        return _galvanostatic(params["current_A"], label, station)
    if kind == "iv":
        return _compliance(params["compliance_A"], label, station)
    if kind in ("potentiostatic_hold", "cv"):
        limit = station.limits.cycling_max_current_A
        found = _cutoff(limit, label, station) if limit is not None else []
        if kind == "potentiostatic_hold" and params.get("i_min_A", 0) > 0:
            found += _stop_current(params["i_min_A"], label, station)
        return found
    return []


def not_declared(station: Any, role: str) -> Finding | None:
    """The warning for a role whose instrument declares no model (None when it does, or has no tables)."""
    found = station.capability(role)
    if found is None or found[0] is not None:
        return None
    return Finding("warn", role, f"capability not checked: instrument {found[1]} declares no model; add "
                                 f"'model' to its options to compare each step with its ranges")


def _declared(station: Any, role: str) -> tuple[Capability, str] | None:
    found = station.capability(role) if station.has_role(role) else None
    if found is None or found[0] is None:
        return None
    return found[0], found[1]


def _galvanostatic(current_A: float, label: str, station: Any) -> list[Finding]:
    declared = _declared(station, "galvanostat")
    if declared is None or current_A == 0:
        return []
    cap, who = declared
    verdict = cap.judge_source("current", current_A)
    if verdict.level == "ok":
        return []
    smallest = si(cap.smallest_source_range("current").full_scale, "A")
    text = (f"step {label!r}: galvanostat {who}, smallest current range {smallest}, would deliver "
            f"{verdict.delivers()} ({verdict.reason})")
    return [Finding(verdict.level, "current_A", text)]


def _compliance(compliance_A: float, label: str, station: Any) -> list[Finding]:
    declared = _declared(station, "source_meter")
    if declared is None:
        return []
    cap, who = declared
    low, high = cap.limit.get("current", (0.0, float("inf")))
    if not low <= compliance_A <= high:
        return [Finding("refuse", "compliance_A",
                        f"step {label!r}: a {si(compliance_A, 'A')} compliance on source meter {who}, which "
                        f"limits current to {si(low, 'A')}..{si(high, 'A')}")]
    return _measured("compliance_A", "compliance", compliance_A, label, cap, who)


def _cutoff(limit_A: float, label: str, station: Any) -> list[Finding]:
    declared = _declared(station, "potentiostat")
    if declared is None:
        return []
    cap, who = declared
    return _measured("max_current_A", "current cut-off (station cycling_max_current_A)", limit_A, label, cap,
                     who)


def _stop_current(i_min_A: float, label: str, station: Any) -> list[Finding]:
    """A hold stops when |I| < ``i_min_A``: below what the potentiostat reads, it may never stop early."""
    declared = _declared(station, "potentiostat")
    if declared is None:
        return []
    cap, who = declared
    return _measured("i_min_A", "stop current i_min_A (the hold may run to its time limit)", i_min_A, label,
                     cap, who)


def _measured(field: str, what: str, value: float, label: str, cap: Capability, who: str) -> list[Finding]:
    """Refuse a current no measure range holds; warn when it is read less well than 5 %."""
    rng = cap.measure_range_for("current", value)
    if rng is None:
        top = si(cap.measure["current"][-1].full_scale, "A")
        return [Finding("refuse", field, f"step {label!r}: the {what} {si(value, 'A')} is beyond the largest "
                                         f"current range {top} of {who}")]
    err = rng.error(value)
    if err is None or not value or err / value <= WARN_FRACTION:
        return []
    # a limit or cut-off is never refused for its accuracy: the step still runs, less well bounded
    return [Finding("warn", field, f"step {label!r}: the {what} {si(value, 'A')} is read as "
                                  f"{si(value, 'A')} +- {si(err, 'A')} on the "
                                  f"{si(rng.full_scale, 'A')} range of {who} ({err / value:.0%})")]
