"""How the progress bar reads for a run: the fraction shown and its text, for every run status."""

from __future__ import annotations

from dataclasses import dataclass

from nanocell_daq.storage import Progress
from nanocell_daq.viewmodels.run_browser import format_duration

MAX_REASON_CHARS = 90
"""A longer reason is cut in the bar (the run label and the tool tip show it whole)."""


LIVENESS_TEXT = {
    "paused": "every output off; resume or abort it",
    "stale": "its engine is silent; wait, or abort it",
    "dead": "its engine is gone; resume the run",
}
"""What the bar says for a run marked running whose engine is paused, silent or gone."""


@dataclass(frozen=True)
class ProgressView:
    """``fraction`` (0..1) to fill the bar with, ``text`` written on it (no Qt ``%p`` placeholders)."""

    fraction: float
    text: str


def _pct(fraction: float) -> str:
    return f"{100 * fraction:.0f}%"


def progress_view(status: str, reason: str | None, progress: Progress | None) -> ProgressView:
    """The bar of a run with ``status`` (``""``: not read yet; for a run marked running, its liveness:
    running, paused, stale or dead) and its latest progress row (None: none).

    A completed run is full whatever its last progress row said (a short run may end before writing
    one); a failed, aborted or interrupted run says so, where it stopped, and why.
    """
    fraction = 0.0 if progress is None else min(max(progress.fraction, 0.0), 1.0)
    if status == "completed":
        return ProgressView(1.0, "completed 100%")
    if status in ("", "running"):
        if progress is None:
            return ProgressView(0.0, "waiting for progress…")
        eta = f"ETA {format_duration(progress.eta_s)}" if progress.eta_s is not None else "ETA unknown"
        return ProgressView(fraction, f"{_pct(fraction)}  ·  {eta}")
    where = f" at {_pct(fraction)}" if progress is not None else ""
    if status in LIVENESS_TEXT:  # a run marked running, as its engine's lease shows it
        return ProgressView(fraction, f"{status}{where} — {LIVENESS_TEXT[status]}")
    first = (reason or "").strip().splitlines()[0] if (reason or "").strip() else ""
    if len(first) > MAX_REASON_CHARS:
        first = first[: MAX_REASON_CHARS - 1] + "…"
    why = f" — {first}" if first else ""
    return ProgressView(fraction, f"{status}{where}{why}")
