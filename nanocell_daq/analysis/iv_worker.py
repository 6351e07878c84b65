"""I-V fits in a child process, so that a run's analysis fits its sweeps on one core while it does the
cycling and Raman maps on the other: ``python -m nanocell_daq.analysis.iv_worker IN OUT``.

``IN`` holds a pickle of (points, group_by, kwargs) for :func:`~nanocell_daq.analysis.iv.iv_table`; the
table, the child's CPU seconds and its peak resident set (MB) are pickled to ``OUT``. A plain child
interpreter (not ``multiprocessing``) because a "spawn" or "forkserver" child re-imports the parent's main
script, which runs a user's unguarded script twice, and a "fork" child of a Qt or threaded process is
unsafe (the Raman map worker, :mod:`~nanocell_daq.analysis.map_pool`, is started the same way).
:class:`IVWorker` is the parent's side.
"""

from __future__ import annotations

import logging
import pickle
import shutil
import subprocess
import sys
import tempfile
import weakref
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)


class IVWorker:
    """``iv_table(points, group_by, **kwargs)`` started in a child interpreter; :meth:`result` waits for it
    and gives the table, or None if the child could not run or failed (logged: the caller fits in-process).
    ``cpu_s`` and ``peak_rss_mb``: what the child used (0 until it has reported)."""

    def __init__(self, points: pd.DataFrame, group_by: tuple[str, ...], kwargs: dict[str, Any]) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="nanocell-iv-"))
        self._out = self._folder / "table.pickle"
        self._proc: subprocess.Popen | None = None
        self.cpu_s = 0.0
        self.peak_rss_mb = 0.0
        try:
            src = self._folder / "points.pickle"
            with open(src, "wb") as f:
                pickle.dump((points, tuple(group_by), dict(kwargs)), f, protocol=pickle.HIGHEST_PROTOCOL)
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "nanocell_daq.analysis.iv_worker", str(src), str(self._out)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
        except OSError as exc:
            log.warning("I-V worker not started (%s): fitting in this process", exc)
        # an analysis that fails before it asks for the result leaves no child running and no files
        self._finalizer = weakref.finalize(self, _stop, self._proc, self._folder)

    def result(self) -> pd.DataFrame | None:
        if self._proc is None:
            return None
        try:
            _, err = self._proc.communicate()
            if self._proc.returncode != 0:
                last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
                log.warning("I-V worker failed (exit %s: %s): fitting in this process",
                            self._proc.returncode, last[0])
                return None
            with open(self._out, "rb") as f:
                table, self.cpu_s, self.peak_rss_mb = pickle.load(f)
            return table
        finally:
            self.close()

    def close(self) -> None:
        """Stop the child if it still runs and remove the exchange files."""
        self._finalizer()


def _stop(proc: subprocess.Popen | None, folder: Path) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()
    if proc is not None and proc.stderr is not None:
        proc.stderr.close()
    shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    import resource
    import time

    from nanocell_daq.analysis.iv import iv_table

    src, out = argv
    with open(src, "rb") as f:
        points, group_by, kwargs = pickle.load(f)
    table = iv_table(points, group_by, **kwargs)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB
    with open(out, "wb") as f:
        pickle.dump((table, time.process_time(), rss_mb), f, protocol=pickle.HIGHEST_PROTOCOL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
