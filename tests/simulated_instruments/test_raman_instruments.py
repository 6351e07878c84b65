"""Stage, shutter and spectrometer: moves answer R when done, the spectrum follows the stage and shutter."""

from __future__ import annotations

import time

import numpy as np
import pytest


def test_moves_reply_r_after_the_move_time(bench, visa):
    stage = visa(bench, "stage")
    t0 = bench.clock.now()
    stage.write("G 1000,2000,0")  # user units of RES,S = 0.1 um: (100, 200) um
    assert stage.read() == "R"
    elapsed = bench.clock.now() - t0
    # 200 um at 1000 um/s plus settle: the reply waits for the simulated move
    assert elapsed >= 0.2
    assert stage.query("P") == "1000,2000,0"
    stage.write("GR 5,-10")
    assert stage.read() == "R"
    assert stage.query("P") == "1005,1990,0"
    assert bench._emulator("stage").position() == pytest.approx((100.5, 199.0, 0.0))
    assert stage.query("$") == "0"


def test_position_is_reported_while_moving(visa):
    from simulated_instruments.bench import SimulatedBench
    from tests.simulated_instruments.fake_model import FakeCell

    with SimulatedBench(model=FakeCell(), speed=1.0) as slow:
        stage = visa(slow, "stage")
        stage.write("G 500,0")
        time.sleep(0.01)
        assert stage.query("$") == "1"  # X moving; the property answers before the move's R
        x = float(stage.query("PX"))
        assert 0.0 < x < 500.0
        assert stage.query("K") == "R"
        assert float(stage.query("PX")) < 500.0


def test_out_of_range_move_is_refused(bench, visa):
    stage = visa(bench, "stage")
    assert stage.query("G 1e7,0") == "E,8"
    assert stage.query("P") == "0,0,0"
    assert stage.query("FLY") == "E,5"
    assert stage.query("G abc,1") == "E,4"
    assert stage.query("SMS,50") == "0" and stage.query("SMS") == "50"


def _shutter(sc10, command: str) -> str:
    sc10.write(command)
    assert sc10.read() == command  # echo
    value = sc10.read() if command.endswith("?") else None
    assert sc10.read_bytes(2) == b"> "
    return value


def test_sc10_echoes_replies_and_prompts(bench, visa):
    sc10 = visa(bench, "shutter")
    assert _shutter(sc10, "id?").startswith("THORLABS SC10")
    assert _shutter(sc10, "ens?") == "0" and _shutter(sc10, "closed?") == "1"
    _shutter(sc10, "ens")
    assert _shutter(sc10, "ens?") == "1" and bench.output_on("shutter")
    _shutter(sc10, "ens")
    assert _shutter(sc10, "ens?") == "0" and not bench.output_on("shutter")
    sc10.write("frob?")
    assert sc10.read() == "frob?" and sc10.read() == "CMD_NOT_DEFINED"
    assert sc10.read_bytes(2) == b"> "


def _acquire(spec) -> np.ndarray:
    return np.asarray(spec.query_binary_values("ACQ?", datatype="f", is_big_endian=False,
                                               container=np.array))


def test_spectrum_at_the_wire_shows_the_si_peak_and_is_dark_with_the_shutter_closed(bench, visa):
    stage, sc10, spec = visa(bench, "stage"), visa(bench, "shutter"), visa(bench, "spectrometer", 10000)
    axis = np.asarray(spec.query_binary_values("AXIS?", datatype="d", is_big_endian=False,
                                               container=np.array))
    assert axis.size == int(spec.query("POIN?")) and np.all(np.diff(axis) > 0)
    x0, y0 = bench.model.wire_start_um
    x1, y1 = bench.model.wire_end_um
    xy, z = float(stage.query("RES,S")), float(stage.query("RES,Z"))  # um per user unit
    stage.write(f"G {(x0 + x1) / 2 / xy},{(y0 + y1) / 2 / xy},{bench.model.wire_z_um / z}")
    assert stage.read() == "R"
    spec.write("EXP 1;ACC 2;LASER:POW 0.1;LASER:STAT ON")
    assert spec.query("EXP?;ACC?") == "1.000000e+00;2"
    _shutter(sc10, "ens")  # toggles: enabled, open in manual mode
    lit = _acquire(spec)
    assert lit.dtype == np.float32 and lit.size == axis.size
    window = (axis > 480) & (axis < 560)
    peak = axis[window][np.argmax(lit[window])]
    assert abs(peak - 520.0) < 6.0
    _shutter(sc10, "ens")
    dark = _acquire(spec)
    assert np.median(dark) < 0.2 * np.median(lit)
    assert np.max(dark[window]) < np.percentile(lit[window], 90)
    assert spec.query("SYST:ERR?") == '0,"No error"'


