"""Raman map pixels fitted as they arrive, on a worker (a process by default), never on the caller's thread.

``submit()`` (cheap: it queues a copy of the spectra) is called as pixels arrive; a dispatcher thread takes
whatever is queued (up to ``max_chunk`` pixels of one grid) and has it fitted, by default in a worker process
(numpy/scipy fits hold the GIL much of the time: in a thread they stall the GUI's event loop); ``collect()``,
called by the view's timer on the GUI thread, only copies finished results into the maps and emits
``changed(grid_id)``. The fit is the one ``nanocell analyze`` runs (:func:`fit_pixels`: ``fit_map`` on the
chunk, i.e. the batch fit with the single fit as fallback). ``close()`` drops what is pending and stops the
worker without waiting for a fit in flight.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from nanocell_daq.viewmodels.events import Signal

log = logging.getLogger(__name__)

FIELDS = {"Xc fit": "xc", "c-Si position": "c_position", "c-Si width": "c_fwhm"}
"""Fitted map quantities (shown names) -> the fit's column: Xc (0..1), c-Si position and FWHM (cm-1)."""
COLUMNS = ("xc", "xc_upper", "c_position", "c_fwhm")

NOT_ARRIVED, QUEUED, FITTED, FAILED = 0, 1, 2, 3
"""Pixel states (``LiveFitMap.state``)."""

Fitter = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]
"""fitter(axis cm-1 (m,), counts (n, m)) -> {column: (n,) values, "success": (n,) bool}; must be picklable
(a module-level function or a ``functools.partial`` of one) to run in a worker process."""


def fit_pixels(
    axis: np.ndarray,
    counts: np.ndarray,
    *,
    y: float = 0.8,
    window: tuple[float, float] = (380.0, 600.0),
    spike_threshold: float = 6.0,
) -> dict[str, np.ndarray]:
    """Fit a chunk of map spectra as ``nanocell analyze`` does (``fit_map``: spikes removed, batch fit with
    the single fit as fallback, noise estimated from the chunk); the columns of :data:`COLUMNS` + success."""
    from nanocell_daq.analysis.raman_map import fit_map  # heavy (scipy, pandas): only where fits run

    table = fit_map(axis, counts, y=y, window=window, spike_threshold=spike_threshold)
    out = {c: table[c].to_numpy(float) for c in COLUMNS}
    out["success"] = table["success"].to_numpy(bool)
    return out


def default_fitter(y: float = 0.8, window: tuple[float, float] = (380.0, 600.0)) -> Fitter:
    """:func:`fit_pixels` with the analysis defaults (a-Si/c-Si cross-section ratio ``y``, window cm-1)."""
    return partial(fit_pixels, y=y, window=window)


def _warm(fitter: Fitter) -> None:
    """Import what the analysis fit needs (seconds of scipy/pandas) before the first pixel comes."""
    if getattr(fitter, "func", fitter) is fit_pixels:
        import nanocell_daq.analysis.raman_map  # noqa: F401


def _run(fitter: Fitter, axis: np.ndarray, counts: np.ndarray) -> tuple[str, Any, int, int]:
    """Call the fitter on the chunk, with the pid and thread it ran on: ("ok", result) or ("error", message).

    If the chunk raises, each spectrum is fitted alone, so one bad spectrum fails only its own pixel (its
    message in the result's "errors")."""
    where = (os.getpid(), threading.get_ident())
    try:
        return ("ok", fitter(axis, counts), *where)
    except Exception as exc:  # noqa: BLE001 - a failed fit is marked failed and reported, the GUI goes on
        if len(counts) == 1:
            return ("error", f"{type(exc).__name__}: {exc}", *where)
    merged: dict[str, Any] = {c: np.full(len(counts), np.nan) for c in COLUMNS}
    merged["success"] = np.zeros(len(counts), bool)
    merged["errors"] = [""] * len(counts)
    for k in range(len(counts)):
        try:
            one = fitter(axis, counts[k : k + 1])
        except Exception as exc:  # noqa: BLE001 - as above, for this spectrum alone
            merged["errors"][k] = f"{type(exc).__name__}: {exc}"
            continue
        for c in (*COLUMNS, "success"):
            merged[c][k] = np.asarray(one[c])[0]
    return ("ok", merged, *where)


