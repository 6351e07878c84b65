"""Ocean Insight (Ocean Optics) spectrometers through python-seabreeze's pure-Python backend
(extra ``[seabreeze]``).

seabreeze is imported when the back end connects, never when this module is imported. Its ``pyseabreeze``
backend talks USB through pyusb, which needs the libusb-1.0 system library.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any

import numpy as np

from drivers.errors import InstrumentError
from drivers.roles import Spectrum
from drivers.vendor import VendorLibraryMissing, import_vendor, laser_wavelength, raman_shift_cm1

RESOURCE = re.compile(r"^seabreeze:(\S+)$", re.IGNORECASE)
LIBUSB = ("libusb-1.0 is not installed (pyusb found no backend): install it (Debian/Ubuntu: apt install "
          "libusb-1.0-0; Windows: libusb-1.0.dll, e.g. via Zadig/libusb-package)")


def _seabreeze_spectrometers() -> Any:
    """``seabreeze.spectrometers`` on the pure-Python backend (the module tests replace with fakes)."""
    seabreeze = import_vendor("seabreeze", "seabreeze")
    if "seabreeze.spectrometers" not in sys.modules:  # the backend is chosen once, before the first import
        seabreeze.use("pyseabreeze")
    return import_vendor("seabreeze.spectrometers", "seabreeze")


class SeabreezeSpectrometer:
    """Ocean Insight spectrometer used as the Raman CCD: integration time, software accumulations.

    :param resource: ``seabreeze:SERIAL`` (the serial number printed on the unit) or ``seabreeze:any`` (the
        first one found).
    :param laser_wavelength_nm: the station's excitation wavelength; the unit's wavelength calibration (nm
        per pixel, in its EEPROM) is converted to Raman shift with it.
    :param correct_dark_counts, correct_nonlinearity: seabreeze's corrections, off by default.

    The spectrometer has no accumulate mode and no integration-time read-back: ``accumulations`` scans are
    summed here, and after a change of integration time one scan is read and discarded (in the normal
    trigger mode the first scan may have begun before the change). It has no shutter; ``shutdown`` has
    nothing to switch off.
    """

    ROLES = ("spectrometer",)
    IDENTITY = re.compile(r"^OCEAN,")

    def __init__(self, resource: str, name: str = "Ocean Insight spectrometer", *,
                 laser_wavelength_nm: float | None = None,
                 exposure_s: float = 0.1, accumulations: int = 1, correct_dark_counts: bool = False,
                 correct_nonlinearity: bool = False) -> None:
        match = RESOURCE.match(resource.strip())
        if match is None:
            raise ValueError(f"{name}: resource {resource!r} is not 'seabreeze:SERIAL' or 'seabreeze:any'")
        self.name = name
        self.laser_wavelength_nm = laser_wavelength(name, laser_wavelength_nm)
        self.corrections = {"correct_dark_counts": bool(correct_dark_counts),
                            "correct_nonlinearity": bool(correct_nonlinearity)}
        self.isShutdown = False
        spectrometers = _seabreeze_spectrometers()
        serial = match.group(1)
        try:
            if serial.lower() == "any":
                device = spectrometers.Spectrometer.from_first_available()
            else:
                device = spectrometers.Spectrometer.from_serial_number(serial)
        except RuntimeError as exc:
            if "pyusb backend" in str(exc):
                raise VendorLibraryMissing(f"{name}: {LIBUSB}") from None
            raise
        self.adapter = device  # the station closes a driver through ``adapter.close()``
        try:
            self._axis = self._read_axis()
            self._exposure_s = 0.0
            self._stale = True
            self.exposure_s = exposure_s
            self.accumulations = accumulations
        except BaseException:
            device.close()
            raise

    @property
    def device(self) -> Any:
        return self.adapter

    def _read_axis(self) -> np.ndarray:
        wavelengths_nm = np.asarray(self.device.wavelengths(), dtype=np.float64)
        if wavelengths_nm.size == 0 or not np.all(np.isfinite(wavelengths_nm)) or np.any(wavelengths_nm <= 0):
            raise InstrumentError(f"{self.name}: the spectrometer has no wavelength calibration")
        shift = raman_shift_cm1(wavelengths_nm, self.laser_wavelength_nm)
        if shift.size > 1 and not np.all(np.diff(shift) > 0):
            raise InstrumentError(f"{self.name}: the spectrometer's wavelength calibration is not ascending")
        return shift

    @property
    def wavenumbers(self) -> np.ndarray:
        """Raman shift of each pixel (cm-1, float64, ascending), from the calibration read at connect."""
        return self._axis

    @property
    def id(self) -> str:
        return f"OCEAN,{self.device.model},{self.device.serial_number}"

    @property
    def exposure_s(self) -> float:
        """Integration time (s) per scan, as last set (the spectrometer cannot be asked)."""
        return self._exposure_s

    @exposure_s.setter
    def exposure_s(self, value: float) -> None:
        value = float(value)
        low, high = self.device.integration_time_micros_limits
        micros = round(value * 1e6) if math.isfinite(value) else -1
        if not low <= micros <= high:
            raise ValueError(f"{self.name}: integration time must be {low / 1e6:g} to {high / 1e6:g} s on a "
                             f"{self.device.model} (got {value!r})")
        self.device.integration_time_micros(micros)
        self._exposure_s = micros / 1e6
        self._stale = True

    @property
    def accumulations(self) -> int:
        """Scans summed into one spectrum."""
        return self._accumulations

    @accumulations.setter
    def accumulations(self, value: int) -> None:
        if isinstance(value, bool) or int(value) != value or not 1 <= int(value) <= 10000:
            raise ValueError(f"{self.name}: accumulations must be an integer from 1 to 10000 (got {value!r})")
        self._accumulations = int(value)

    def acquire(self) -> Spectrum:
        """Sum ``accumulations`` scans of ``exposure_s`` (blocks that long)."""
        if self._stale:
            self.device.intensities(**self.corrections)  # may have begun before the last change
            self._stale = False
        total = np.zeros(self._axis.shape, dtype=np.float64)
        for _ in range(self._accumulations):
            scan = np.asarray(self.device.intensities(**self.corrections), dtype=np.float64)
            if scan.shape != self._axis.shape:
                raise InstrumentError(f"{self.name}: scan has {scan.size} points, axis {self._axis.size}")
            total += scan
        return Spectrum(self._axis, total.astype(np.float32), self._exposure_s, self._accumulations)

    def snapshot_settings(self) -> dict[str, Any]:
        """Integration time, accumulations, corrections, pixels, saturation level, laser wavelength."""
        return {"exposure_s": self._exposure_s, "accumulations": self._accumulations, **self.corrections,
                "points": int(self._axis.size), "max_intensity": float(self.device.max_intensity),
                "laser_wavelength_nm": self.laser_wavelength_nm}

    def shutdown(self) -> None:
        """Nothing to switch off (no light source, no shutter)."""
        self.isShutdown = True
