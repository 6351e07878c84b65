"""``nanocell notify watch``: tell someone when an engine falls silent.

An engine notifies how its own run ends, and its supervisor when the engine dies; neither can say that the
engine *hangs* (stopped, swapping, a blocked driver call): its heartbeat just stops. The watcher reads the
store the way ``nanocell runs`` does and notifies once when a run's engine turns ``stale`` (no heartbeat for
``STALE_AFTER_S``) or ``dead``, and once more if it recovers.
"""

from __future__ import annotations

from typing import Any

from nanocell_daq.storage.leases import liveness

SILENT = ("stale", "dead")


class StaleWatch:
    """Compares each run's liveness with the last look; notifies on a change into or out of silence."""

    def __init__(self, store: Any, notifier: Any) -> None:
        self.store = store
        self.notifier = notifier
        self.seen: dict[int, str] = {}
        self._looked = False

    def look(self) -> list[tuple[int, str]]:
        """One look; returns (run id, new state) of each run it notified about."""
        runs = [r for r in self.store.runs() if r.status == "running"]
        told = []
        first, self._looked = not self._looked, True
        for run_id, live in liveness(self.store, runs).items():
            before = self.seen.get(run_id)
            self.seen[run_id] = live.state
            if first and live.state == "dead":
                continue  # dead before the watcher started (``nanocell runs`` shows it): not news
            if live.state in SILENT and before not in SILENT:
                age = "" if live.heartbeat_age_s is None else f", heartbeat {live.heartbeat_age_s:.0f} s ago"
                where = f" (pid {live.engine_pid} on {live.host}{age})" if live.engine_pid else ""
                self.notifier.notify("engine_stale", f"nanocell: run {run_id} engine {live.state}",
                                     f"the engine of run {run_id} is {live.state}{where}; `nanocell resume "
                                     f"{run_id}` takes it over once it is stale")
                told.append((run_id, live.state))
            elif before in SILENT and live.state not in SILENT:
                self.notifier.notify("engine_stale", f"nanocell: run {run_id} engine {live.state} again",
                                     f"the engine of run {run_id} beats again ({live.state})")
                told.append((run_id, live.state))
        return told
