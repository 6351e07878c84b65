"""Vendor libraries of the real spectrometer back ends: imported at connect time, with a one-line error.

The package imports without any vendor library; a back end calls :func:`import_vendor` when it connects, so
a station naming it on a machine without the library fails ``nanocell station check`` with a line saying what
is missing and how to install it, never with a traceback.
"""

from __future__ import annotations

import importlib
import math
from types import ModuleType

from drivers.errors import DriverError


class VendorLibraryMissing(DriverError):
    """A vendor Python package or the vendor's own SDK/DLL is not installed on this machine."""


def import_vendor(module: str, extra: str, sdk: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`VendorLibraryMissing` naming the pip extra (and the vendor
    ``sdk``, the part pip cannot install)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        also = f", and install {sdk}" if sdk else ""
        package = module.split(".", maxsplit=1)[0]
        raise VendorLibraryMissing(
            f"{package} is not installed ({exc}): pip install \"nanocell-daq[{extra}]\"{also}"
        ) from None


def laser_wavelength(name: str, value: object) -> float:
    """The ``laser_wavelength_nm`` option of a back end, checked (it turns wavelengths into Raman shift)."""
    if value is None:
        raise ValueError(f"{name}: options.laser_wavelength_nm is missing: the excitation wavelength (nm)"
                         " turns the wavelength calibration into Raman shift")
    if not (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            and value > 0):
        raise ValueError(f"{name}: laser_wavelength_nm must be a positive number (got {value!r})")
    return float(value)


def raman_shift_cm1(wavelength_nm, laser_nm: float):
    """Raman (Stokes) shift in cm-1 of light at ``wavelength_nm`` excited at ``laser_nm``:
    ``1e7 / laser_nm - 1e7 / wavelength_nm`` (positive on the red side of the laser)."""
    if not (math.isfinite(laser_nm) and laser_nm > 0):
        raise ValueError(f"laser wavelength must be a positive number of nm (got {laser_nm!r})")
    return 1e7 / laser_nm - 1e7 / wavelength_nm
