"""Andor CCD (SDK2: iDus, Newton) on a Shamrock/Kymera spectrograph, through pylablib (``[andor]`` extra).

pylablib is imported when the back end connects, never when this module is imported. It talks to Andor's own
DLLs (``atmcd`` for the camera, ``ShamrockCIF``/``atspectrograph`` for the spectrograph), which come with the
Andor SDK and are not on PyPI.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

import numpy as np

from drivers.errors import InstrumentError
from drivers.roles import Spectrum
from drivers.vendor import VendorLibraryMissing, import_vendor, laser_wavelength, raman_shift_cm1

INSTALL = 'pip install "nanocell-daq[andor]" and the Andor SDK (its atmcd and ShamrockCIF DLLs)'
RESOURCE = re.compile(r"^andor:(\d+)(?:/(\d+))?$", re.IGNORECASE)


def _pylablib_andor() -> Any:
    """``pylablib.devices.Andor`` (the module tests replace with fakes)."""
    return import_vendor("pylablib.devices.Andor", "andor",
                         "the Andor SDK (its atmcd and ShamrockCIF DLLs)")


class _Handles:
    """The camera and spectrograph handles; ``close()`` is what the station calls to release a driver."""

    def __init__(self, camera: Any, spectrograph: Any) -> None:
        self.camera = camera
        self.spectrograph = spectrograph

    def close(self) -> None:
        for handle in (self.camera, self.spectrograph):
            if handle is not None:
                handle.close()


class AndorShamrock:
    """Andor CCD + Shamrock/Kymera spectrograph (pylablib): full vertical binning, accumulations, cooler.

    :param resource: ``andor:CAMERA[/SPECTROGRAPH]`` (SDK indices, e.g. ``andor:0/0``).
    :param laser_wavelength_nm: the station's excitation wavelength; the spectrograph's calibration (nm per
        pixel) is converted to Raman shift with it.
    :param temperature_C: cooler set point (degC), read back; :meth:`acquire` then waits (at most
        ``cooler_timeout_s``) until the camera reports the temperature stabilized. ``"off"`` switches the
        cooler off; None lets pylablib choose (it turns the cooler on at 20 % of the head's range above its
        lowest set point) and nothing waits for it.
    :param center_wavelength_nm: moves the grating to this centre wavelength when connecting (None: as is).
    :param fan_mode: ``"full"``, ``"low"`` or ``"off"`` (a water-cooled head may run with it off).
    :param timeout: extra time (ms) an acquisition may take beyond ``exposure_s * accumulations``.

    Its shutdown closes the spectrograph's shutter (when it has one) and reads it back; the cooler is left on
    (warming up and cooling again at each run's end would wear the sensor and cost minutes).
    """

    ROLES = ("spectrometer",)
    IDENTITY = re.compile(r"^ANDOR,")

    def __init__(self, resource: str, name: str = "Andor + Shamrock", *,
                 laser_wavelength_nm: float | None = None, temperature_C: float | str | None = None,
                 cooler_timeout_s: float = 900.0,
                 center_wavelength_nm: float | None = None, fan_mode: str = "full",
                 timeout: float = 10000, exposure_s: float = 1.0, accumulations: int = 1) -> None:
        match = RESOURCE.match(resource.strip())
        if match is None:
            raise ValueError(f"{name}: resource {resource!r} is not 'andor:CAMERA[/SPECTROGRAPH]'"
                             " (e.g. andor:0/0)")
        self.name = name
        self.laser_wavelength_nm = laser_wavelength(name, laser_wavelength_nm)
        if temperature_C not in (None, "off") and (isinstance(temperature_C, bool | str)
                                                   or not math.isfinite(float(temperature_C))):
            raise ValueError(f"{name}: temperature_C must be a number of degC, 'off' or absent"
                             f" (got {temperature_C!r})")
        self.temperature_setpoint_C = None if temperature_C in (None, "off") else float(temperature_C)
        self.cooler_timeout_s = float(cooler_timeout_s)
        self._extra_timeout_s = float(timeout) / 1000.0
        self._sleep = time.sleep
        self._clock = time.monotonic
        self.isShutdown = False
        andor = _pylablib_andor()
        cam_idx, spec_idx = int(match.group(1)), int(match.group(2) or 0)
        camera = spectrograph = None
        try:
            camera = andor.AndorSDK2Camera(idx=cam_idx, temperature=temperature_C, fan_mode=fan_mode)
            spectrograph = andor.ShamrockSpectrograph(idx=spec_idx)
        except (OSError, AttributeError) as exc:
            # pylablib raises OSError when it cannot load an Andor DLL; some versions reach for the
            # Windows-only ctypes.windll off Windows (AttributeError) - any other AttributeError is ours
            if isinstance(exc, AttributeError) and "windll" not in str(exc):
                raise
            if camera is not None:
                camera.close()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise VendorLibraryMissing(f"{name}: the Andor SDK could not be loaded ({first}):"
                                       f" {INSTALL}") from None
        self.adapter = _Handles(camera, spectrograph)
        try:
            self._setup(center_wavelength_nm, exposure_s, accumulations)
        except BaseException:
            self.adapter.close()
            raise

    @property
    def camera(self) -> Any:
        return self.adapter.camera

    @property
    def spectrograph(self) -> Any:
        return self.adapter.spectrograph

    def _setup(self, center_wavelength_nm: float | None, exposure_s: float, accumulations: int) -> None:
        cam, spec = self.camera, self.spectrograph
        cam.set_read_mode("fvb")
        mode = cam.get_read_mode()
        if mode != "fvb":
            raise InstrumentError(f"{self.name}: camera refused full vertical binning (read mode {mode!r})")
        if self.temperature_setpoint_C is not None:
            cam.set_temperature(self.temperature_setpoint_C, enable_cooler=True)
            # the SDK clamps the set point to the head's range and rounds it to whole degrees: read it back
            actual = float(cam.get_temperature_setpoint())
            if abs(actual - self.temperature_setpoint_C) > 0.5:
                raise InstrumentError(f"{self.name}: camera set point is {actual:g} degC, not the "
                                      f"{self.temperature_setpoint_C:g} degC asked"
                                      " (outside the head's range)")
        if center_wavelength_nm is not None:
            spec.set_wavelength(float(center_wavelength_nm) * 1e-9)
            actual_nm = float(spec.get_wavelength()) * 1e9
            if abs(actual_nm - float(center_wavelength_nm)) > 0.5:
                raise InstrumentError(f"{self.name}: the grating is at {actual_nm:.1f} nm, not the "
                                      f"{float(center_wavelength_nm):g} nm asked (outside its range?)")
        spec.setup_pixels_from_camera(cam)
        self._has_shutter = bool(spec.is_shutter_present())
        if self._has_shutter:
            self._set_shutter("closed")
        self._axis, self._reversed = self._read_axis()
        self.exposure_s = exposure_s
        self.accumulations = accumulations

    def _read_axis(self) -> tuple[np.ndarray, bool]:
        """Raman shift (cm-1) of each pixel from the spectrograph's calibration (m), ascending."""
        wavelengths_nm = np.asarray(self.spectrograph.get_calibration(), dtype=np.float64) * 1e9
        if wavelengths_nm.size == 0 or not np.all(np.isfinite(wavelengths_nm)) or np.any(wavelengths_nm <= 0):
            raise InstrumentError(f"{self.name}: the spectrograph has no wavelength calibration for this"
                                  f" grating ({wavelengths_nm.size} pixels)")
        shift = raman_shift_cm1(wavelengths_nm, self.laser_wavelength_nm)
        steps = np.diff(shift)
        if shift.size > 1 and np.all(steps < 0):
            return shift[::-1].copy(), True
        if shift.size > 1 and not np.all(steps > 0):
            raise InstrumentError(f"{self.name}: the spectrograph's calibration is not monotonic")
        return shift, False

    @property
    def wavenumbers(self) -> np.ndarray:
        """Raman shift of each pixel (cm-1, float64, ascending), from the calibration read at connect."""
        return self._axis

    @property
    def id(self) -> str:
        info = self.camera.get_device_info()
        spec = self.spectrograph.get_device_info()
        return (f"ANDOR,{getattr(info, 'head_model', '')},{getattr(info, 'serial_number', '')},"
                f"SHAMROCK,{getattr(spec, 'serial_number', '')}")

    @property
    def exposure_s(self) -> float:
        """Exposure per accumulation (s), as the camera reports it."""
        return float(self.camera.get_exposure())

    @exposure_s.setter
    def exposure_s(self, value: float) -> None:
        value = float(value)
        if not (math.isfinite(value) and 0 < value <= 3600):
            raise ValueError(f"{self.name}: exposure must be in (0, 3600] s (got {value!r})")
        self.camera.set_exposure(value)

    @property
    def accumulations(self) -> int:
        """Exposures summed into one spectrum on the camera: a one-cycle kinetic series with this many
        accumulations (pylablib's ``snap`` runs a kinetic series and keeps its parameters; the accumulate
        mode's own settings would be dropped)."""
        return int(self.camera.get_kinetic_mode_parameters()[2])

    @accumulations.setter
    def accumulations(self, value: int) -> None:
        if isinstance(value, bool) or int(value) != value or not 1 <= int(value) <= 10000:
            raise ValueError(f"{self.name}: accumulations must be an integer from 1 to 10000 (got {value!r})")
        self.camera.setup_kinetic_mode(1, num_acc=int(value))

    @property
    def ccd_temperature_C(self) -> float:
        return float(self.camera.get_temperature())

    def wait_until_cooled(self, timeout_s: float | None = None) -> float:
        """Wait (at most ``timeout_s``, default ``cooler_timeout_s``) until the camera reports its
        temperature ``stabilized`` at the set point; return the temperature read back (degC).

        Raises :class:`InstrumentError` naming the temperature and status on a timeout or when the cooler
        is off.
        """
        limit = self.cooler_timeout_s if timeout_s is None else float(timeout_s)
        deadline = self._clock() + limit
        while True:
            status = self.camera.get_temperature_status()
            temperature = float(self.camera.get_temperature())
            if status == "stabilized":
                return temperature
            if status == "off":
                raise InstrumentError(f"{self.name}: cooler is off at {temperature:.1f} degC "
                                      f"(set point {self.temperature_setpoint_C} degC)")
            if self._clock() >= deadline:
                raise InstrumentError(
                    f"{self.name}: CCD at {temperature:.1f} degC, set point"
                    f" {self.temperature_setpoint_C} degC, not stable after {limit:g} s (status {status!r})")
            self._sleep(min(2.0, max(0.0, deadline - self._clock())))

    def acquire(self) -> Spectrum:
        """One spectrum: wait for the cooler (if a set point is given), open the spectrograph's shutter,
        expose ``accumulations`` frames of ``exposure_s``, close the shutter again (read back)."""
        if self.temperature_setpoint_C is not None:
            self.wait_until_cooled()
        exposure = self.exposure_s
        accumulations = self.accumulations
        timeout = 1.5 * exposure * accumulations + self._extra_timeout_s
        if self._has_shutter:
            self._set_shutter("opened")
        try:
            frame = self.camera.snap(timeout=timeout)
        finally:
            if self._has_shutter:
                self._set_shutter("closed")
        counts = np.asarray(frame, dtype=np.float32).reshape(-1)
        if counts.shape != self._axis.shape:
            raise InstrumentError(f"{self.name}: spectrum has {counts.size} points, axis {self._axis.size}")
        if self._reversed:
            counts = counts[::-1].copy()
        return Spectrum(self._axis, counts, exposure, accumulations)

    def _set_shutter(self, mode: str) -> None:
        self.spectrograph.set_shutter(mode)
        state = self.spectrograph.get_shutter()
        if state != mode:
            raise InstrumentError(f"{self.name}: spectrograph shutter reads {state!r} after setting {mode!r}")

    def snapshot_settings(self) -> dict[str, Any]:
        """Exposure, accumulations, read mode, cooler, grating position and laser wavelength; queries only."""
        cam, spec = self.camera, self.spectrograph
        return {"exposure_s": self.exposure_s, "accumulations": self.accumulations,
                "read_mode": cam.get_read_mode(), "ccd_temperature_C": float(cam.get_temperature()),
                "temperature_status": cam.get_temperature_status(),
                "temperature_setpoint_C": self.temperature_setpoint_C,
                "center_wavelength_nm": float(spec.get_wavelength()) * 1e9, "grating": spec.get_grating(),
                "laser_wavelength_nm": self.laser_wavelength_nm, "points": int(self._axis.size)}

    def shutdown(self) -> None:
        """Close the spectrograph's shutter (if it has one) and read it back; the cooler stays as it is."""
        if self._has_shutter:
            self._set_shutter("closed")
        self.isShutdown = True
