"""The Andor CCD + Shamrock back end driven through fakes of pylablib's objects, the fakes' contract with the
installed pylablib, and ``nanocell station check`` without pylablib or without the Andor SDK."""

from __future__ import annotations

import importlib
import inspect
import sys

import numpy as np
import pytest

from drivers import andor_shamrock, registry
from drivers.andor_shamrock import AndorShamrock
from drivers.errors import InstrumentError
from drivers.roles import Spectrometer
from nanocell_daq.cli import main
from tests.drivers import fake_pylablib_andor as fakes
from tests.parts import require


@pytest.fixture
def andor(monkeypatch):
    module = fakes.fake_module()
    monkeypatch.setattr(andor_shamrock, "_pylablib_andor", lambda: module)
    return module


def _open(**options) -> AndorShamrock:
    options.setdefault("laser_wavelength_nm", 532.0)
    driver = registry.open_driver("andor_shamrock", "andor:1/0", "raman", options)
    driver._sleep = lambda s: None
    return driver


def test_connect_sets_full_vertical_binning_pixels_and_a_closed_shutter(andor):
    driver = _open(exposure_s=2.5, accumulations=4, fan_mode="low")
    cam, spec = andor.opened["camera"], andor.opened["spectrograph"]
    assert cam.calls[0] == ("open", 1, None, "low") and spec.idx == 0
    assert cam.read_mode == "fvb"
    assert ("setup_pixels_from_camera",) in spec.calls
    assert spec.shutter == "closed"
    assert driver.exposure_s == 2.5 and driver.accumulations == 4
    assert ("set_exposure", 2.5) in cam.calls and ("setup_kinetic_mode", 1, 4) in cam.calls
    assert driver.id == "ANDOR,DU420A-BEX2-DD,12345,SHAMROCK,SR-3027"
    assert not registry.missing_members(driver, Spectrometer)


def test_axis_is_the_calibration_as_raman_shift_from_the_laser_line(andor):
    driver = _open()
    axis = driver.wavenumbers
    assert axis.size == 1024 and axis.dtype == np.float64
    # by hand: 1e7/532 - 1e7/540 = 18796.99 - 18518.52; 1e7/532 - 1e7/600 = 18796.99 - 16666.67
    assert axis[0] == pytest.approx(278.47, abs=0.01)
    assert axis[-1] == pytest.approx(2130.33, abs=0.01)
    assert np.all(np.diff(axis) > 0)


def test_a_descending_calibration_gives_an_ascending_axis_and_the_counts_follow(andor, monkeypatch):
    monkeypatch.setattr(fakes.FakeShamrockSpectrograph, "calibration_nm", (600.0, 540.0))
    driver = _open()
    spectrum = driver.acquire()
    assert spectrum.wavenumbers[0] == pytest.approx(278.47, abs=0.01)
    assert np.all(np.diff(spectrum.wavenumbers) > 0)
    assert spectrum.counts[0] == 1023 and spectrum.counts[-1] == 0  # the pixel at 540 nm is the last one


def test_acquire_opens_the_shutter_only_for_the_exposure(andor):
    driver = _open(exposure_s=3.0, accumulations=2, timeout=4000)
    spec, cam = andor.opened["spectrograph"], andor.opened["camera"]
    spec.calls.clear()
    cam.frame = np.full((1, 1024), 7, dtype=np.int32)
    spectrum = driver.acquire()
    assert spectrum.counts.dtype == np.float32 and np.all(spectrum.counts == 7 * 2)  # 2 exposures summed
    assert (spectrum.exposure_s, spectrum.accumulations) == (3.0, 2)
    assert ("snap", pytest.approx(1.5 * 3.0 * 2 + 4.0)) in cam.calls
    assert spec.calls == [("set_shutter", "opened"), ("set_shutter", "closed")]
    assert spec.shutter == "closed"


def test_a_failed_snap_still_closes_the_shutter(andor):
    driver = _open()
    cam, spec = andor.opened["camera"], andor.opened["spectrograph"]

    def broken(timeout=5.0, return_info=False):
        raise RuntimeError("frame timeout")

    cam.snap = broken
    with pytest.raises(RuntimeError):
        driver.acquire()
    assert spec.shutter == "closed"


