"""Polls a ``LiveRunModel`` from a QTimer, with the database reads on a worker thread.

The GUI thread never waits for the database: each tick either starts a ``fetch()`` on the worker or, if the
previous one is done, applies its batch (cheap numpy appends) and redraws what changed.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from nanocell_daq.viewmodels import LiveRunModel, PollBatch

log = logging.getLogger(__name__)


class RunPoller(QObject):
    """Every ``interval_ms``: apply a finished fetch, call ``after_apply``, start the next fetch. On
    PostgreSQL a fetch starts only when the run has news (LISTEN/NOTIFY, ``storage.follow``) or once a
    second (heartbeat ages); on SQLite at every tick.

    ``error(text)`` is emitted when a read fails (e.g. the database is locked for long); polling goes on.
    ``draw_now``: what ``flush()`` calls last, when ``after_apply`` only schedules the redraws.
    """

    error = Signal(str)
    applied = Signal()

    def __init__(
        self,
        model: LiveRunModel,
        after_apply: Callable[[], None],
        interval_ms: int = 200,
        draw_now: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.after_apply = after_apply
        self.draw_now = draw_now
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-reader")
        self._future: cf.Future[PollBatch | None] | None = None
        self._last_error = ""
        self._follower: Any = None
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.tick)

    def start(self) -> None:
        """Start polling."""
        self.timer.start()
        self.tick()

    def stop(self) -> None:
        """Stop polling and wait for a read in flight (at most one)."""
        self.timer.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._forget_follower()

    def _due(self) -> bool:
        """Whether the run may have news (always, unless its store sends notifications)."""
        store = self.model.store
        if self._follower is not None and self._follower.store is not store:
            self._forget_follower()
        if self._follower is None and hasattr(store, "follower"):
            self._follower = store.follower(block=False)  # never waits on the GUI thread
        return self._follower is None or bool(self._follower.due())

    def _forget_follower(self) -> None:
        follower, self._follower = self._follower, None
        if follower is not None:
            follower.close()

    def tick(self, force: bool = False) -> None:
        """Apply a finished read and start the next one (never blocks on the database); ``force``: read
        even when the run has no news."""
        if self._future is not None:
            if not self._future.done():
                return
            future, self._future = self._future, None
            try:
                batch = future.result()
            except Exception as exc:  # noqa: BLE001 - shown to the user; the GUI goes on
                text = f"reading the run failed: {exc}"
                if text != self._last_error:
                    log.warning(text)
                    self.error.emit(text)
                self._last_error = text
            else:
                self._last_error = ""
                self.model.apply(batch)
                self.after_apply()
                self.applied.emit()
        if self.model.store is not None and self.model.run_id is not None and (self._due() or force):
            self._future = self._pool.submit(self.model.fetch)

    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait for the read in flight and apply it, then read and apply once more, and draw (tests,
        benchmarks)."""
        for _ in range(2):
            if self._future is None:
                self.tick(force=True)
            if self._future is not None:
                cf.wait([self._future], timeout=timeout_s)
            self.tick(force=True)
        if self.draw_now is not None:
            self.draw_now()
