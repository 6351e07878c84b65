"""A fake step context and fake role objects: steps run without the engine or any instrument."""

from __future__ import annotations

from typing import Any

import numpy as np

from drivers.roles import Sample, Spectrum
from nanocell_daq.engine.stationview import StationView
from procedures.context import StepAborted

STATION = """\
name: fake bench
instruments:
  smu: {driver: keithley2450, resource: "TCPIP::127.0.0.1::1::SOCKET"}
  pstat: {driver: emstat4, resource: "TCPIP::127.0.0.1::2::SOCKET"}
  stage: {driver: proscan3, resource: "TCPIP::127.0.0.1::3::SOCKET"}
  spectrometer: {driver: nanocell_spectrometer, resource: "TCPIP::127.0.0.1::4::SOCKET"}
  shutter: {driver: sc10, resource: "TCPIP::127.0.0.1::5::SOCKET"}
  matrix: {driver: keithley707b, resource: "TCPIP::127.0.0.1::6::SOCKET"}
roles: {source_meter: smu, galvanostat: pstat, potentiostat: pstat, stage: stage,
        spectrometer: spectrometer, laser: spectrometer, shutter: shutter, router: matrix}
device: {chip: FAKE, nominal_capacity_Ah: 1.0e-13, wire_position_um: {start: [0, 0], end: [4, 0], z: 1.0}}
pads: {S: {kind: contact}, D: {kind: contact}, C1: {kind: contact}, CE: {kind: counter}}
wirings:
  cycling: {instrument: pstat, channels: ["1A01", "1B04"], pads: [S, CE]}
  "conductance:S-D": {instrument: smu, channels: ["1C01", "1D02"], pads: [S, D]}
  "conductance:S-C1": {instrument: smu, channels: ["1C01", "1D03"], pads: [S, C1]}
"""
"""A station file with every role and no limits (the instruments are never contacted)."""


class Clock:
    speed = 1.0

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t


class Recorder:
    def __init__(self) -> None:
        self.cycling_rows: list[tuple] = []
        self.iv_rows: list[tuple] = []
        self.spectra: list[tuple] = []
        self.events: list[str] = []

    def cycling(self, t, E, I, Q):  # noqa: E741
        self.cycling_rows.append((t, E, I, Q))

    def iv(self, V, I, direction, pair):  # noqa: E741
        self.iv_rows.append((V, I, direction, pair))

    def map_grid(self, *args):
        return 7

    def spectrum(self, x, y, z, spectrum, grid_id, pixel):
        self.spectra.append((x, y, z, grid_id, pixel))

    def event(self, level, message):
        self.events.append(message)


class Galvanostat:
    """A cell whose potential rises linearly with the charge passed; streams one sample per ``sleep``."""

    id = "fake"

    def __init__(self, clock: Clock, e0: float = 3.0) -> None:
        self.clock, self.running, self.starts, self.pending = clock, False, [], []
        self.q, self.e0 = 0.0, e0
        self.capacity_C: float | None = None
        self.q_technique = 0.0
        self.passed: list[float] = []
        """|current| of every tick that passed current (A)."""

    def start_galvanostatic(self, current_A, interval_s, max_time_s, v_min, v_max, *, capacity_C=None,
                            window_V=None):
        self.running, self.current, self.t0 = True, current_A, self.clock.t
        self.window_V = window_V
        self.capacity_C, self.q_technique = capacity_C, 0.0
        self.starts.append((current_A, max_time_s, v_min, v_max))

    def start_ocp(self, interval_s, max_time_s):
        self.running, self.current, self.t0 = True, 0.0, self.clock.t
        self.capacity_C = None
        self.ocp_starts = getattr(self, "ocp_starts", 0) + 1

    def potential(self) -> float:
        return self.e0 + self.q * 1e10

    def tick(self, dt: float) -> None:
        if self.running:
            self.q += self.current * dt
            self.q_technique += self.current * dt
            if self.current:
                self.passed.append(abs(self.current))
            self.pending.append(Sample(self.clock.t - self.t0, self.potential(), self.current))
            if self.capacity_C is not None and abs(self.q_technique) >= self.capacity_C:
                self.running = False  # the device's own capacity break

    def poll(self):
        out, self.pending = self.pending, []
        return out

    def stop(self):
        self.running = False

    def shutdown(self):
        self.stop()


class SourceMeter:
    id = "fake smu"

    def __init__(self, g: float = 1e-6, compliance_at: float | None = None) -> None:
        self.g, self.v, self.on, self.compliance_at = g, 0.0, False, compliance_at
        self.configured = 0

    def configure_voltage_source(self, compliance_A, nplc=1.0, current_range_A=None):
        self.configured += 1

    def set_voltage(self, v):
        self.v = v

    def measure_current(self):
        return self.g * self.v

    @property
    def compliance_tripped(self):
        return self.compliance_at is not None and self.v >= self.compliance_at

    def enable_output(self):
        self.on = True

    def disable_output(self):
        self.on = False


class Shutter:
    id = "fake shutter"

    def __init__(self) -> None:
        self.is_open, self.history = False, []

    def open(self):
        self.is_open = True
        self.history.append("open")

    def close(self):
        self.is_open = False
        self.history.append("close")


class Stage:
    id = "fake stage"

    def __init__(self) -> None:
        self.position = (0.0, 0.0, 0.0)

    def move_to(self, x, y, z=None):
        self.position = (x, y, z)


class Spectrometer:
    id = "fake spectrometer"
    exposure_s = 1.0
    accumulations = 1
    power_mW = 0.0

    def __init__(self, shutter: Shutter) -> None:
        self.shutter, self.shutter_seen = shutter, []

    def acquire(self):
        self.shutter_seen.append(self.shutter.is_open)
        return Spectrum(
            np.linspace(100, 1800, 8), np.ones(8, np.float32), self.exposure_s, self.accumulations
        )


class Context:
    """Implements the StepContext protocol; ``pause_at`` makes checkpoint() report one pause."""

    def __init__(
        self, roles: dict[str, Any], pause_at: int | None = None, abort_at: int | None = None
    ) -> None:
        self.clock = Clock()
        self.recorder = Recorder()
        self.station = StationView.from_text(STATION, "fake.yaml")
        self.roles = roles
        self.wirings: list[str] = []
        self.checkpoints = 0
        self.pause_at, self.abort_at = pause_at, abort_at
        self.fraction = 0.0

    def role(self, name):
        return self.roles[name]

    def use_wiring(self, wiring):
        self.wirings.append(wiring)

    def checkpoint(self):
        self.checkpoints += 1
        if self.abort_at is not None and self.checkpoints >= self.abort_at:
            raise StepAborted("test abort")
        if self.pause_at is not None and self.checkpoints == self.pause_at:
            for r in self.roles.values():  # what the engine does on a pause: every output off
                getattr(r, "stop", getattr(r, "disable_output", lambda: None))()
            return True
        return False

    def sleep(self, seconds):
        self.clock.t += seconds
        g = self.roles.get("galvanostat")
        if g is not None:
            g.tick(seconds)

    def elapse(self, seconds):
        self.clock.t += seconds

    def query(self, fn, *args):
        return fn(*args)

    def progress(self, fraction):
        self.fraction = fraction
