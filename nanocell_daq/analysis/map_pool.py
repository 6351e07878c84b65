"""Raman map fits in a worker process while the analysis does the rest (cycling, I-V) in its own.

:class:`MapPool` starts one worker process (``python -m nanocell_daq.analysis.map_worker``: a fresh
interpreter that shares nothing with the caller and does not re-run the caller's script), which opens the
store itself;
a thread of the caller hands it the map steps to fit one at a time, from the last backwards (the last is
its own from the start). The caller, when
it comes to the maps (first to last), fits itself each one the worker has not been given and waits for the
others: the two meet in the middle, so the two cores share the fits whatever else the caller had to do first.
A map is fitted by the same function in either process, so the pixels are the same. The worker's CPU time per
map comes back with it (``worker_cpu_s``).

A worker that fails or dies (out of memory, killed) is not an error: the caller fits the maps it did not
return (and meets the error itself if there is one in the data).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(256 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
"""glibc settings of the worker: the fits' arrays of a few MB are reused from the heap, not mapped and
unmapped (page faults) each time: ~10 % less CPU (other systems ignore them)."""
_PENDING, _GIVEN, _DONE, _HERE = range(4)  # a map: not given yet, given to the worker, fitted there, here


def usable(store: Any) -> bool:
    """A store a worker process can open too (a database file or server), on a system with fork/exec pipes."""
    loc = getattr(store, "location", None)
    return os.name == "posix" and bool(sys.executable) and loc is not None and hasattr(loc, "url")


class MapPool:
    """Fits of map steps shared between one worker process and the caller (see the module doc).

    ``jobs``: (step_id, extra arguments of ``fit``) in the order the caller will ask for them; ``fit`` is a
    module-level function ``fit(store, run_id, step_id, *args) -> value`` (pickled by name).
    """

    def __init__(self, store: Any, run_id: int, fit: Callable[..., Any],
                 jobs: Sequence[tuple[int, tuple]]) -> None:
        self.worker_cpu_s = 0.0
        self.worker_peak_rss_mb = 0.0  # the worker's peak resident set, as it last reported it
        self.from_worker = 0
        self._fit, self._run_id = fit, run_id
        self._args = dict(jobs)
        self._order = [step_id for step_id, _ in jobs]  # the worker takes from the end
        self._state = dict.fromkeys(self._order, _PENDING)
        if self._order:  # the worker's first map, whatever the caller asks for before it starts
            self._state[self._order[-1]] = _GIVEN
        self._values: dict[int, Any] = {}
        self._cond = threading.Condition()
        self._closing = False
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), **_MALLOC}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "nanocell_daq.analysis.map_worker", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self._conn = Connection(ours.detach())
        self._location = store.location
        self._thread = threading.Thread(target=self._feed, name="nanocell-map-pool", daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        """Give the worker the last map nobody has taken, collect its fit, until none is left."""
        step_id = self._order[-1] if self._order else None  # reserved for it in __init__
        try:
            self._conn.send(self._location)
        except OSError:  # the worker did not start: every map is fitted by the caller
            ok, value, cpu, rss = False, None, 0.0, 0.0
        else:
            ok = True
        while step_id is not None:
            if ok:
                try:
                    self._conn.send((self._fit, self._run_id, step_id, self._args[step_id]))
                    ok, value, cpu, rss = self._conn.recv()
                except Exception:  # noqa: BLE001 - the worker died or its answer is unreadable: fitted here
                    ok, value, cpu, rss = False, None, 0.0, 0.0
            with self._cond:
                self.worker_cpu_s += cpu
                self.worker_peak_rss_mb = max(self.worker_peak_rss_mb, rss)
                if ok:
                    self._state[step_id], self._values[step_id] = _DONE, value
                else:  # the caller fits it (and the rest)
                    self._state[step_id] = _HERE
                    self._closing = True
                self._cond.notify_all()
                todo = [s for s in self._order if self._state[s] == _PENDING]
                if self._closing or not todo:
                    return
                step_id = todo[-1]
                self._state[step_id] = _GIVEN

    def value(self, step_id: int, local: Callable[[], Any]) -> Any:
        """The fit of ``step_id``: the worker's if it was given it (waiting for it), else ``local()``."""
        with self._cond:
            state = self._state.get(step_id, _HERE)
            if state == _PENDING:
                self._state[step_id] = _HERE  # taken here
            while self._state.get(step_id) == _GIVEN:
                self._cond.wait()
            if self._state.get(step_id) == _DONE:
                self.from_worker += 1
                return self._values.pop(step_id)
        return local()

    def close(self) -> None:
        """Stop the worker: at once if it is still fitting (nothing is waiting for it any more); its exit is
        collected by a thread."""
        with self._cond:
            self._closing = True
            busy = any(s == _GIVEN for s in self._state.values())
        if busy:
            self._proc.kill()
        self._thread.join()  # it gives no more jobs: the socket is ours alone
        if not busy:
            try:
                self._conn.send(None)
            except OSError:
                self._proc.kill()
        self._conn.close()
        # the worker exits on its own (its interpreter's teardown: tenths of a second), not waited for here
        threading.Thread(target=self._reap, name="nanocell-map-pool-exit", daemon=True).start()

    def _reap(self) -> None:
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> MapPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

