"""Pause / resume / abort requests from signals (Ctrl-C, SIGTERM) and from the store's control table."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from procedures.context import StepAborted

CONTROL_POLL_S = 0.5
"""How often (wall s) the store's control table is read."""


class RunControl:
    """Run state shared by the engine's lanes: paused, abort requested (with a reason)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.paused = False
        self.pause_reason: str | None = None
        """Who asked for the present pause (``Ctrl-C``, ``control table``), for the log."""
        self.pause_count = 0
        """Number of pauses so far (each one must turn every output off once)."""
        self.abort_reason: str | None = None
        self.safe_generation = 0
        """Incremented each time the engine turned every output off for a pause."""

    def request_pause(self, reason: str = "control table") -> None:
        with self._cond:
            if not self.paused:
                self.pause_reason = reason
                self.pause_count += 1
            self.paused = True
            self._cond.notify_all()

    def request_resume(self) -> None:
        with self._cond:
            self.paused = False
            self.pause_reason = None
            self._cond.notify_all()

    def request_abort(self, reason: str) -> None:
        with self._cond:
            if self.abort_reason is None:
                self.abort_reason = reason
            self._cond.notify_all()

    @property
    def aborted(self) -> bool:
        return self.abort_reason is not None

    def raise_if_aborted(self) -> None:
        if self.abort_reason is not None:
            raise StepAborted(self.abort_reason)

    def wait(self, wall_s: float) -> None:
        """Sleep up to ``wall_s``; wake at once on abort or pause."""
        deadline = time.monotonic() + wall_s
        with self._cond:
            while not self.aborted and not self.paused:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(left)

    def wait_resumed(self) -> None:
        """Block while paused (returns on resume; raises on abort)."""
        with self._cond:
            while self.paused and not self.aborted:
                self._cond.wait(0.5)
        self.raise_if_aborted()


class ControlMonitor(threading.Thread):
    """Polls the store's control table and runs ``tick`` (progress) every ~0.5 s wall."""

    def __init__(
        self,
        store: Any,
        run_id: int,
        control: RunControl,
        tick: Callable[[], None] | None = None,
        log: Callable[[str, str], None] | None = None,
    ) -> None:
        super().__init__(name=f"run-{run_id}-control", daemon=True)
        self.store, self.run_id, self.control = store, run_id, control
        self.tick, self.log = tick, log
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.wait(CONTROL_POLL_S):
            self.poll_once()

    def poll_once(self) -> None:
        try:
            requests = self.store.pending_controls(self.run_id)
        except Exception as exc:  # noqa: BLE001 - a busy database must not stop the run; logged
            if self.log:
                self.log("warning", f"cannot read control requests: {exc}")
            requests = []
        for req in requests:
            action = req.action
            who = f" by {req.requested_by}" if getattr(req, "requested_by", None) else ""
            if action == "pause":
                self.control.request_pause()
            elif action == "resume":
                self.control.request_resume()
            elif action == "abort":
                self.control.request_abort(f"abort requested{who}")
            self.store.acknowledge_control(req.id, note=f"{action} handled")
            if self.log:
                self.log("info", f"control: {action}{who}")
        if self.tick:
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - progress display is not critical
                if self.log:
                    self.log("warning", f"progress update failed: {exc}")

    def stop(self) -> None:
        self._stop.set()


class SignalHandlers:
    """Ctrl-C pauses safely (a second Ctrl-C, or one while paused, aborts); SIGTERM aborts, as service
    managers stop unattended runs with it. Both act between points. Restored on exit; main thread only."""

    def __init__(self, control: RunControl) -> None:
        self.control = control
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        # Only flags and a notify here: the engine does the instrument work between points.
        if signum == signal.SIGINT and not self.control.paused and not self.control.aborted:
            self.control.request_pause("Ctrl-C")
        elif signum == signal.SIGINT:
            self.control.request_abort("Ctrl-C pressed again")
        else:
            self.control.request_abort(f"{signal.Signals(signum).name} received")

    def __enter__(self) -> SignalHandlers:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