def _serve(conn: Any, fitter: Fitter) -> None:
    """The worker process: import the fit, say "ready", then fit each (axis, counts) received until None or
    the pipe closes."""
    _warm(fitter)
    conn.send("ready")
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        conn.send(_run(fitter, *msg))


class _ProcessWorker:
    """One spawned process fitting the chunks the dispatcher sends; restarted if it dies."""

    def __init__(self, fitter: Fitter) -> None:
        self.fitter = fitter
        self.proc: Any = None
        self.conn: Any = None
        self.ready = threading.Event()

    def start(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # never fork a process that runs Qt and threads
        here, there = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(there, self.fitter), name="nanocell-fit", daemon=True)
        self.proc.start()
        there.close()
        self.conn = here

    def warm(self, stop: threading.Event) -> None:
        """Start the process and wait (polling ``stop``) until it has imported the fit."""
        if self.proc is None or not self.proc.is_alive():
            self.stop()
            self.start()
        proc, conn = self.proc, self.conn
        try:
            while not conn.poll(0.05):
                if stop.is_set() or not proc.is_alive():
                    return
            if conn.recv() == "ready":
                self.ready.set()
        except (EOFError, OSError, ValueError):
            return

    def fit(self, axis: np.ndarray, counts: np.ndarray, stop: threading.Event) -> tuple[str, Any, int, int]:
        if self.proc is None or not self.proc.is_alive():
            self.warm(stop)
        proc, conn = self.proc, self.conn  # close() may stop the worker meanwhile: keep our references
        try:
            conn.send((axis, counts))
            while not conn.poll(0.05):
                if stop.is_set():
                    return ("error", "closed", 0, 0)
                if not proc.is_alive():
                    return ("error", f"the fit worker process died (exit code {proc.exitcode})", 0, 0)
            return conn.recv()
        except (EOFError, OSError, ValueError) as exc:
            return ("error", f"the fit worker process died ({exc or type(exc).__name__})", 0, 0)

    def stop(self, grace_s: float = 0.2) -> None:
        proc, conn, self.proc, self.conn = self.proc, self.conn, None, None
        if conn is not None:
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
        if proc is not None:
            proc.join(grace_s)
            if proc.is_alive():
                proc.terminate()  # a fit in flight is not worth waiting for: its pixel is dropped anyway
                proc.join(2.0)
                if proc.is_alive():
                    proc.kill()
                    proc.join(1.0)
        if conn is not None:
            conn.close()


class _ThreadWorker:
    """Fits on the dispatcher thread itself (no process; the fit then competes with the GUI for the GIL)."""

    def __init__(self, fitter: Fitter) -> None:
        self.fitter = fitter
        self.ready = threading.Event()

    def warm(self, stop: threading.Event) -> None:
        _warm(self.fitter)
        self.ready.set()

    def fit(self, axis: np.ndarray, counts: np.ndarray, stop: threading.Event) -> tuple[str, Any, int, int]:
        return _run(self.fitter, axis, counts)

    def stop(self, grace_s: float = 0.2) -> None:
        pass


@dataclass
class _Grid:
    nx: int
    ny: int
    values: dict[str, np.ndarray] = field(init=False)
    state: np.ndarray = field(init=False)  # (ny*nx,) int8: NOT_ARRIVED, QUEUED, FITTED, FAILED
    shown_at: np.ndarray = field(init=False)  # (ny*nx,) generation of collect() that placed the result
    errors: dict[int, str] = field(default_factory=dict)  # pixel -> why its fit failed

    def __post_init__(self) -> None:
        n = self.nx * self.ny
        self.values = {c: np.full((self.ny, self.nx), np.nan) for c in COLUMNS}
        self.state = np.zeros(n, np.int8)
        self.shown_at = np.full(n, -1, np.int64)


