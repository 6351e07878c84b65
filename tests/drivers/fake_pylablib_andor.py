"""Fakes of ``pylablib.devices.Andor``'s camera and spectrograph, for the Andor back end without hardware.

Every public method has the real one's name and parameters (``test_andor_shamrock`` checks both against the
installed pylablib), so a call the back end makes that the real library would refuse fails here too.
Units as pylablib's: exposure s, temperature degC, wavelength m.
"""

from __future__ import annotations

from collections import namedtuple
from types import SimpleNamespace

import numpy as np

CameraInfo = namedtuple("TDeviceInfo", ["controller_model", "head_model", "serial_number"])
SpectrographInfo = namedtuple("TDeviceInfo", ["serial_number"])


class FakeAndorSDK2Camera:
    """An FVB-capable camera: 1024 pixels, cooler reaching ``stabilized`` after ``statuses``."""

    width = 1024
    statuses: tuple[str, ...] = ("not_reached", "not_stabilized", "stabilized")
    setpoint_range = (-100, 20)

    def __init__(self, idx=0, ini_path="", temperature=None, fan_mode="off", amp_mode=None):
        self.idx = idx
        self.fan_mode = fan_mode
        self.calls: list[tuple] = [("open", idx, temperature, fan_mode)]
        self.read_mode = "image"
        self.exposure = 0.1
        self.acquisition_mode = "single"
        self.kinetic = (1, 0.0, 1, 0, 0)  # (num_cycle, cycle_time, num_acc, cycle_time_acc, num_prescan)
        # as pylablib at open: None -> cooler on, 20 % of the range above its low end; "off" -> cooler off
        low, high = self.setpoint_range
        self.setpoint = high if temperature == "off" else low + int((high - low) * 0.2)
        self.cooler = temperature != "off"
        if temperature not in (None, "off"):
            self.setpoint = int(min(max(temperature, low), high))
        self._statuses = list(self.statuses)
        self.frame = np.arange(self.width, dtype=np.int32).reshape(1, -1)
        self.closed = False

    def set_read_mode(self, mode):
        self.calls.append(("set_read_mode", mode))
        self.read_mode = mode
        return mode

    def get_read_mode(self):
        return self.read_mode

    def set_exposure(self, exposure):
        self.calls.append(("set_exposure", exposure))
        self.exposure = exposure
        return exposure

    def get_exposure(self):
        return self.exposure

    def setup_accum_mode(self, num_acc, cycle_time_acc=0):
        self.calls.append(("setup_accum_mode", num_acc))
        self.acquisition_mode = "accum"
        return (num_acc, cycle_time_acc)

    def setup_kinetic_mode(self, num_cycle, cycle_time=0.0, num_acc=1, cycle_time_acc=0, num_prescan=0):
        self.calls.append(("setup_kinetic_mode", num_cycle, num_acc))
        self.acquisition_mode = "kinetic"
        self.kinetic = (num_cycle, cycle_time, num_acc, cycle_time_acc, num_prescan)
        return self.kinetic

    def get_kinetic_mode_parameters(self):
        return self.kinetic

    def set_temperature(self, temperature, enable_cooler=True):
        # as the SDK: clamped to the head's range and rounded to whole degrees
        self.calls.append(("set_temperature", temperature, enable_cooler))
        self.setpoint = int(min(max(temperature, self.setpoint_range[0]), self.setpoint_range[1]))
        self.cooler = self.cooler or enable_cooler
        return self.setpoint

    def get_temperature_setpoint(self):
        return self.setpoint

    def get_temperature_status(self):
        if not self.cooler:
            return "off"
        self.calls.append(("get_temperature_status",))
        return self._statuses.pop(0) if len(self._statuses) > 1 else self._statuses[0]

    def get_temperature(self):
        return float(self.setpoint) + (0.0 if self._statuses == ["stabilized"] else 15.0)

    def get_device_info(self):
        return CameraInfo("USB", "DU420A-BEX2-DD", 12345)

    def snap(self, timeout=5.0, return_info=False):
        # as pylablib: a snap is a one-cycle kinetic series that keeps the kinetic parameters it had (the
        # accumulate mode's settings are not used); each cycle sums num_acc exposures
        self.setup_kinetic_mode(1, *self.kinetic[1:])
        self.calls.append(("snap", timeout))
        return self.frame * self.kinetic[2]

    def close(self):
        self.closed = True


class FakeShamrockSpectrograph:
    """A spectrograph whose calibration spans ``calibration_nm`` over the camera's pixels."""

    calibration_nm: tuple[float, float] = (540.0, 600.0)
    shutter_present = True

    def __init__(self, idx=0):
        self.idx = idx
        self.calls: list[tuple] = []
        self.pixels = 0
        self.wavelength = 570e-9
        self.shutter = "opened"
        self.closed = False

    def setup_pixels_from_camera(self, cam):
        self.calls.append(("setup_pixels_from_camera",))
        self.pixels = cam.width
        return 26e-6, cam.width

    def get_calibration(self):
        if not self.pixels:
            return np.zeros(0)
        return np.linspace(*self.calibration_nm, self.pixels) * 1e-9

    wavelength_limits = (0.0, 1500e-9)

    def set_wavelength(self, wavelength):
        self.calls.append(("set_wavelength", wavelength))
        self.wavelength = min(max(wavelength, self.wavelength_limits[0]), self.wavelength_limits[1])
        return self.wavelength

    def get_wavelength(self):
        return self.wavelength

    def get_grating(self):
        return 1

    def is_shutter_present(self):
        return self.shutter_present

    def set_shutter(self, mode):
        self.calls.append(("set_shutter", mode))
        self.shutter = mode
        return mode

    def get_shutter(self):
        return self.shutter

    def get_device_info(self):
        return SpectrographInfo("SR-3027")

    def close(self):
        self.closed = True


def fake_module(camera_cls=FakeAndorSDK2Camera, spectrograph_cls=FakeShamrockSpectrograph) -> SimpleNamespace:
    """A stand-in for ``pylablib.devices.Andor`` that records the instances it opens."""
    opened: dict[str, object] = {}

    def camera(*args, **kwargs):
        opened["camera"] = camera_cls(*args, **kwargs)
        return opened["camera"]

    def spectrograph(*args, **kwargs):
        opened["spectrograph"] = spectrograph_cls(*args, **kwargs)
        return opened["spectrograph"]

    return SimpleNamespace(AndorSDK2Camera=camera, ShamrockSpectrograph=spectrograph, opened=opened)
