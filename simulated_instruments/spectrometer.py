"""Raman spectrometer/CCD + laser controller emulator: our documented dialect (see ``spectrometer.md``).

SCPI-like, ``\\n`` terminated: ``*IDN?``, ``*RST``, ``*CLS``, ``*OPC?``, ``EXP <s>``/``EXP?``,
``ACC <n>``/``ACC?``, ``LASER:POW <mW>``/``LASER:POW?``, ``LASER:STAT ON|OFF``/``LASER:STAT?``,
``LASER:WAV?``, ``POIN?``, ``TEMP?``, ``AXIS?`` (IEEE 488.2 block of float64 little-endian wavenumbers, cm-1),
``ACQ?`` (block of float32 little-endian counts), ``SYST:ERR?`` (``0,"No error"``), ``SYST:ERR:COUN?``.
``ACQ?`` takes EXP x ACC seconds of simulated time and looks at the stage's current position; the sample is
lit only when the laser is on and the SC10 shutter is open, otherwise the spectrum is dark (dark current
and read noise only, plus the rare cosmic-ray spike). With ``shutter_fraction`` the light is the fraction of
the exposure the shutter was open (a timed exposure that closes too early gives a weaker spectrum).

Like a real instrument, its wavenumber axis is slightly off: ``AXIS?`` reports every pixel
``axis_error_cm1`` (seeded, 0.5-1.5 cm-1 either way) above its true Raman shift, so bands read that much too
high until a Si reference calibrates the axis. A piece of Si wafer sits on the sample holder at
``reference_um`` (stage x, y, z; 60 um before the wire's start in x and y, see :func:`reference_position`):
within :data:`REFERENCE_RADIUS_UM` of it the spectrum is pure bulk c-Si (520.7 cm-1, FWHM 3.5 cm-1).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from simulated_instruments import scpi
from simulated_instruments.emulator import Reply
from simulated_instruments.errorqueue import QueuedErrors
from simulated_instruments.scpi import CommandTable, ScpiError, need, to_bool, to_float

IDN = "NANOCELL,SIMSPEC-532,SIM00001,1.0"
SI_REFERENCE_CM1 = 520.7
"""Raman shift of bulk c-Si at room temperature (cm-1; 520.5-520.7 in the domain notes, section 1.6)."""
REFERENCE_RADIUS_UM = 5.0
"""The Si reference piece fills the spot within this distance of its position (um)."""
_REFERENCE_HEIGHT = 2.0e4
"""Peak rate of the reference c-Si band (counts per s per mW): bulk Si is far brighter than one wire."""
_READ_NOISE = 4.0
"""Read noise of one accumulation of the reference spectrum (counts rms), like the cell's detector."""


def reference_position(
    wire_start_um: tuple[float, ...], wire_z_um: float = 0.0
) -> tuple[float, float, float]:
    """Stage position (x, y, z) um of the simulated Si reference: 60 um before the wire's start in x and y
    (inside the bench's stage travel, which reaches 100 um beyond the wire)."""
    return float(wire_start_um[0]) - 60.0, float(wire_start_um[1]) - 60.0, float(wire_z_um)


