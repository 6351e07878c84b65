"""What a run's end, the queue and a stale engine say: kinds, titles and bodies of notifications."""

from __future__ import annotations

from typing import Any

KINDS = ("run_finished", "run_failed", "run_interrupted", "run_aborted", "unsafe_end", "limit_tripped",
         "engine_stale", "queue_empty", "queue_stopped")
"""Every kind of notification (a notifier may be limited to some)."""

UNSAFE_MARK = "not verified safe"


def _where(station: str | None, device: str | None) -> str:
    where = f" on {station}" if station else ""
    return where + (f", device {device}" if device else "")


def run_messages(result: Any, station: str | None = None, device: str | None = None
                 ) -> list[tuple[str, str, str]]:
    """(kind, title, body) for a finished engine run (``RunResult``: run_id, status, reason, outcomes)."""
    from nanocell_daq.station.limits import LimitError

    run, status, reason = result.run_id, result.status, result.reason or ""
    kind = {"completed": "run_finished", "failed": "run_failed", "interrupted": "run_interrupted",
            "aborted": "run_aborted"}.get(status, "run_failed")
    where = _where(station, device)
    body = f"run {run} {status}{where}" + (f": {reason}" if reason else "")
    messages = [(kind, f"nanocell: run {run} {status}", body)]
    # a LimitError, or a step the host stopped on a sample outside the station's limits (procedures' StepFault
    # "limit overshoot": a trip during the run, after planning let it start)
    tripped = [o for o in getattr(result, "outcomes", [])
               if isinstance(o.error, LimitError) or "limit overshoot" in str(o.error or "")]
    for outcome in tripped:
        label = getattr(outcome.item, "label", None) or getattr(outcome.item, "kind", "a step")
        messages.append(("limit_tripped", f"nanocell: run {run}: limit tripped",
                         f"run {run}{where}, step {label}: {outcome.error}"))
    if UNSAFE_MARK in reason.lower():
        messages.append(("unsafe_end", f"nanocell: run {run} ended NOT verified safe",
                         f"run {run}{where}: {reason}. The matrix stays closed while a source may be on: "
                         f"check the station before anything else."))
    return messages


def crashed_message(run_id: int | None, station: str | None, device: str | None, exc: BaseException
                    ) -> tuple[str, str, str]:
    """An engine that ended by an exception (its supervisor makes the bench safe and marks the run)."""
    run = f"run {run_id}" if run_id is not None else "a run"
    return ("run_interrupted", f"nanocell: {run} interrupted",
            f"{run}{_where(station, device)}: the engine ended with {type(exc).__name__}: {exc}; the "
            f"supervisor makes the station safe and marks the run interrupted")
