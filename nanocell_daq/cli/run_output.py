"""What ``run``/``resume``/``demo`` leave behind besides the data: a log file per invocation, plain progress
lines when the output is not a terminal, and no empty database file when the command fails.

Log files go to ``run-logs/`` next to the database (the folder the GUI's launched runs log to), named
``cli-<command>-<YYYYmmdd-HHMMSS>-<pid>.log``; the path is printed when the command starts.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

LOG_FOLDER = "run-logs"
LOG_DIR_ENV = "NANOCELL_LOG_DIR"
"""Where the logs of runs into a server database go (default: run-logs/ in the working folder)."""
# Python log records (WARNING and up) of these packages also go to the file (not pymeasure's import notes)
LOGGERS = ("nanocell_daq", "drivers", "procedures", "simulated_instruments", "pyvisa", "pyvisa_py")
PROGRESS_EVERY_S = 10.0


class ProgressLines:
    """Progress as plain lines (for a log or a pipe): when the step changes, and every ``every_s``."""

    def __init__(self, stream: IO[str], every_s: float = PROGRESS_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.every_s, self.clock = stream, every_s, clock
        self._last_t: float | None = None
        self._last_label = ""

    def update(self, label: str, fraction: float, eta: str) -> None:
        now = self.clock()
        if label == self._last_label and self._last_t is not None and now - self._last_t < self.every_s:
            return
        self._last_t, self._last_label = now, label
        stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
        self.stream.write(f"{stamp} progress {100 * fraction:5.1f}%  ETA {eta}  {label}\n")
        self.stream.flush()


class RunLog:
    """A log file for one command: its progress, warnings and errors, and Python warnings/log records."""

    def __init__(self, db: Path | str, command: str) -> None:
        # next to an SQLite file; for a server URL in $NANOCELL_LOG_DIR, else the working folder (never the
        # URL in a path)
        if _is_file_db(db):
            folder = Path(db).resolve().parent / LOG_FOLDER
        else:
            folder = Path(os.environ.get(LOG_DIR_ENV) or Path.cwd() / LOG_FOLDER)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.path = folder / f"cli-{command}-{stamp}-{os.getpid()}.log"
        self._file: IO[str] | None = None
        self._handler: logging.Handler | None = None
        self.progress: ProgressLines | None = None

    def open(self) -> Path | None:
        """Create the file (None if the folder cannot be written: the command runs without a log)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - closed in close()
        except OSError:
            return None
        self.progress = ProgressLines(self._file)
        self._handler = logging.StreamHandler(self._file)
        self._handler.setLevel(logging.WARNING)
        self._handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        for name in LOGGERS:
            logging.getLogger(name).addHandler(self._handler)
        return self.path

    def write(self, level: str, message: str) -> None:
        if self._file is not None:
            stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            self._file.write(f"{stamp} {level}: {message}\n")

    def close(self) -> None:
        if self._handler is not None:
            for name in LOGGERS:
                logging.getLogger(name).removeHandler(self._handler)
            self._handler = None
        if self._file is not None:
            self._file.close()
            self._file = None


def _is_file_db(db: Any) -> bool:
    return "://" not in str(db)


def _has_runs(db: Path) -> bool:
    from nanocell_daq.storage import Store

    try:
        with Store.open(db, create=False) as store:
            return bool(store.runs())
    except Exception:  # noqa: BLE001 - unreadable: not ours to delete
        return True


@contextmanager
def no_empty_database(db: Path | str) -> Iterator[None]:
    """If the command fails before any run was stored, remove the database file it created."""
    path = Path(db)
    created = _is_file_db(db) and not path.exists()
    try:
        yield
    except BaseException:
        if created and path.exists() and not _has_runs(path):
            for extra in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{extra}").unlink(missing_ok=True)
        raise
