"""Nanocell spectrometer/CCD/laser controller (see simulated_instruments/spectrometer.md)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from pymeasure.instruments import Instrument, SCPIMixin
from pymeasure.instruments.validators import strict_discrete_set, strict_range

from drivers._common import Resync, SCPIErrorQueue, longer_timeout, with_defaults
from drivers.errors import InstrumentError, ReplyError
from drivers.roles import Spectrum


class NanocellSpectrometer(Resync, SCPIErrorQueue, SCPIMixin, Instrument):
    """Raman spectrometer + CCD + 532 nm laser behind one SCPI-like controller.

    ``exposure_s`` (s per accumulation) and ``accumulations`` are the Spectrometer role's settings;
    ``power_mW`` is the Laser role's: setting it > 0 sets the power and turns emission on, 0 turns it off.
    The shutter (a separate instrument) decides whether the sample is lit.

    :param adapter: VISA resource string or a PyMeasure adapter.
    :param kwargs: forwarded to the VISA adapter (defaults: ``\\n`` terminations, 10 s timeout; each
        acquisition waits that timeout plus 1.5 x ``exposure_s * accumulations``).

    A reply that comes late or torn (a timeout, a block cut short) leaves bytes on the link: :meth:`resync`
    (called by the engine after such a fault, and by :meth:`shutdown`) discards them and checks ``*IDN?``.
    """

    IDENTITY = re.compile(r"^NANOCELL,", re.IGNORECASE)
    ERROR_QUERY = "SYST:ERR?"
    MAX_ERRORS = 25

    def __init__(self, adapter, name: str = "Nanocell spectrometer", **kwargs):
        kwargs = with_defaults(kwargs, read_termination="\n", write_termination="\n", timeout=10000)
        super().__init__(adapter, name, **kwargs)
        self._axis: np.ndarray | None = None
        self._base_timeout_ms = float(kwargs["timeout"])

    exposure_s = Instrument.control(
        "EXP?", "EXP %g", """Control the exposure per accumulation (s), 1e-3 to 600.""",
        validator=strict_range, values=[1e-3, 600],
    )
    accumulations = Instrument.control(
        "ACC?", "ACC %d", """Control the number of accumulations summed into one spectrum (1 to 1000).""",
        validator=strict_range, values=[1, 1000], cast=int,
        set_process=int,
    )
    laser_setpoint_mW = Instrument.control(
        "LASER:POW?", "LASER:POW %g", """Control the laser power setpoint at the sample (mW), 0 to 50.""",
        validator=strict_range, values=[0, 50],
    )
    laser_enabled = Instrument.control(
        "LASER:STAT?", "LASER:STAT %s", """Control laser emission (bool).""",
        validator=strict_discrete_set, values={True: "ON", False: "OFF"}, map_values=True,
        get_process=lambda v: "ON" if bool(float(v)) else "OFF",
    )
    wavelength_nm = Instrument.measurement("LASER:WAV?", """Get the excitation wavelength (nm).""")
    points = Instrument.measurement("POIN?", """Get the number of CCD pixels.""", cast=int)
    ccd_temperature_C = Instrument.measurement("TEMP?", """Get the CCD temperature (degC).""")

    @property
    def power_mW(self) -> float:
        """Laser power at the sample (mW); 0 when emission is off."""
        return float(self.laser_setpoint_mW) if self.laser_enabled else 0.0

    @power_mW.setter
    def power_mW(self, value: float) -> None:
        if value > 0:
            self.laser_setpoint_mW = value
            self.laser_enabled = True
        else:
            strict_range(value, [0, 50])
            self.laser_enabled = False

    def snapshot_settings(self) -> dict[str, Any]:
        """Exposure (s), accumulations, laser setpoint (mW), emission, wavelength (nm), CCD; queries only."""
        return {"exposure_s": float(self.exposure_s), "accumulations": int(self.accumulations),
                "laser_setpoint_mW": float(self.laser_setpoint_mW), "laser_enabled": bool(self.laser_enabled),
                "wavelength_nm": float(self.wavelength_nm), "points": int(self.points),
                "ccd_temperature_C": float(self.ccd_temperature_C)}

    @property
    def wavenumbers(self) -> np.ndarray:
        """Raman shift of each pixel (cm-1, float64, ascending); read once and cached."""
        if self._axis is None:
            self._axis = self._query_block("AXIS?", "<f8").astype(np.float64)
        return self._axis

    def acquire(self) -> Spectrum:
        """Acquire one spectrum with the present exposure and accumulations (blocks that long)."""
        exposure = float(self.exposure_s)
        accumulations = int(self.accumulations)
        axis = self.wavenumbers
        with longer_timeout(self, self._base_timeout_ms + 1500 * exposure * accumulations):
            counts = self._query_block("ACQ?", "<f4").astype(np.float32)
        if counts.shape != axis.shape:
            raise InstrumentError(f"{self.name}: spectrum has {counts.size} points, axis {axis.size}")
        return Spectrum(axis, counts, exposure, accumulations)

    def _query_block(self, command: str, dtype: str) -> np.ndarray:
        """Query an IEEE 488.2 definite-length block ``#<n><len><payload>`` and its terminator.

        Read by byte counts, never up to a termination character: the payload may contain 0x0A. A reply
        that is not a well-formed block raises :class:`ReplyError` and leaves the rest of it unread (reading
        "to the end of the line" would stop at a 0x0A inside the payload): :meth:`resync` flushes it.
        """
        self.write(command)
        head = self.read_bytes(2)
        if head[:1] != b"#" or not head[1:2].isdigit() or head[1:2] == b"0":
            raise ReplyError(f"{self.name}: {command} did not answer a binary block (got {head!r}...)")
        digits = self.read_bytes(int(head[1:2]))
        if not digits.isdigit():
            raise ReplyError(f"{self.name}: {command} block length is not a number ({digits!r})")
        length = int(digits)
        payload = self.read_bytes(length) if length else b""
        if len(payload) != length:
            raise ReplyError(f"{self.name}: {command} block is {len(payload)} of {length} bytes")
        terminator = getattr(self.adapter.connection, "read_termination", None)
        if isinstance(terminator, str) and terminator:
            self.read_bytes(len(terminator))
        return np.frombuffer(payload, dtype=dtype)

    def sync_exchange(self) -> None:
        """``*IDN?`` must answer this controller's identity (the link is in step again)."""
        reply = self.ask("*IDN?").strip()
        if not self.IDENTITY.match(reply):
            raise ReplyError(f"{self.name}: *IDN? answered {reply[:60]!r}")

    def shutdown(self) -> None:
        """Flush the link (a late acquisition must not be read as the laser state), turn laser emission off
        and read back that it is off."""
        try:
            self.resync()
        except ReplyError:
            pass  # still switch the laser off; the read-back below tells whether it worked
        self.laser_enabled = False
        if self.laser_enabled:
            raise InstrumentError(f"{self.name}: laser still emitting after LASER:STAT OFF")
        self.isShutdown = True
