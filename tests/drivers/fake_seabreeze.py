"""A fake of ``seabreeze.spectrometers`` for the Ocean Insight back end without hardware.

Every public method and property has the real ``Spectrometer``'s name (and parameters, for methods):
``test_seabreeze_spectrometer`` checks them against the installed seabreeze.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


class FakeSpectrometer:
    """A 2048-pixel unit calibrated 540-600 nm, integration 10 us to 10 s, scans from ``scans``."""

    opened: list[FakeSpectrometer] = []  # noqa: RUF012 - shared on purpose: the tests read it
    serials = ("USB4C01234",)
    no_backend = False

    def __init__(self, serial: str) -> None:
        self._serial = serial
        self.calls: list[tuple] = []
        self.scans: list[np.ndarray] = []
        self.closed = False

    @classmethod
    def from_serial_number(cls, serial=None):
        if cls.no_backend:
            raise RuntimeError("No pyusb backend found")
        if serial not in cls.serials:
            raise RuntimeError(f"No device attached with serial number '{serial}'.")
        cls.opened.append(cls(serial))
        return cls.opened[-1]

    @classmethod
    def from_first_available(cls):
        return cls.from_serial_number(cls.serials[0])

    def integration_time_micros(self, integration_time_micros):
        assert isinstance(integration_time_micros, int)
        self.calls.append(("integration_time_micros", integration_time_micros))

    def wavelengths(self):
        return np.linspace(540.0, 600.0, self.pixels)

    def intensities(self, correct_dark_counts=False, correct_nonlinearity=False):
        self.calls.append(("intensities", correct_dark_counts, correct_nonlinearity))
        return self.scans.pop(0) if self.scans else np.full(self.pixels, 100.0)

    def close(self):
        self.closed = True

    @property
    def serial_number(self):
        return self._serial

    @property
    def model(self):
        return "USB4000"

    @property
    def pixels(self):
        return 2048

    @property
    def integration_time_micros_limits(self):
        return (10, 10_000_000)

    @property
    def max_intensity(self):
        return 65535.0


def fake_module() -> SimpleNamespace:
    """A stand-in for ``seabreeze.spectrometers``."""
    FakeSpectrometer.opened = []
    return SimpleNamespace(Spectrometer=FakeSpectrometer)
