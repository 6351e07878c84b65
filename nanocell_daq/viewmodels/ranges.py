"""Sticky plot ranges: grow in rounded steps only when data leaves the view, so axes re-render rarely.

Re-laying out and re-rendering an axis costs milliseconds per plot; a range that follows the data exactly
changes on every update of a live run. A range from ``grow_range`` changes a few times per decade of growth.
"""

from __future__ import annotations

import math


def _nice_step(span: float) -> float:
    return 10.0 ** math.floor(math.log10(span / 4.0))


def grow_range(
    view: tuple[float, float] | None,
    lo: float,
    hi: float,
    *,
    headroom: float = 0.2,
    shrink_below: float = 0.3,
) -> tuple[float, float] | None:
    """The new range for data spanning ``lo..hi`` shown in ``view``, or None to keep ``view``.

    The view is kept while it holds the data and the data fill at least ``shrink_below`` of it; otherwise the
    new range is the data plus ``headroom`` of its span on each side, rounded out to a tenth of a decade.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    lo, hi = min(lo, hi), max(lo, hi)
    if view is not None:
        v0, v1 = view
        if v0 <= lo and hi <= v1 and (hi - lo) >= shrink_below * (v1 - v0):
            return None
    span = hi - lo
    if span <= 0:
        span = abs(hi) * 1e-3 or 1e-12
    step = _nice_step(span)
    new_lo = math.floor((lo - headroom * span) / step) * step
    new_hi = math.ceil((hi + headroom * span) / step) * step
    return new_lo, new_hi