def test_spectrometer_rejects_bad_settings(bench, visa):
    spec = visa(bench, "spectrometer")
    spec.write("EXP -1")
    spec.write("LASER:POW 1000")
    spec.write("WARP 9")
    assert spec.query("SYST:ERR:COUN?") == "3"
    assert spec.query("SYST:ERR?") == '-222,"Data out of range"'
    spec.query("SYST:ERR?")
    assert spec.query("SYST:ERR?") == '-113,"Undefined header"'
    assert float(spec.query("EXP?")) == pytest.approx(1.0)


def test_resolution_and_mode_answer_like_a_proscan_iii(bench, visa):
    """ProScan III Manual v1.12 sections 4.2-4.4: RES,S / RES,Z (um per unit), COMP 0/1; units follow RES."""
    stage = visa(bench, "stage")
    assert stage.query("RES,S") == "0.1" and stage.query("RES,Z") == "0.1"
    assert stage.query("COMP") == "0"
    assert stage.query("RES,S,0.5") == "0" and stage.query("RES,s") == "0.5"
    stage.write("G 20,40,30")  # 10 um, 20 um; Z 3 um at 0.1 um/unit
    assert stage.read() == "R"
    assert bench._emulator("stage").position() == pytest.approx((10.0, 20.0, 3.0))
    assert stage.query("P") == "20,40,30"
    assert stage.query("RES,Z,0.02") == "0" and stage.query("PZ") == "150"
    assert stage.query("COMP,1") == "0" and stage.query("COMP") == "1"
    assert stage.query("COMP,0") == "0" and stage.query("COMP") == "0"


def test_resolution_and_mode_refuse_bad_arguments(bench, visa):
    stage = visa(bench, "stage")
    assert stage.query("RES") == "E,4"  # which axis?
    assert stage.query("RES,Q") == "E,4"
    assert stage.query("RES,S,0") == "E,8" and stage.query("RES,S,1000") == "E,8"
    assert stage.query("COMP,2") == "E,8"
    assert stage.query("RES,S") == "0.1" and stage.query("COMP") == "0"


def test_the_driver_lands_where_it_is_told_whatever_the_controller_units(bench):
    """Another program left RES,S 0.5 and RES,Z 0.02: the driver reads them at connect (micrometres in)."""
    from drivers import registry
    from drivers.errors import InstrumentError

    inst = bench.station_dict()["instruments"]["stage"]
    emulator = bench._emulator("stage")
    emulator.resolution.update(S=0.5, Z=0.02)
    driver = registry.open_driver(inst["driver"], inst["resource"], "stage", inst["options"])
    try:
        assert "STAGE" in driver.id
        assert (driver.um_per_unit, driver.um_per_unit_z) == (0.5, 0.02)
        driver.move_to(12.5, 30.0, 4.0)
        assert emulator.position() == pytest.approx((12.5, 30.0, 4.0))
        assert driver.position == pytest.approx((12.5, 30.0, 4.0))
        emulator.compat_mode = 1
        with pytest.raises(InstrumentError, match="compatibility mode"):
            _ = driver.id
    finally:
        driver.adapter.close()
