"""The station panel's model: a station file's instruments, roles, device and limits; instrument checks.

Reading the file needs no instrument (the engine's ``StationView``); ``check()`` connects to each instrument
through the station package and asks its identity. A "simulated station" starts the emulator bench as its
own process (``nanocell sim serve``), detached like a run, and loads the station file it writes.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nanocell_daq.errors import UserError
from nanocell_daq.viewmodels.events import Signal
from nanocell_daq.viewmodels.run_control import nanocell_command


@dataclass
class InstrumentRow:
    """One instrument of the station: its roles, driver, resource, and the last check's result."""

    name: str
    driver: str
    resource: str
    roles: list[str]
    status: str = "not checked"  # "not checked" | "ok" | "error"
    identity: str = ""


def _limit_lines(limits: dict[str, Any], device: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key in ("chip", "wire"):
        if device.get(key):
            out.append((key, str(device[key])))
    if device.get("nominal_capacity_Ah"):
        out.append(("nominal capacity", f"{float(device['nominal_capacity_Ah']):.3g} Ah"))
    cyc = limits.get("cycling") or {}
    if "max_current_A" in cyc:
        out.append(("cycling max |I|", f"{float(cyc['max_current_A']):.3g} A"))
    if "voltage_window_V" in cyc:
        lo, hi = cyc["voltage_window_V"]
        out.append(("cycling window", f"{lo} – {hi} V"))
    for wiring, lim in (limits.get("wirings") or {}).items():
        parts = [f"{float(v):.3g} {k.rsplit('_', 1)[-1]}" for k, v in lim.items()]
        out.append((f"{wiring}", ", ".join(parts)))
    if "max_laser_power_mW" in limits:
        out.append(("max laser power", f"{limits['max_laser_power_mW']} mW"))
    for axis, (lo, hi) in (limits.get("stage_travel_um") or {}).items():
        out.append((f"stage {axis}", f"{lo} – {hi} µm"))
    return out


class StationModel:
    """Signals: ``loaded(path)``, ``checked()``, ``error(text)``, ``simulated_started(path)``."""

    def __init__(self) -> None:
        self.path: str | None = None
        self.name = ""
        self.instruments: list[InstrumentRow] = []
        self.limits: list[tuple[str, str]] = []
        self.speed = 1.0
        self.sim_process: subprocess.Popen[bytes] | None = None
        self.loaded = Signal("loaded")
        self.checked = Signal("checked")
        self.error = Signal("error")

    def load(self, path: str | os.PathLike[str]) -> None:
        """Read a station file (``UserError`` file:line: field on a mistake)."""
        from nanocell_daq.engine.stationview import StationView

        view = StationView.from_file(path)
        cfg = view.config
        roles_of: dict[str, list[str]] = {}
        for role, inst in view.roles.items():
            roles_of.setdefault(inst, []).append(role)
        self.path = str(path)
        self.name = str(cfg.get("name", Path(path).stem))
        self.speed = view.speed
        self.instruments = [
            InstrumentRow(
                name, str(spec.get("driver", "")), str(spec.get("resource", "")), roles_of.get(name, [])
            )
            for name, spec in (cfg.get("instruments") or {}).items()
        ]
        self.limits = _limit_lines(view.limits, view.device)
        self.loaded.emit(self.path)

    def check(self) -> list[InstrumentRow]:
        """Connect to every instrument and read its identity (blocking: views run it on a worker thread)."""
        if self.path is None:
            raise UserError("load a station file first")
        try:
            from nanocell_daq import station as station_pkg

            build = station_pkg.build_station  # type: ignore[attr-defined]
        except (ImportError, AttributeError):
            raise UserError("instrument checks need nanocell_daq.station.build_station") from None
        built = build(self.path)
        try:
            instruments = getattr(built, "instruments", {}) or {}
            for row in self.instruments:
                inst = instruments.get(row.name)
                try:
                    row.identity = str(inst.id) if inst is not None else ""
                    row.status = "ok" if inst is not None else "error"
                except Exception as exc:  # noqa: BLE001 - shown to the user; the GUI goes on
                    row.status, row.identity = "error", f"{type(exc).__name__}: {exc}"
        finally:
            close = getattr(built, "close", None) or getattr(built, "shutdown", None)
            if close is not None:
                close()
        self.checked.emit()
        return self.instruments

    # -- simulated bench -------------------------------------------------------------------------------
    def start_simulated(self, preset: str = "si", speed: float = 1000.0, timeout_s: float = 30.0) -> str:
        """Start ``nanocell sim serve`` detached, wait for its station file, load it; returns the path."""
        out = Path(tempfile.mkdtemp(prefix="nanocell-sim-")) / f"station-{preset}.yaml"
        cmd = [
            *nanocell_command(),
            "sim",
            "serve",
            "--preset",
            preset,
            "--speed",
            str(speed),
            "--station-out",
            str(out),
        ]
        log = open(out.with_suffix(".log"), "wb")  # noqa: SIM115 - the child keeps writing after we return
        self.sim_process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while not out.exists() or out.stat().st_size == 0:
            if self.sim_process.poll() is not None:
                tail = out.with_suffix(".log").read_text(errors="replace")[-1500:]
                code = self.sim_process.returncode
                raise UserError(f"the simulated bench did not start (exit {code}):\n{tail}")
            if time.monotonic() > deadline:
                raise UserError(f"the simulated bench wrote no station file in {timeout_s:.0f} s")
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written in one go, but give the writer a moment to close it
        self.load(out)
        return str(out)

    def stop_simulated(self) -> None:
        """Stop the simulated bench this model started (a run on it will then fail: stop runs first)."""
        if self.sim_process is not None and self.sim_process.poll() is None:
            self.sim_process.terminate()
            try:
                self.sim_process.wait(5)
            except subprocess.TimeoutExpired:
                self.sim_process.kill()
        self.sim_process = None