def test_no_shutter_on_the_spectrograph_is_left_alone(andor, monkeypatch):
    monkeypatch.setattr(fakes.FakeShamrockSpectrograph, "shutter_present", False)
    driver = _open()
    driver.acquire()
    driver.shutdown()
    assert not [c for c in andor.opened["spectrograph"].calls if c[0] == "set_shutter"]


def test_shutdown_reads_the_shutter_back(andor):
    driver = _open()
    spec = andor.opened["spectrograph"]
    spec.get_shutter = lambda: "bnc"
    with pytest.raises(InstrumentError, match="shutter reads 'bnc'"):
        driver.shutdown()


def test_cooler_set_point_and_wait_until_stabilized(andor):
    driver = _open(temperature_C=-60)
    cam = andor.opened["camera"]
    assert cam.calls[0] == ("open", 1, -60, "full")  # pylablib sets it at open; set again and read back
    assert ("set_temperature", -60.0, True) in cam.calls
    slept: list[float] = []
    driver._sleep = slept.append
    driver.acquire()
    assert [c for c in cam.calls if c[0] == "get_temperature_status"] == [("get_temperature_status",)] * 3
    assert len(slept) == 2
    assert cam.calls[-1][0] == "snap"  # exposed only after the status read "stabilized"


def test_cooler_wait_is_bounded_and_names_the_temperature(andor, monkeypatch):
    monkeypatch.setattr(fakes.FakeAndorSDK2Camera, "statuses", ("not_reached",))
    driver = _open(temperature_C=-60, cooler_timeout_s=30)
    now = [0.0]
    driver._clock = lambda: now[0]

    def sleep(seconds):
        assert seconds > 0
        now[0] += seconds

    driver._sleep = sleep
    expected = r"CCD at -45\.0 degC, set point -60.0 degC, not stable after 30 s"
    with pytest.raises(InstrumentError, match=expected):
        driver.acquire()
    assert not [c for c in andor.opened["camera"].calls if c[0] == "snap"]


def test_cooler_off_or_left_to_pylablib_waits_for_nothing(andor):
    for option, cooler in (("off", False), (None, True)):
        driver = _open(temperature_C=option)
        cam = andor.opened["camera"]
        assert cam.calls[0] == ("open", 1, option, "full") and cam.cooler is cooler
        driver.acquire()
        assert not [c for c in cam.calls if c[0] in ("get_temperature_status", "set_temperature")]
    with pytest.raises(ValueError, match="temperature_C must be a number of degC, 'off' or absent"):
        _open(temperature_C="cold")


def test_centre_wavelength_is_set_in_metres_and_read_back(andor, monkeypatch):
    _open(center_wavelength_nm=570.0)
    assert ("set_wavelength", pytest.approx(570e-9)) in andor.opened["spectrograph"].calls
    monkeypatch.setattr(fakes.FakeShamrockSpectrograph, "wavelength_limits", (0.0, 1000e-9))
    with pytest.raises(InstrumentError, match=r"grating is at 1000\.0 nm, not the 1200 nm asked"):
        _open(center_wavelength_nm=1200)


def test_a_set_point_outside_the_head_range_is_refused(andor):
    with pytest.raises(InstrumentError, match="set point is -100 degC, not the -120 degC"):
        _open(temperature_C=-120)
    assert andor.opened["camera"].closed and andor.opened["spectrograph"].closed


def test_settings_are_checked(andor):
    driver = _open()
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="exposure"):
            driver.exposure_s = bad
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="accumulations"):
            driver.accumulations = bad
    with pytest.raises(ValueError, match="laser_wavelength_nm must be a positive number"):
        _open(laser_wavelength_nm=0)
    with pytest.raises(ValueError, match=r"options\.laser_wavelength_nm is missing"):
        registry.open_driver("andor_shamrock", "andor:0", "raman", {})
    with pytest.raises(ValueError, match="andor:CAMERA"):
        registry.open_driver("andor_shamrock", "GPIB0::1::INSTR", "raman", {"laser_wavelength_nm": 532})


