"""Protocol tests for the EmStat4 driver: the scripts it sends and how it decodes the stream."""

from __future__ import annotations

import pytest
from pymeasure.test import expected_protocol

from drivers import methodscript as ms
from drivers.emstat import EmStat4
from drivers.errors import InstrumentError, TechniqueError
from drivers.registry import declared_potential_range, missing_members
from drivers.roles import Galvanostat, Potentiostat, Sample, potential_range


def package(t: float, e: float, i: float) -> str:
    return "P" + ";".join([f"eb{ms.encode_value(t, 'm')}", f"ab{ms.encode_value(e, 'u')}",
                           f"ba{ms.encode_value(i, 'f')},14,203"])


def script(lines: list[str]) -> str:
    return "e\n" + "\n".join(lines) + "\n\n"


def test_id_reads_firmware_lines():
    with expected_protocol(EmStat4, [("t", "tes4_lr#Mar 10 2025 10:00:00"), (None, "R1.2*")]) as em:
        assert em.id.startswith("es4_lr")


def test_galvanostatic_script_has_device_side_cutoffs():
    lines = EmStat4.script_galvanostatic(1e-11, 1.0, 3600, 2.5, 4.05)
    text = "\n".join(lines)
    assert "store_var vmax 4050m ab" in text
    assert "store_var vmin 2500m ab" in text
    assert "meas_loop_cp p c 10p 1 3600" in text
    assert "if p > vmax\nbreakloop\nendif" in text
    assert "if p < vmin\nbreakloop\nendif" in text
    assert lines[-2:] == ["on_finished:", "cell_off"]


def test_galvanostatic_run_streams_samples_until_the_empty_line():
    lines = EmStat4.script_galvanostatic(1e-11, 1.0, 3600, 2.5, 4.05)
    with expected_protocol(EmStat4, [
        (script(lines), "e"),
        (None, "M0000"),
        (None, package(0.0, 3.9, 1e-11)),
        (None, package(1.0, 3.95, 1e-11)),
        (None, package(2.0, 4.06, 1e-11)),
        (None, "*"),
        (None, ""),
    ]) as em:
        em.start_galvanostatic(1e-11, 1.0, 3600, 2.5, 4.05)
        assert em.wait(5)
        samples = em.poll()
        assert not em.running
    assert [s.t for s in samples] == pytest.approx([0, 1, 2])
    assert samples[0] == Sample(pytest.approx(0.0), pytest.approx(3.9), pytest.approx(1e-11))
    assert em.stop_reason == "v_max"


def test_rejected_script_raises_with_the_code():
    lines = EmStat4.script_ocp(1.0, 10)
    with expected_protocol(EmStat4, [(script(lines), "!0003: Line 4")]) as em, \
            pytest.raises(TechniqueError, match="!0003"):
        em.start_ocp(1.0, 10)


def test_device_error_while_running_reaches_poll():
    lines = EmStat4.script_ocp(1.0, 10)
    with expected_protocol(EmStat4, [(script(lines), "e"), (None, "M0000"), (None, "!4004")]) as em:
        em.start_ocp(1.0, 10)
        em.wait(5)
        with pytest.raises(TechniqueError, match="4004"):
            em.poll()


def test_cv_script():
    lines = EmStat4.script_cv(0.0, 0.5, -0.5, 0.01, 0.1, 3)
    assert "meas_loop_cv p c 0 500m -500m 10m 100m nscans(3)" in lines


def test_potentiostatic_script_holds_the_cell_at_the_potential():
    lines = EmStat4.script_potentiostatic(0.5, 1.0, 60.0)
    assert lines[lines.index("cell_on") - 1] == "set_e 500m"
    assert "meas_loop_ca p c 500m 1 60" in lines
    assert lines[-3:] == ["endloop", "on_finished:", "cell_off"]


def test_parameters_are_checked_before_anything_is_sent():
    with expected_protocol(EmStat4, []) as em:
        with pytest.raises(ValueError):
            em.start_galvanostatic(1e-11, 1, 10, v_min=4.0, v_max=3.0)
        with pytest.raises(ValueError):
            em.start_ocp(0, 10)
        with pytest.raises(ValueError):
            em.start_cv(0, 0.5, -0.5, 0.01, 0.1, 0)


def test_fills_potentiostat_role():
    assert missing_members(EmStat4, Potentiostat) == []
    assert missing_members(EmStat4, Galvanostat) == []


FIRMWARE_HR = [("t", "tes4_hr1.3.0.18#2025-01-15"), (None, "R1.8*")]


def test_potential_range_comes_from_the_firmware_model():
    with expected_protocol(EmStat4, [("t", "tes4_lr#Mar 10 2025"), (None, "R1.2*")]) as em:
        assert em.potential_range_V is None  # not known before the instrument said which model it is
        assert em.id.startswith("es4_lr")
        assert em.potential_range_V == (-3.0, 3.0)
    with expected_protocol(EmStat4, FIRMWARE_HR) as em:
        assert em.id.startswith("es4_hr")
        assert em.potential_range_V == (-6.0, 6.0)
        assert potential_range(em) == (-6.0, 6.0)


def test_holds_and_cv_vertices_beyond_the_range_are_refused_not_clipped():
    """An LR applies +-3 V: a 3.9 V hold (the Si full cell) is refused before any script is sent."""
    with expected_protocol(EmStat4, [], model="es4_lr") as em:
        with pytest.raises(ValueError, match=r"potential_V 3\.9 V is outside the EmStat4 LR .* -3\.\.3 V"):
            em.start_potentiostatic(3.9, 1.0, 60.0)
        with pytest.raises(ValueError, match=r"vertex1 3.5 V is outside the EmStat4 LR"):
            em.start_cv(2.8, 3.5, 2.6, 0.01, 0.1, 1)
        with pytest.raises(ValueError, match=r"e_begin -3.2 V"):
            em.start_cv(-3.2, 0.0, 1.0, 0.01, 0.1, 1)


def test_a_hold_inside_the_hr_range_runs_after_identifying():
    """Model unknown: the driver asks the firmware first, then sends the 3.9 V hold to the HR."""
    lines = EmStat4.script_potentiostatic(3.9, 1.0, 60.0)
    with expected_protocol(EmStat4, [*FIRMWARE_HR, (script(lines), "e"), (None, "M0000"), (None, "*"),
                                     (None, "")]) as em:
        em.start_potentiostatic(3.9, 1.0, 60.0)
        assert em.wait(5)
        with pytest.raises(ValueError, match=r"outside the EmStat4 HR potential range -6\.\.6 V"):
            em.start_potentiostatic(6.5, 1.0, 60.0)


def test_station_model_that_disagrees_with_the_instrument_is_refused():
    with expected_protocol(EmStat4, FIRMWARE_HR, model="es4_lr") as em, \
            pytest.raises(InstrumentError, match=r"station says model 'es4_lr'.*instrument is EmStat4 HR"):
        _ = em.id


def test_declared_range_for_planning():
    assert declared_potential_range("emstat4", {"model": "es4_lr"}) == (-3.0, 3.0)
    assert declared_potential_range("emstat4", {"model": "es4_hr"}) == (-6.0, 6.0)
    assert declared_potential_range("emstat4", {}) is None
    assert declared_potential_range("keithley2450", {}) == (-210.0, 210.0)
    with pytest.raises(ValueError, match="model must be one of"):
        declared_potential_range("emstat4", {"model": "pico"})