class Spectrometer(QueuedErrors):
    """``position`` gives the stage position (um) at a simulated time; ``shutter_open`` the SC10 state;
    ``shutter_fraction(t0, t1)``, if given, the fraction of [t0, t1] the shutter was open."""

    def __init__(self, name: str, clock: Any, faults: Any, *, model: Any,
                 position: Callable[[float], tuple[float, float, float]], shutter_open: Callable[[], bool],
                 shutter_fraction: Callable[[float, float], float] | None = None, seed: int = 0,
                 axis_error_cm1: float | None = None,
                 reference_um: tuple[float, float, float] | None = None) -> None:
        super().__init__(name, clock, faults)
        self.model = model
        self.position = position
        self.shutter_open = shutter_open
        self.shutter_fraction = shutter_fraction
        self.rng = np.random.default_rng(seed)
        if axis_error_cm1 is None:
            cal = np.random.default_rng([seed, 520])  # its own stream: the spectra stay as they were
            axis_error_cm1 = float(cal.choice([-1.0, 1.0]) * cal.uniform(0.5, 1.5))
        self.axis_error_cm1 = float(axis_error_cm1)
        if reference_um is None and hasattr(model, "wire_start_um"):
            reference_um = reference_position(model.wire_start_um, float(getattr(model, "wire_z_um", 0.0)))
        self.reference_um = reference_um
        self.queue: deque[tuple[int, str]] = deque(maxlen=20)
        self._overflowed = False
        self.table = CommandTable()
        self._build()
        self._reset()

    def _reset(self) -> None:
        self.exposure_s = 1.0
        self.accumulations = 1
        self.laser_on = False
        self.laser_mW = 0.1

    def output_on(self) -> bool:
        """The laser is emitting (whether or not the shutter lets it reach the sample)."""
        return self.laser_on

    def _queue(self, code: int, message: str) -> None:
        if len(self.queue) >= 20:
            self.queue[-1] = (-350, "Queue overflow")
        else:
            self.queue.append((code, message))
        self.record_error(f"{code},{message}")

    def handle(self, line: str, conn: Reply) -> str | bytes | None:
        replies = scpi.execute(self.table, line, self._queue, relative=False)
        if not replies:
            return None
        if any(isinstance(r, bytes) for r in replies):
            # a block is its own message: send it with the terminator already appended
            return b"".join(r if isinstance(r, bytes) else r.encode() + b";" for r in replies)
        return ";".join(replies) + "\n"  # type: ignore[arg-type]

    def _build(self) -> None:
        t = self.table
        t.add("*IDN?", lambda a: IDN)
        t.add("*RST", lambda a: self._reset())
        t.add("*CLS", lambda a: self.queue.clear())
        t.add("*OPC?", lambda a: "1")
        t.add("EXPosure", lambda a: setattr(self, "exposure_s", self._num(a, 1e-3, 600.0)))
        t.add("EXPosure?", lambda a: f"{self.exposure_s:.6e}")
        t.add("ACCumulations", lambda a: setattr(self, "accumulations", self._int(a, 1, 1000)))
        t.add("ACCumulations?", lambda a: str(self.accumulations))
        t.add("LASer:POWer", lambda a: setattr(self, "laser_mW", self._num(a, 0.0, 50.0)))
        t.add("LASer:POWer?", lambda a: f"{self.laser_mW:.6e}")
        t.add("LASer:STATe", self._set_laser)
        t.add("LASer:STATe?", lambda a: "1" if self.laser_on else "0")
        t.add("LASer:WAVelength?", lambda a: "532.0")
        t.add("POINts?", lambda a: str(len(self.model.wavenumbers)))
        t.add("TEMPerature?", lambda a: f"{-60.0:.6e}")
        t.add("AXIS?", lambda a: scpi.ieee_block(self.reported_axis().astype("<f8").tobytes()))
        t.add("ACQuire?", lambda a: scpi.ieee_block(self.acquire().astype("<f4").tobytes()))
        t.add("SYSTem:ERRor[:NEXT]?", lambda a: self._next_error())
        t.add("SYSTem:ERRor:COUNt?", lambda a: str(len(self.queue)))

    def _num(self, args: list[str], lo: float, hi: float) -> float:
        need(args, 1)
        return to_float(args[0], lo, hi)

    def _int(self, args: list[str], lo: int, hi: int) -> int:
        value = self._num(args, lo, hi)
        if value != int(value):
            raise ScpiError(-104, "Data type error")
        return int(value)

    def _set_laser(self, args: list[str]) -> None:
        need(args, 1)
        self.laser_on = to_bool(args[0])

    def _next_error(self) -> str:
        if not self.queue:
            return '0,"No error"'
        code, message = self.queue.popleft()
        return f'{code},"{message}"'

    def acquire(self) -> np.ndarray:
        """One spectrum (counts, float32), after EXP x ACC simulated seconds."""
        duration = self.exposure_s * self.accumulations
        t0 = self.clock.now()
        self.clock.sleep(duration)
        if self.shutter_fraction is not None:
            lit = self.shutter_fraction(t0, t0 + duration)
        else:
            lit = 1.0 if self.shutter_open() else 0.0
        x, y, z = self.position(t0 + duration / 2)
        # no light on the sample: the CCD still integrates its dark current and read noise (and cosmics)
        power = self.laser_mW * lit if self.laser_on else 0.0
        if self.on_reference(x, y):
            return self.reference_spectrum(power)
        counts = self.model.raman_spectrum(t0 + duration, x, y, z, self.exposure_s, self.accumulations,
                                           power, rng=self.rng)
        return np.asarray(counts, dtype=np.float32)

    def reported_axis(self) -> np.ndarray:
        """The wavenumbers ``AXIS?`` reports (cm-1): the true ones plus the calibration error."""
        return np.asarray(self.model.wavenumbers, dtype=float) + self.axis_error_cm1

    def on_reference(self, x_um: float, y_um: float) -> bool:
        """The spot is on the Si reference piece."""
        ref = self.reference_um
        return ref is not None and float(np.hypot(x_um - ref[0], y_um - ref[1])) <= REFERENCE_RADIUS_UM

    def reference_spectrum(self, power_mW: float) -> np.ndarray:
        """Bulk c-Si at its true shift (a Lorentzian, FWHM 3.5 cm-1, on a flat background) with shot and read
        noise, for the present exposure, accumulations and laser power at the sample (mW)."""
        nu = np.asarray(self.model.wavenumbers, dtype=float)
        total_s = self.exposure_s * self.accumulations
        rate = _REFERENCE_HEIGHT / (1.0 + ((nu - SI_REFERENCE_CM1) / 1.75) ** 2) + 20.0
        counts = self.rng.poisson(rate * power_mW * total_s).astype(float)
        counts += self.rng.normal(0.0, _READ_NOISE * np.sqrt(self.accumulations), nu.size)
        return counts.astype(np.float32)
