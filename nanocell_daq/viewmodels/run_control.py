"""Start or resume a run as its own process (``nanocell run`` / ``nanocell resume``), follow it, and
pause/resume/abort it through the store.

The engine is started in a new session (``start_new_session=True``), so closing or crashing the GUI never
stops it; a GUI opened later finds it again as a run whose status is "running" (``reattach``).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from nanocell_daq.errors import UserError
from nanocell_daq.storage import Store
from nanocell_daq.storage.leases import liveness
from nanocell_daq.storage.location import without_password
from nanocell_daq.viewmodels.events import Signal
from nanocell_daq.viewmodels.live_run import STALE_AFTER_S
from nanocell_daq.viewmodels.run_browser import format_duration


def last_sign_of_life(store: Store, run_id: int) -> dt.datetime:
    """When the run's engine last reported progress (every ~0.5 s while alive), else when the run began."""
    progress = store.progress(run_id)
    started = store.run(run_id).started
    return max(started, progress.updated) if progress is not None else started


RESUMABLE_STATUSES = ("interrupted", "aborted")
"""Statuses ``nanocell resume`` continues; a "running" run qualifies only when its engine is dead."""


def is_resumable(status: str, lease_free: bool) -> bool:
    """Can the GUI offer to resume a run with ``status``? Only when no live engine holds its lease
    (``lease_free``: free, or its holder is dead); a stale engine may only be stopped, not doubled."""
    return lease_free and (status in RESUMABLE_STATUSES or status == "running")


def nanocell_command() -> list[str]:
    """The command that runs our CLI with this interpreter (works without the console script on PATH)."""
    return [sys.executable, "-m", "nanocell_daq"]


