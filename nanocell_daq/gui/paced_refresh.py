"""Redraw several plots one per event-loop pass, so their redraws and repaints never add up into one stall.

A poll that touches every plot would otherwise redraw them all in one callback, and Qt would repaint them all
in the one pass that follows: the event loop blocked for the sum (tens of ms with a 5 M-point trace, a
spectrum and a live map). Here each pass redraws one dirty view, Qt repaints just that view, and timers and
input run in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from PySide6.QtCore import QObject, QTimer


class DirtyView(Protocol):
    """A view that knows whether it has something to redraw, and redraws it."""

    dirty: bool

    def refresh(self) -> None: ...


class PacedRefresh(QObject):
    """Calls ``refresh()`` of the dirty ``views``, one per pass of the event loop, in their order.

    ``request()`` (e.g. after each poll) starts a round over the views (cheap, never redraws itself); a
    request during a round adds a later round for views it has passed. ``flush()`` redraws every dirty view
    at once (tests, screenshots). ``rounds`` counts finished rounds, ``slices`` the passes that redrew.
    """

    def __init__(self, views: Sequence[DirtyView], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.views = list(views)
        self._queue: list[DirtyView] = []
        self.rounds = 0
        self.slices = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)  # a timer, not a queued call: Qt repaints between two of its passes
        self._timer.timeout.connect(self._next)

    @property
    def busy(self) -> bool:
        """A round is under way."""
        return bool(self._queue)

    def request(self) -> None:
        """Redraw the dirty views, one per event-loop pass, starting at the next pass."""
        for v in self.views:
            if v not in self._queue:
                self._queue.append(v)
        if not self._timer.isActive():
            self._timer.start()

    def _next(self) -> None:
        """One pass: redraw the next dirty view (clean ones are skipped without costing a pass)."""
        while self._queue:
            view = self._queue.pop(0)
            if view.dirty:
                view.refresh()
                self.slices += 1
                break
        if self._queue:
            self._timer.start()
        else:
            self.rounds += 1

    def flush(self) -> None:
        """Redraw every dirty view now (and end a round under way)."""
        self._timer.stop()
        self._queue.clear()
        for v in self.views:
            v.refresh()
        self.rounds += 1