# --- the fakes against the installed pylablib -------------------------------------------------------------

def _pylablib_andor():
    try:
        return importlib.import_module("pylablib.devices.Andor")
    except ImportError as exc:
        require("pylablib", f"the contract test checks the fakes against it ({exc})")


def _public_methods(cls: type) -> list[str]:
    return [name for name, value in vars(cls).items()
            if inspect.isfunction(value) and (not name.startswith("_") or name == "__init__")]


@pytest.mark.parametrize(("fake", "real_name"), [(fakes.FakeAndorSDK2Camera, "AndorSDK2Camera"),
                                                 (fakes.FakeShamrockSpectrograph, "ShamrockSpectrograph")])
def test_fakes_have_the_names_and_signatures_of_pylablib(fake, real_name):
    real = getattr(_pylablib_andor(), real_name)
    names = _public_methods(fake)
    assert len(names) > 8
    for name in names:
        assert hasattr(real, name), f"pylablib {real_name} has no {name}"
        real_params = list(inspect.signature(getattr(real, name)).parameters.values())
        fake_params = list(inspect.signature(getattr(fake, name)).parameters.values())
        assert [(p.name, p.default) for p in fake_params] == [(p.name, p.default) for p in real_params], name


def test_fake_device_infos_have_pylablib_fields():
    _pylablib_andor()
    from pylablib.devices.Andor import AndorSDK2, Shamrock

    assert fakes.CameraInfo._fields == AndorSDK2.TDeviceInfo._fields
    assert fakes.SpectrographInfo._fields == Shamrock.TDeviceInfo._fields


# --- a station naming the back end on a machine without pylablib / without the Andor SDK -----------------

def _station(tmp_path):
    path = tmp_path / "andor.yaml"
    path.write_text("name: andor bench\ninstruments:\n  raman:\n    driver: andor_shamrock\n"
                    "    resource: andor:0/0\n    options: {laser_wavelength_nm: 532}\n"
                    "roles:\n  spectrometer: raman\n")
    return path


def test_station_check_without_pylablib_says_what_to_install(tmp_path, monkeypatch, capsys):
    for module in [m for m in sys.modules if m == "pylablib" or m.startswith("pylablib.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "pylablib", None)  # import pylablib -> ImportError
    assert main(["station", "check", str(_station(tmp_path))]) == 1
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())
    assert "raman (unreachable: VendorLibraryMissing: pylablib is not installed" in err
    assert 'pip install "nanocell-daq[andor]", and install the Andor SDK' in err
    assert "Traceback" not in captured.err + captured.out


def test_station_check_without_the_andor_dll_says_what_to_install(tmp_path, monkeypatch, capsys):
    class NoDll(fakes.FakeAndorSDK2Camera):
        def __init__(self, *args, **kwargs):
            raise OSError("can't import module atmcd64d.dll\nsecond line")

    module = fakes.fake_module(camera_cls=NoDll)
    monkeypatch.setattr(andor_shamrock, "_pylablib_andor", lambda: module)
    assert main(["station", "check", str(_station(tmp_path))]) == 1
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())
    assert ("the Andor SDK could not be loaded (can't import module atmcd64d.dll): "
            'pip install "nanocell-daq[andor]" and the Andor SDK') in err
    assert "second line" not in err and "Traceback" not in captured.err + captured.out


@pytest.mark.skipif(sys.platform == "win32", reason="pylablib loads the Andor DLLs on Windows")
def test_station_check_through_the_real_pylablib_off_windows_names_the_sdk(tmp_path, capsys):
    # no fake: pylablib itself refuses to load the Andor DLLs here; its reason reaches the user in one line
    _pylablib_andor()
    assert main(["station", "check", str(_station(tmp_path))]) == 1
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())
    assert "raman (unreachable: VendorLibraryMissing: raman: the Andor SDK could not be loaded (" in err
    assert 'pip install "nanocell-daq[andor]" and the Andor SDK' in err
    assert "Traceback" not in captured.err + captured.out