class RunControlModel:
    """Launches and controls runs of one database.

    Signals: ``attached(run_id | None)``, ``message(text)`` (what happened, for the status bar / log),
    ``process_ended(returncode, log_tail)`` when an engine process this model started exits; then
    ``ended_kind`` is "run" or "resume" and ``ran_for_s`` how long it lived (s).

    ``launcher`` (default ``subprocess.Popen``) starts the processes; tests may replace it.
    """

    def __init__(
        self, store: Store | None, db_path: str | os.PathLike[str] | None, *, log_dir: Path | None = None
    ) -> None:
        self.store = store
        self.db_path = None if db_path is None else str(db_path)
        self.log_dir = log_dir
        self.run_id: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self._id_before_start: int | None = None
        self.launcher: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen
        self.launch_kind: str | None = None
        self._launched_at = 0.0
        self.ended_kind: str | None = None
        self.ran_for_s: float | None = None
        self.attached = Signal("attached")
        self.message = Signal("message")
        self.process_ended = Signal("process_ended")

    # -- starting --------------------------------------------------------------------------------------
    def build_command(
        self, protocol: str | os.PathLike[str], station: str | os.PathLike[str], extra: Sequence[str] = ()
    ) -> list[str]:
        """The ``nanocell run`` command line for a protocol file and a station file."""
        if self.db_path is None:
            raise UserError("no database: open or create one first (File > Open database)")
        return [
            *nanocell_command(),
            "run",
            str(protocol),
            "--station",
            str(station),
            "--db",
            self.db_path,
            *extra,
        ]

    def build_resume_command(self, run_id: int, station: str | os.PathLike[str] | None = None) -> list[str]:
        """The ``nanocell resume`` command line (``station`` None: the run's stored station snapshot)."""
        if self.db_path is None:
            raise UserError("no database: open or create one first (File > Open database)")
        cmd = [*nanocell_command(), "resume", str(run_id), "--db", self.db_path]
        if station:
            cmd += ["--station", str(station)]
        return cmd

    def start(
        self, protocol: str | os.PathLike[str], station: str | os.PathLike[str], extra: Sequence[str] = ()
    ) -> subprocess.Popen[bytes]:
        """Launch the engine detached (own session); its output goes to a log file next to the database."""
        for label, path in (("protocol", protocol), ("station", station)):
            if not Path(path).is_file():
                raise UserError(f"{path}: {label} file not found")
        self._refuse_if_busy()
        cmd = self.build_command(protocol, station, extra)
        self._id_before_start = max((r.id for r in self.store.runs()), default=0) if self.store else 0
        try:
            return self._launch(cmd, "run", Path(protocol).stem)
        except BaseException:
            self._id_before_start = None
            raise

    def resume_run(
        self, run_id: int, station: str | os.PathLike[str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Continue ``run_id`` with ``nanocell resume`` launched like ``start`` (detached), and follow it.

        Refused (``UserError``) unless the run is interrupted, aborted, or marked running with a dead engine,
        and no live engine holds its lease. ``nanocell resume`` itself refuses a run whose engine still
        beats (exit 2): that message ends up in ``log_tail()`` and ``process_ended``.
        """
        if self.store is None:
            raise UserError("no database: open or create one first (File > Open database)")
        if station and not Path(station).is_file():
            raise UserError(
                f"{station}: station file not found (clear the Station field to use the run's stored one)"
            )
        self._refuse_if_busy()
        info = self.store.run(run_id)
        live = liveness(self.store, [info])[run_id]
        if not is_resumable(info.status, live.lease_free):
            why = info.status
            if live.engine_pid is not None and not live.lease_free:
                age = format_duration(live.heartbeat_age_s)
                why = f"its engine, pid {live.engine_pid} on {live.host}, is {live.state}; it beat {age} ago"
            raise UserError(
                f"run {run_id} cannot be resumed ({why}): only interrupted, aborted or dead runs whose lease "
                "is free"
            )
        cmd = self.build_resume_command(run_id, station)
        process = self._launch(cmd, "resume", f"run{run_id}")
        if self.run_id != run_id:
            self.attach(run_id)
        return process

    def _refuse_if_busy(self) -> None:
        if self.process is not None and self.process.poll() is None:
            raise UserError("a run started from this window is still running; abort it or wait for it")

    def _launch(self, cmd: list[str], kind: str, label: str) -> subprocess.Popen[bytes]:
        if "://" in (self.db_path or ""):  # a server database: $NANOCELL_LOG_DIR, else here (as the CLI's)
            server_logs = os.environ.get("NANOCELL_LOG_DIR")
            default = Path(server_logs) if server_logs else Path.cwd() / "run-logs"
        else:  # next to an SQLite file
            default = Path(self.db_path or ".").resolve().parent / "run-logs"
        log_dir = self.log_dir or default
        log_dir.mkdir(parents=True, exist_ok=True)
        # a URL's password goes to the engine in its environment, not on its command line (ps shows that)
        target, secret = without_password(self.db_path or "")
        cmd = [target if part == self.db_path else part for part in cmd]
        env = {} if secret is None else {"env": {**os.environ, "PGPASSWORD": secret}}
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.log_path = log_dir / f"{kind}-{stamp}-{label}.log"
        with open(self.log_path, "wb") as log:
            self.process = self.launcher(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                **env,
            )
        self.launch_kind, self._launched_at = kind, time.monotonic()
        self.message.emit(f"started: {' '.join(cmd)} (pid {self.process.pid}, log {self.log_path})")
        return self.process

    def check(self) -> None:
        """Call periodically: attaches to the run the started process created; reports the process's end."""
        if self.store is not None and self._id_before_start is not None:
            new = [r for r in self.store.runs() if r.id > self._id_before_start]
            if new:
                self._id_before_start = None
                self.attach(min(r.id for r in new))
        if self.process is not None and self.process.poll() is not None:
            code = self.process.returncode
            self.process = None
            self._id_before_start = None
            self.ended_kind, self.ran_for_s = self.launch_kind, time.monotonic() - self._launched_at
            tail = self.log_tail()
            self.message.emit(f"{self.ended_kind or 'run'} process ended with exit code {code}")
            self.process_ended.emit(code, tail)

    def log_tail(self, n_bytes: int = 4000) -> str:
        """The end of the started process's output (errors of ``nanocell run`` land here)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as f:
            f.seek(max(0, self.log_path.stat().st_size - n_bytes))
            return f.read().decode(errors="replace")

    # -- following -------------------------------------------------------------------------------------
    def attach(self, run_id: int | None) -> None:
        """Control and show ``run_id`` (None: detach)."""
        self.run_id = run_id
        self.attached.emit(run_id)

    def reattach(self, stale_after_s: float = STALE_AFTER_S) -> int | None:
        """Attach to the newest run the database says is running (e.g. after the GUI was closed); its id.

        A run whose engine has not reported for ``stale_after_s`` (it died without marking the run) is
        still shown, but the message says so instead of pretending to follow a live run.
        """
        if self.store is None:
            return None
        running = [r for r in self.store.runs() if r.status == "running"]
        if not running:
            return None
        run_id = max(r.id for r in running)
        self.attach(run_id)
        alive = last_sign_of_life(self.store, run_id)
        age = (dt.datetime.now(dt.UTC) - alive).total_seconds()
        state = liveness(self.store, [self.store.run(run_id)])[run_id].state
        if age > stale_after_s or state in ("stale", "dead"):
            self.message.emit(
                f"run {run_id} is marked running, but its engine is not responding since "
                f"{alive.astimezone():%Y-%m-%d %H:%M:%S} ({format_duration(age)} ago)"
                + (f"; its engine is {state}" if state in ("stale", "dead") else "")
            )
        else:
            self.message.emit(f"re-attached to running run {run_id}")
        return run_id

    # -- controlling -----------------------------------------------------------------------------------
    def request(self, action: str) -> int:
        """Ask the engine to pause, resume or abort the attached run (it acts between points)."""
        if self.store is None or self.run_id is None:
            raise UserError("no run attached: start one or open a running run")
        control_id = self.store.request_control(self.run_id, action, requested_by=f"gui pid {os.getpid()}")
        self.message.emit(f"{action} requested for run {self.run_id}")
        return control_id

    def pause(self) -> int:
        """Request a pause (between points)."""
        return self.request("pause")

    def resume(self) -> int:
        """Request a resume."""
        return self.request("resume")

    def abort(self) -> int:
        """Request an abort (the engine turns every output off and marks the run aborted)."""
        return self.request("abort")
