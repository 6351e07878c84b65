"""The GUI's own simulated bench: ``nanocell sim serve`` as a child process, its station file, its stop.

Started in its own session (a Ctrl-C in the GUI's terminal does not reach it); the owner stops it with
``stop()`` (SIGTERM: the server closes its sockets and exits) when the GUI closes. ``poll()`` never blocks,
so a view can wait for the station file from a timer without freezing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from nanocell_daq.errors import UserError
from nanocell_daq.viewmodels.run_control import nanocell_command


class SimServer:
    """One ``nanocell sim serve --preset P --speed N --seed S --station-out FILE`` process."""

    def __init__(
        self, preset: str = "si", speed: float = 1000.0, seed: int = 0, folder: Path | None = None,
        smu: str | None = None, fresh_per_run: bool = False,
    ) -> None:
        self.preset, self.speed, self.seed = preset, speed, seed
        self.fresh_per_run = fresh_per_run
        """``--fresh-per-run``: each run the GUI starts finds a pristine cell."""
        self.smu = smu
        """``--smu`` model (None = the shipped default, a 2636B)."""
        self.folder = folder or Path(tempfile.mkdtemp(prefix="nanocell-sim-"))
        self.station_path = self.folder / f"station-{Path(preset).stem}.yaml"
        self.log_path = self.folder / "sim-serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0

    def command(self) -> list[str]:
        """The command line of the server."""
        return [
            *nanocell_command(),
            "sim",
            "serve",
            "--preset",
            self.preset,
            "--speed",
            f"{self.speed:g}",
            "--seed",
            str(self.seed),
            "--station-out",
            str(self.station_path),
            *(["--smu", self.smu] if self.smu else []),
            *(["--fresh-per-run"] if self.fresh_per_run else []),
        ]

    def start(self) -> None:
        """Launch the server (returns at once; ``poll()`` tells when its station file is there)."""
        if self.running:
            raise UserError(f"the simulated bench is already running (pid {self.process.pid})")  # type: ignore[union-attr]
        self.station_path.unlink(missing_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._started_at = time.monotonic()

    @property
    def running(self) -> bool:
        """The server process is alive."""
        return self.process is not None and self.process.poll() is None

    def poll(self, timeout_s: float = 60.0) -> str | None:
        """The station file's path once the server wrote it; None while starting; UserError if it failed."""
        if self.process is None:
            raise UserError("the simulated bench was not started")
        if self.station_path.is_file() and self.station_path.stat().st_size > 0:
            return str(self.station_path)  # written atomically by the bench
        if self.process.poll() is not None:
            raise UserError(
                f"the simulated bench did not start (exit code {self.process.returncode}):\n{self.log_tail()}"
            )
        if time.monotonic() - self._started_at > timeout_s:
            self.stop()
            raise UserError(
                f"the simulated bench wrote no station file in {timeout_s:.0f} s:\n{self.log_tail()}"
            )
        return None

    def wait(self, timeout_s: float = 60.0) -> str:
        """Block until the station file is there (scripts and tests); its path."""
        while (path := self.poll(timeout_s)) is None:
            time.sleep(0.05)
        return path

    def log_tail(self, n_bytes: int = 1500) -> str:
        """The end of the server's output."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_bytes()[-n_bytes:].decode(errors="replace")

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM the server (it closes its sockets and exits); SIGKILL if alive after ``timeout_s``."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: the group is the server alone
            proc.wait(timeout_s)
