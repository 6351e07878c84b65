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


LR = {"model": "es4_lr"}
"""An LR declared in the station file: the galvanostatic scripts below pick its 1 nA range for 20 pA."""

GALVANOSTATIC_DISCHARGE = [
    "var c", "var p", "var t", "var n", "var q", "var dq", "var dp", "var pl", "var tn", "var s", "var b",
    "var vmax", "var vmin", "var de", "var nde", "var iv", "var dt", "var tend", "var qlim",
    "store_var vmax 4050m ab",
    "store_var vmin 2500m ab",
    "store_var de 10m ab",
    "store_var nde -10m ab",
    "store_var iv 2 eb",
    "store_var dt 50m eb",
    "store_var tend 3599950m eb",
    "store_var n 0i ja",
    "store_var q 0 ja",
    "store_var tn 0 eb",
    "store_var qlim -2n ja",
    "set_pgstat_chan 0",
    "set_pgstat_mode 6",
    "set_max_bandwidth 10",
    "set_range ab 4050m",
    "set_autoranging ab 100m 4050m",
    "set_range db 1n",
    "set_i 0",
    "cell_on",
    "timer_start",
    "meas_loop_cp p c -20p 50m 3600",
    "timer_get t",
    "copy_var c dq", "mul_var dq dt", "add_var q dq",
    "copy_var p dp", "sub_var dp pl",
    "store_var b 0i ja",
    "if p > vmax", "store_var b 1i ja",
    "elseif p < vmin", "store_var b 1i ja",
    "elseif q < qlim", "store_var b 1i ja",
    "endif",
    "copy_var b s",
    "if t >= tn", "store_var s 1i ja",
    "elseif dp > de", "store_var s 1i ja",
    "elseif dp < nde", "store_var s 1i ja",
    "elseif t >= tend", "store_var s 1i ja",
    "endif",
    "if s > 0i",
    "add_var n 1i",
    "pck_start", "pck_add t", "pck_add p", "pck_add c", "pck_add n", "pck_end",
    "copy_var p pl", "copy_var t tn", "add_var tn iv",
    "endif",
    "if b > 0i", "breakloop", "endif",
    "endloop",
    "on_finished:",
    "cell_off",
]
"""A 20 pA discharge to 2.5 V in a [2.5, 4.05] V window with 2 nC left of its capacity cut-off: the device
checks every 50 ms, breaks on the window, the cut-off and the charge it counted, and sends a numbered
package every 2 s, whenever E moved 10 mV, at the breaking sample and in the last 50 ms before max_time."""


def test_galvanostatic_script_breaks_on_the_device_at_every_sample():
    lines = EmStat4.script_galvanostatic(-20e-12, 2.0, 3600, 2.5, 4.05, capacity_C=2e-9)
    assert lines == GALVANOSTATIC_DISCHARGE
    charge = EmStat4.script_galvanostatic(20e-12, 2.0, 3600, 2.5, 4.05, capacity_C=2e-9)
    assert "elseif q > qlim" in charge and "store_var qlim 2n ja" in charge
    no_capacity = EmStat4.script_galvanostatic(20e-12, 2.0, 3600, 2.5, 4.05)
    assert not [line for line in no_capacity if "qlim" in line]
    fine = EmStat4.script_galvanostatic(20e-12, 0.02, 3600, 2.5, 4.05)
    assert "meas_loop_cp p c 20p 20m 3600" in fine  # never checks less often than it records


def test_the_station_window_is_a_break_of_its_own_next_to_the_cut_offs():
    lines = EmStat4.script_galvanostatic(-20e-12, 2.0, 3600, 2.5, 4.05, capacity_C=2e-9, window_V=(2.4, 4.05))
    expected = list(GALVANOSTATIC_DISCHARGE)
    expected[expected.index("var qlim"):expected.index("var qlim")] = ["var wmax", "var wmin"]
    first_store = expected.index("store_var vmax 4050m ab")
    expected[first_store:first_store] = ["store_var wmax 4050m ab", "store_var wmin 2400m ab"]
    chain = expected.index("elseif q < qlim")
    expected[chain:chain] = ["elseif p > wmax", "store_var b 1i ja", "elseif p < wmin", "store_var b 1i ja"]
    assert lines == expected
    with expected_protocol(EmStat4, [(script(expected), "e"), (None, "")], **LR) as em:
        em.start_galvanostatic(-20e-12, 2.0, 3600, 2.5, 4.05, capacity_C=2e-9, window_V=(2.4, 4.05))
        assert em.wait(5)
    with expected_protocol(EmStat4, []) as em, pytest.raises(ValueError, match="window_V"):
        em.start_galvanostatic(-20e-12, 2.0, 3600, 2.5, 4.05, window_V=(4.05, 2.4))