@dataclass(frozen=True)
class FitCounts:
    """Pixels of one grid: fitted, failed, still queued or in flight."""

    fitted: int
    failed: int
    pending: int


class LiveFitMap:
    """Fitted maps (Xc, c-Si position, c-Si width) of a run's grids, filled in as fits finish.

    ``worker``: "process" (default; a spawned process fits) or "thread" (the dispatcher thread fits).
    ``changed(grid_id)`` is emitted by ``collect()``, on the thread that calls it. ``ran_on`` counts the
    spectra fitted per (pid, thread id), so a caller can check that none ran on its own thread.
    """

    def __init__(
        self, fitter: Fitter | None = None, *, worker: str = "process", max_chunk: int = 256
    ) -> None:
        if worker not in ("process", "thread"):
            raise ValueError(f"worker must be 'process' or 'thread', got {worker!r}")
        self.fitter = fitter or default_fitter()
        self.worker_kind = worker
        self.max_chunk = max(1, int(max_chunk))
        self.grids: dict[int, _Grid] = {}
        self.changed = Signal("changed")  # (grid_id)
        self.error = Signal("error")  # (message) once per failed chunk, from collect()
        self.generation = 0  # collect() calls that placed results
        self.ran_on: Counter[tuple[int, int]] = Counter()
        self.chunks = 0
        # (grid, pixel) -> (axis, array holding its spectrum, row of it)
        self._pending: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, int]] = {}
        self._axes: dict[int, np.ndarray] = {}  # the last axis of each grid (cm-1)
        self._done: list[tuple[int, int, np.ndarray, tuple[str, Any, int, int]]] = []
        self._epoch = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._worker = _ProcessWorker(self.fitter) if worker == "process" else _ThreadWorker(self.fitter)
        self._thread: threading.Thread | None = None
        self.closed = False
        self.on_ready: Callable[[], None] | None = None
        """Called on the dispatcher thread when results wait for ``collect()`` (must be thread-safe, e.g. a
        Qt signal's emit: the view then collects at once instead of at its next timer tick)."""

    # -- grids -----------------------------------------------------------------------------------------
    def set_grid(self, grid_id: int, nx: int, ny: int) -> None:
        """Know a grid (nx x ny pixels, pixel = iy * nx + ix); its pixels start unfitted."""
        if grid_id not in self.grids:
            self.grids[grid_id] = _Grid(nx, ny)
        self.start()  # a run with a map: have the worker ready before its first pixel

    def clear(self) -> None:
        """Forget every grid and drop pending fits (results still in flight are discarded)."""
        with self._cond:
            self._epoch += 1
            self._pending.clear()
            self._done.clear()
        self.grids.clear()
        self._axes.clear()

    # -- feeding ---------------------------------------------------------------------------------------
    def submit(
        self,
        grid_id: int,
        pixels: np.ndarray,
        axis: np.ndarray,
        counts: np.ndarray | None = None,
        *,
        source: np.ndarray | None = None,
    ) -> None:
        """Queue ``pixels`` (n,) of a known grid for fitting, on ``axis`` (m,) cm-1: their ``counts`` (n, m)
        (copied), or ``source`` (pixels of the grid, m), an array the caller keeps filling, not copied: a
        pixel's row is read when its chunk is fitted (a pixel written again must be submitted again).

        A pixel queued again before its fit started is fitted once, with its latest spectrum."""
        g = self.grids.get(grid_id)
        if g is None or self.closed or not len(pixels):
            return
        if (counts is None) == (source is None):
            raise ValueError("submit: give either counts or source")
        self.start()
        pixels = np.asarray(pixels, dtype=np.int64)
        if source is None:
            source = np.array(counts, dtype=np.float32, ndmin=2)  # a copy: the caller may reuse its buffer
            rows: Any = range(len(pixels))
        else:
            rows = pixels.tolist()
        known = self._axes.get(grid_id)
        if known is not None and known.shape == np.shape(axis) and np.array_equal(known, axis):
            axis = known  # the same axis object: pixels of several polls go into one chunk
        else:
            axis = self._axes[grid_id] = np.array(axis, dtype=float)
        with self._cond:
            for p, r in zip(pixels.tolist(), rows, strict=True):
                self._pending[(grid_id, p)] = (axis, source, r)
            g.state[pixels] = QUEUED
            self._cond.notify()

    def start(self) -> None:
        """Start the dispatcher and warm the worker up (on the dispatcher thread: the caller never waits);
        the first ``submit`` does it too. ``ready`` is set once the worker can fit."""
        if self._thread is None and not self.closed:
            self._thread = threading.Thread(target=self._dispatch, name="nanocell-fit-dispatch", daemon=True)
            self._thread.start()

    @property
    def ready(self) -> threading.Event:
        """Set once the worker has imported the fit (process started)."""
        return self._worker.ready

    def _take(self) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray] | None:
        """Up to ``max_chunk`` queued pixels of one grid on one axis (call with the lock held)."""
        if not self._pending:
            return None
        first = next(iter(self._pending))
        gid, axis = first[0], self._pending[first][0]
        keys = []
        for key, (ax, _, _) in self._pending.items():
            if key[0] == gid and ax is axis:
                keys.append(key)
                if len(keys) >= self.max_chunk:
                    break
        taken = [self._pending.pop(k) for k in keys]
        rows = np.stack([src[r] for _, src, r in taken]).astype(np.float64)
        return self._epoch, gid, np.array([k[1] for k in keys], np.int64), axis, rows

    def _dispatch(self) -> None:
        """The dispatcher thread: warm the worker up, then fit chunks until closed; stops the worker last
        (``close()`` does too, but a worker started while it ran must not outlive us)."""
        try:
            self._serve_chunks()
        finally:
            self._worker.stop()

    def _serve_chunks(self) -> None:
        try:
            self._worker.warm(self._stop)
        except Exception as exc:  # noqa: BLE001 - a worker that cannot start fails its chunks, reported then
            log.warning("the live map fit worker did not start: %s", exc)
        while True:
            with self._cond:
                while not self._pending and not self._stop.is_set():
                    self._cond.wait()
                if self._stop.is_set():
                    return
                chunk = self._take()
            if chunk is None:
                continue
            epoch, gid, pixels, axis, rows = chunk
            try:
                outcome = self._worker.fit(axis, rows, self._stop)
            except Exception as exc:  # noqa: BLE001 - e.g. the worker cannot start: its pixels are failed
                outcome = ("error", f"the fit worker could not run ({type(exc).__name__}: {exc})", 0, 0)
            if self._stop.is_set():
                return
            with self._cond:
                if epoch != self._epoch:
                    continue
                self._done.append((epoch, gid, pixels, outcome))
            callback = self.on_ready
            if callback is not None:
                try:
                    callback()
                except RuntimeError:  # the view is gone (Qt object deleted): collect() still works
                    self.on_ready = None

    # -- results (caller's thread) ---------------------------------------------------------------------
    def collect(self) -> set[int]:
        """Place finished fits into the maps (cheap; no fitting here); emits ``changed`` per grid touched."""
        with self._cond:
            done, self._done = self._done, []
            epoch = self._epoch
            # pixels queued again while their chunk was fitted: a newer spectrum is coming, they stay queued
            again = [np.array([(d[1], p) in self._pending for p in d[2].tolist()], bool) for d in done]
        touched: set[int] = set()
        if not done:
            return touched
        self.generation += 1
        for (e, gid, pixels, (status, result, pid, tid)), queued in zip(done, again, strict=True):
            g = self.grids.get(gid)
            if g is None or e != epoch:
                continue
            self.chunks += 1
            if status == "ok":
                self.ran_on[(pid, tid)] += len(pixels)
                ok = np.asarray(result["success"], bool)
                for c in COLUMNS:
                    g.values[c].flat[pixels] = np.where(ok, result[c], np.nan)
                g.state[pixels[~queued]] = np.where(ok, FITTED, FAILED)[~queued]
                why = result.get("errors") or [""] * len(pixels)
                for k in np.flatnonzero(~ok).tolist():
                    g.errors[int(pixels[k])] = why[k] or "the fit did not converge"
                if any(why):
                    failed = [w for w in why if w]
                    log.warning("live map fit of %d pixels failed: %s", len(failed), failed[0])
                    self.error.emit(f"live map fit of {len(failed)} pixels failed: {failed[0]}")
            else:
                if pid:
                    self.ran_on[(pid, tid)] += len(pixels)
                log.warning("live map fit of %d pixels failed: %s", len(pixels), result)
                for c in COLUMNS:
                    g.values[c].flat[pixels] = np.nan
                g.state[pixels[~queued]] = FAILED
                for p in pixels.tolist():
                    g.errors[p] = str(result)
                self.error.emit(f"live map fit failed: {result}")
            g.shown_at[pixels] = self.generation
            touched.add(gid)
        for gid in touched:
            self.changed.emit(gid)
        return touched

    def image(self, grid_id: int, quantity: str) -> np.ndarray:
        """(ny, nx) values of a fitted quantity (a ``FIELDS`` name or a column); NaN = not fitted (yet),
        failed, or no value (position and width where the c-Si band is not significant)."""
        g = self.grids[grid_id]
        return g.values[FIELDS.get(quantity, quantity)]

    def failed_mask(self, grid_id: int) -> np.ndarray:
        """(ny, nx) True where the fit failed."""
        g = self.grids[grid_id]
        return (g.state == FAILED).reshape(g.ny, g.nx)

    def no_value_mask(self, grid_id: int, quantity: str) -> np.ndarray:
        """(ny, nx) True where the fit succeeded but gives no value of ``quantity`` (no significant c-Si
        band: Xc, its position and width mean nothing there)."""
        g = self.grids[grid_id]
        return (g.state == FITTED).reshape(g.ny, g.nx) & np.isnan(self.image(grid_id, quantity))

    def pixel_state(self, grid_id: int, pixel: int) -> int:
        """NOT_ARRIVED, QUEUED, FITTED or FAILED."""
        return int(self.grids[grid_id].state[pixel])

    def counts(self, grid_id: int) -> FitCounts:
        """Fitted, failed and pending pixels of a grid."""
        s = self.grids[grid_id].state
        return FitCounts(int((s == FITTED).sum()), int((s == FAILED).sum()), int((s == QUEUED).sum()))

    def fits_on(self, pid: int, thread_id: int) -> int:
        """Spectra fitted on one thread of one process (0 for the GUI thread, always)."""
        return int(self.ran_on.get((pid, thread_id), 0))

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Collect until nothing is queued or in flight (tests, benchmarks); True if it got there."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            self.collect()
            if not any((g.state == QUEUED).any() for g in self.grids.values()):
                return True
            time.sleep(0.01)
        return False

    # -- shutting down ---------------------------------------------------------------------------------
    def close(self, timeout_s: float = 1.0) -> None:
        """Drop pending fits and stop the dispatcher and the worker; does not wait for a fit in flight
        longer than ``timeout_s`` (a worker process is terminated)."""
        if self.closed:
            return
        self.closed = True
        with self._cond:
            self._pending.clear()
            self._stop.set()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(min(0.2, timeout_s))  # a process worker's dispatcher leaves within 50 ms
        self._worker.stop()
        if self._thread is not None:
            self._thread.join(timeout_s)  # a thread worker mid-fit is a daemon: it ends with its fit
