"""The Ocean Insight back end driven through a fake of seabreeze, the fake's contract with the installed
seabreeze, and ``nanocell station check`` without seabreeze or without libusb."""

from __future__ import annotations

import inspect
import sys

import numpy as np
import pytest

from drivers import registry, seabreeze_spectrometer
from drivers.roles import Spectrometer
from nanocell_daq.cli import main
from tests.drivers import fake_seabreeze as fakes
from tests.parts import require


@pytest.fixture
def seabreeze(monkeypatch):
    module = fakes.fake_module()
    monkeypatch.setattr(seabreeze_spectrometer, "_seabreeze_spectrometers", lambda: module)
    return module


def _open(resource: str = "seabreeze:USB4C01234", **options):
    options.setdefault("laser_wavelength_nm", 532.0)
    return registry.open_driver("seabreeze", resource, "raman", options)


def test_connect_by_serial_sets_the_integration_time(seabreeze):
    driver = _open(exposure_s=0.25, accumulations=3)
    device = fakes.FakeSpectrometer.opened[-1]
    assert device.calls == [("integration_time_micros", 250000)]
    assert driver.id == "OCEAN,USB4000,USB4C01234"
    assert (driver.exposure_s, driver.accumulations) == (0.25, 3)
    assert not registry.missing_members(driver, Spectrometer)
    assert _open("seabreeze:any").id.endswith("USB4C01234")


def test_axis_is_the_calibration_as_raman_shift(seabreeze):
    axis = _open().wavenumbers
    assert axis.size == 2048 and axis.dtype == np.float64
    # by hand: 1e7/532 - 1e7/540 = 278.47; 1e7/532 - 1e7/600 = 2130.33
    assert axis[0] == pytest.approx(278.47, abs=0.01) and axis[-1] == pytest.approx(2130.33, abs=0.01)


def test_acquire_discards_the_scan_after_a_change_and_sums_the_accumulations(seabreeze):
    driver = _open(exposure_s=0.5, accumulations=3, correct_dark_counts=True)
    device = fakes.FakeSpectrometer.opened[-1]
    device.scans = [np.full(2048, 9999.0)] + [np.arange(2048.0) + k for k in range(3)]
    spectrum = driver.acquire()
    assert spectrum.counts.dtype == np.float32
    assert spectrum.counts[0] == 0 + 1 + 2 and spectrum.counts[10] == 30 + 3  # the 9999 scan is not in it
    assert (spectrum.exposure_s, spectrum.accumulations) == (0.5, 3)
    assert [c for c in device.calls if c[0] == "intensities"] == [("intensities", True, False)] * 4
    device.calls.clear()
    driver.acquire()  # nothing changed: no scan thrown away
    assert len(device.calls) == 3
    driver.exposure_s = 1.0
    device.calls.clear()
    driver.acquire()
    assert len(device.calls) == 4


def test_settings_are_checked_against_the_unit(seabreeze):
    driver = _open()
    for bad in (0, 20.0, float("nan"), 5e-6):
        with pytest.raises(ValueError, match="integration time must be 1e-05 to 10 s on a USB4000"):
            driver.exposure_s = bad
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="accumulations"):
            driver.accumulations = bad
    with pytest.raises(ValueError, match="seabreeze:SERIAL"):
        _open("USB0::1::INSTR")
    with pytest.raises(ValueError, match=r"options\.laser_wavelength_nm is missing"):
        registry.open_driver("seabreeze", "seabreeze:any", "raman", {})


def test_a_scan_of_the_wrong_length_is_refused(seabreeze):
    from drivers.errors import InstrumentError

    driver = _open()
    fakes.FakeSpectrometer.opened[-1].scans = [np.zeros(2048), np.zeros(1024)]
    with pytest.raises(InstrumentError, match="1024 points, axis 2048"):
        driver.acquire()


# --- the fake against the installed seabreeze -------------------------------------------------------------

def test_fake_has_the_names_and_signatures_of_seabreeze():
    try:
        import seabreeze
    except ImportError as exc:
        require("seabreeze", f"the contract test checks the fake against it ({exc})")
    if "seabreeze.spectrometers" not in sys.modules:
        seabreeze.use("pyseabreeze")
    from seabreeze.spectrometers import Spectrometer as Real

    members = {name: value for name, value in vars(fakes.FakeSpectrometer).items()
               if not name.startswith("_") and (callable(value) or isinstance(value, property | classmethod))}
    assert len(members) > 8
    for name, value in members.items():
        assert hasattr(Real, name), f"seabreeze Spectrometer has no {name}"
        real = inspect.getattr_static(Real, name)
        if isinstance(value, property):
            assert isinstance(real, property), f"{name} is not a property in seabreeze"
            continue
        assert isinstance(real, type(value)), f"{name}: {type(real).__name__} in seabreeze"
        real_params = inspect.signature(getattr(Real, name)).parameters.values()
        fake_params = inspect.signature(getattr(fakes.FakeSpectrometer, name)).parameters.values()
        assert [(p.name, p.default) for p in fake_params] == [(p.name, p.default) for p in real_params], name


# --- a station naming the back end without seabreeze / without libusb ---------------------------------------

def _station(tmp_path):
    path = tmp_path / "ocean.yaml"
    path.write_text("name: ocean bench\ninstruments:\n  raman:\n    driver: seabreeze\n"
                    "    resource: seabreeze:any\n    options: {laser_wavelength_nm: 785}\n"
                    "roles:\n  spectrometer: raman\n")
    return path


def test_station_check_without_seabreeze_says_what_to_install(tmp_path, monkeypatch, capsys):
    for module in [m for m in sys.modules if m == "seabreeze" or m.startswith("seabreeze.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "seabreeze", None)  # import seabreeze -> ImportError
    assert main(["station", "check", str(_station(tmp_path))]) == 1
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())
    assert ("raman (unreachable: VendorLibraryMissing: seabreeze is not installed (import of seabreeze "
            'halted; None in sys.modules): pip install "nanocell-daq[seabreeze]")') in err
    assert "Traceback" not in captured.err + captured.out


def test_station_check_without_libusb_says_what_to_install(tmp_path, seabreeze, monkeypatch, capsys):
    monkeypatch.setattr(fakes.FakeSpectrometer, "no_backend", True)
    assert main(["station", "check", str(_station(tmp_path))]) == 1
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())
    assert "raman (unreachable: VendorLibraryMissing: raman: libusb-1.0 is not installed" in err
    assert "apt install libusb-1.0-0" in err and "Traceback" not in captured.err + captured.out