def test_the_driver_sends_its_check_period_and_the_capacity_left():
    with expected_protocol(EmStat4, [(script(GALVANOSTATIC_DISCHARGE), "e"), (None, "*"), (None, "")],
                           **LR) as em:
        em.start_galvanostatic(-20e-12, 2.0, 3600, 2.5, 4.05, capacity_C=2e-9)
        assert em.wait(5)
    options = [line.replace("50m", "10m") if line.startswith(("store_var dt", "meas_loop_cp")) else line
               for line in GALVANOSTATIC_DISCHARGE]
    options = [line.replace("3599950m", "3599990m") for line in options]
    options = [line.replace("de 10m", "de 5m").replace("nde -10m", "nde -5m") for line in options]
    with expected_protocol(EmStat4, [(script(options), "e"), (None, "")], **LR,
                           check_interval_s=0.01, record_dE_V=0.005) as em:
        em.start_galvanostatic(-20e-12, 2.0, 3600, 2.5, 4.05, capacity_C=2e-9)
        assert em.wait(5)


def test_check_period_and_record_step_are_validated_before_any_io():
    for bad in ({"check_interval_s": 0}, {"check_interval_s": float("nan")}, {"record_dE_V": -0.01}):
        with pytest.raises(ValueError, match="must be in"):
            EmStat4("ASRL1::INSTR", **bad)


def numbered(t: float, e: float, i: float, n: int) -> str:
    return package(t, e, i) + f";ja{ms.encode_value(n, 'i')}"


def test_a_garbled_package_is_reported_as_a_gap_with_its_time_span():
    with expected_protocol(EmStat4, [
        (script(GALVANOSTATIC_DISCHARGE), "e"),
        (None, "M0000"),
        (None, numbered(0.05, 3.6, -2e-11, 1)),
        (None, numbered(2.05, 3.59, -2e-11, 2)),
        (None, "#?!~%&@^$|{}<>#?!~%&@^$|{}<>#?!~%&"),  # package 3, garbled on the link
        (None, numbered(6.05, 3.57, -2e-11, 4)),
        (None, "*"),
        (None, ""),
    ], **LR) as em:
        em.start_galvanostatic(-20e-12, 2.0, 3600, 2.5, 4.05, capacity_C=2e-9)
        assert em.wait(5)
        samples = em.poll()
        gaps = em.take_gaps()
        assert em.take_gaps() == []  # reported once
    assert [s.t for s in samples] == pytest.approx([0.05, 2.05, 6.05])
    assert len(gaps) == 1
    assert gaps[0].t_start == pytest.approx(2.05) and gaps[0].t_end == pytest.approx(6.05)
    assert gaps[0].count == 1 and "garbled" in gaps[0].reason


def test_a_package_that_never_arrived_is_a_gap_and_a_garbled_loop_marker_is_not():
    with expected_protocol(EmStat4, [
        (script(GALVANOSTATIC_DISCHARGE), "e"),
        (None, "#?!~%"),  # "M0000", garbled: no sample in it
        (None, numbered(0.05, 3.6, -2e-11, 1)),
        (None, numbered(4.05, 3.58, -2e-11, 3)),  # package 2 was swallowed
        (None, "*"),
        (None, ""),
    ], **LR) as em:
        em.start_galvanostatic(-20e-12, 2.0, 3600, 2.5, 4.05, capacity_C=2e-9)
        assert em.wait(5)
        assert len(em.poll()) == 2
        gaps = em.take_gaps()
    assert [(g.t_start, g.t_end, g.count) for g in gaps] == [(pytest.approx(0.05), pytest.approx(4.05), 1)]
    assert "never arrived" in gaps[0].reason


def test_a_garbled_last_line_of_unnumbered_packages_is_a_possible_gap():
    lines = EmStat4.script_galvanostatic(1e-11, 1.0, 3600, 2.5, 4.05)
    with expected_protocol(EmStat4, [
        (script(lines), "e"), (None, package(0.0, 3.9, 1e-11)), (None, "!#~%&@^$|{}"), (None, ""),
    ], **LR) as em:
        em.start_galvanostatic(1e-11, 1.0, 3600, 2.5, 4.05)
        assert em.wait(5)
        assert len(em.poll()) == 1
        (gap,) = em.take_gaps()
    assert gap.t_start == pytest.approx(0.0) and gap.t_end is None and gap.count is None


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
    ], **LR) as em:
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
    # the device ends the failed script with its empty line, which the driver reads (the link stays in step)
    replies = [(script(lines), "e"), (None, "M0000"), (None, "!4004"), (None, "")]
    with expected_protocol(EmStat4, replies) as em:
        em.start_ocp(1.0, 10)
        em.wait(5)
        with pytest.raises(TechniqueError, match="4004"):
            em.poll()


def test_cv_script():
    lines = EmStat4.script_cv(0.0, 0.5, -0.5, 0.01, 0.1, 3)
    assert "meas_loop_cv p c 0 500m -500m 10m 100m nscans(3)" in lines


