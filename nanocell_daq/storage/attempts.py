"""Attempts of one plan step: a step interrupted (kill, abort) and resumed is stored as several step rows
with the same ``plan_index`` parameter. A galvanostatic half-cycle is the sum of its attempts; a checkpoint
step (I-V, map) redone after an interruption is its completed repeat, never the partial.

Charge passed without data (after an engine died, when the potentiostat could not give back what it
measured) is recorded as an event of the step carrying :data:`GAP_TAG` and an upper bound in C.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

GAP_TAG = "charge passed without data (upper bound, counted as passed): "
"""Event text followed by ``<charge> C``: the charge a step may have passed after its last stored sample."""

_GAP = re.compile(re.escape(GAP_TAG) + r"(\S+) C")


def plan_index(step: Any) -> int | None:
    """The plan step a stored step is an attempt of (None for steps outside the plan, e.g. a re-check)."""
    idx = (getattr(step, "parameters", None) or {}).get("plan_index")
    try:
        idx = int(idx)
    except (TypeError, ValueError):
        return None
    return idx if idx >= 0 else None


def attempt_groups(steps: Sequence[Any]) -> dict[int, int]:
    """Step id -> id of the first attempt of the same plan step (itself when it has no other attempt)."""
    first: dict[tuple[int, str], int] = {}
    out: dict[int, int] = {}
    for s in sorted(steps, key=lambda r: r.index):
        idx = plan_index(s)
        if idx is None:
            out[s.id] = s.id
            continue
        out[s.id] = first.setdefault((idx, s.kind), s.id)
    return out


def superseded(steps: Sequence[Any]) -> set[int]:
    """Ids of attempts that did not complete while another attempt of the same plan step did."""
    groups = attempt_groups(steps)
    done = {groups[s.id] for s in steps if s.status == "completed"}
    return {s.id for s in steps if s.status != "completed" and groups[s.id] in done}


def unrecorded_charge_C(events: Iterable[Any], step_id: int) -> float:
    """Upper bound (C, absolute) of the charge step ``step_id`` passed without data (its gap events)."""
    total = 0.0
    for event in events:
        if event.step_id != step_id or (m := _GAP.search(event.message)) is None:
            continue
        try:
            value = float(m.group(1))
        except ValueError:
            continue
        if math.isfinite(value):
            total += abs(value)
    return total