def test_potentiostatic_techniques_break_on_the_device_beyond_the_current_limit():
    lines = EmStat4.script_potentiostatic(3.9, 1.0, 60.0, max_current_A=1e-9)
    assert lines[:8] == ["var c", "var p", "var t", "var n", "var imax", "var imin",
                         "store_var imax 1n ba", "store_var imin -1n ba"]
    loop = lines.index("meas_loop_ca p c 3900m 1 60")
    assert lines[loop + 1:loop + 14] == [
        "timer_get t", "add_var n 1i", "pck_start", "pck_add t", "pck_add p", "pck_add c", "pck_add n",
        "pck_end", "if c > imax", "breakloop", "elseif c < imin", "breakloop", "endif"]
    assert "if c > imax" in EmStat4.script_cv(3.0, 3.9, 3.0, 0.01, 0.1, 1, max_current_A=1e-9)
    assert not [line for line in EmStat4.script_potentiostatic(3.9, 1.0, 60.0) if "imax" in line]


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
    """Model unknown: the driver asks the firmware first, then sends the 3.9 V hold to the HR, autoranging
    down to the HR's smallest current range (100 nA; 1 nA is LR-only)."""
    lines = EmStat4.script_potentiostatic(3.9, 1.0, 60.0, min_range="100n")
    assert "set_autoranging ba 100n 100n" in lines
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


def test_a_garbled_script_ack_aborts_the_script_and_sends_it_once_more():
    lines = EmStat4.script_ocp(1.0, 10)
    with expected_protocol(EmStat4, [
        (script(lines), "#"),  # the "e" garbled: the script may be running, cell and all
        ("Z", "M0000"), (None, "Z"), (None, "*"), (None, ""),
        (script(lines), "e"), (None, ""),
    ]) as em:
        em.start_ocp(1.0, 10)
        assert em.wait(5)


def test_a_twice_garbled_ack_is_an_error_after_aborting():
    lines = EmStat4.script_ocp(1.0, 10)
    with expected_protocol(EmStat4, [
        (script(lines), "#"), ("Z", ""), (script(lines), "%"), ("Z", "Z!0006"),
    ]) as em, pytest.raises(TechniqueError, match="got '%' twice; the script was aborted each time"):
        em.start_ocp(1.0, 10)


@pytest.mark.parametrize(("first_line", "model", "window"), [
    ("tmes4hr1.3.0.18#2025-01-15", "es4_hr", (-6.0, 6.0)),
    ("tmes4lr1.3.0.18#2025-01-15", "es4_lr", (-3.0, 3.0)),
])
def test_multichannel_firmware_identifies_its_model(first_line, model, window):
    """MultiEmStat4 firmware says ``mes4hr``/``mes4lr`` (no underscore; PalmSens' ``instrument.py``)."""
    with expected_protocol(EmStat4, [("t", first_line), (None, "R1.8*")]) as em:
        firmware = em.id
        assert em.model == model
        assert em.potential_range_V == window
    assert EmStat4.IDENTITY.search(firmware)


def test_multichannel_hr_is_refused_where_the_station_says_lr():
    with expected_protocol(EmStat4, [("t", "tmes4hr1.3.0.18"), (None, "R1.8*")], model="es4_lr") as em, \
            pytest.raises(InstrumentError, match=r"instrument is EmStat4 HR"):
        _ = em.id


def test_an_hr_gets_only_ranges_it_has():
    """The 1 nA and 10 nA ranges are LR-only: on an HR the galvanostatic script sets 100 nA for 20 pA and
    the CA/CV autoranging stops at 100 nA; an unidentified device gets ranges both models have."""
    hr = [line.replace("set_range db 1n", "set_range db 100n") for line in GALVANOSTATIC_DISCHARGE]
    assert hr != GALVANOSTATIC_DISCHARGE
    for model in ({"model": "es4_hr"}, {}):
        with expected_protocol(EmStat4, [(script(hr), "e"), (None, "")], **model) as em:
            em.start_galvanostatic(-20e-12, 2.0, 3600, 2.5, 4.05, capacity_C=2e-9)
            assert em.wait(5)
    cv = EmStat4.script_cv(3.4, 3.9, 3.0, 0.001, 0.001, 1, min_range="100n")
    assert "set_autoranging ba 100n 100n" in cv
    with expected_protocol(EmStat4, [(script(cv), "e"), (None, "")], model="es4_hr") as em:
        em.start_cv(3.4, 3.9, 3.0, 0.001, 0.001, 1)
        assert em.wait(5)
    lr_cv = EmStat4.script_cv(1.0, 1.5, 0.5, 0.001, 0.001, 1)
    assert "set_autoranging ba 1n 100n" in lr_cv
    with expected_protocol(EmStat4, [(script(lr_cv), "e"), (None, "")], **LR) as em:
        em.start_cv(1.0, 1.5, 0.5, 0.001, 0.001, 1)
        assert em.wait(5)
