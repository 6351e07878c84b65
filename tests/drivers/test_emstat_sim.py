"""EmStat4 driver against the MethodSCRIPT emulator of the simulated bench."""

from __future__ import annotations

import itertools
import time

import pytest

from simulated_instruments import datasheets


@pytest.fixture(scope="module")
def pstat(open_driver):
    return open_driver("pstat")


@pytest.fixture(scope="module")
def cycling(open_driver):
    matrix = open_driver("matrix")
    matrix.exclusive_close(["1A01", "1B04"])  # WE -> S, CE/RE -> counter
    assert matrix.closed() == {"1A01", "1B04"}  # a query: the close has run before the cell is measured
    yield
    matrix.shutdown()


def _hr_offset(bench) -> float:
    """The offset the emulated HR has on its 100 nA current range (what a 1-10 pA setting is read on)."""
    return datasheets.range_offset("es4_hr", "measure", "current", 100e-9, bench.emulators["pstat"].seed)


def test_identity(pstat):
    """The bench emulates an EmStat4 HR (+-6 V): its full cell at 2.5-4 V is beyond an LR's +-3 V."""
    assert pstat.id.startswith("es4_hr")
    assert pstat.potential_range_V == (-6.0, 6.0)


def test_ocp_streams_samples_until_max_time(bench, pstat, cycling):
    pstat.start_ocp(interval_s=1.0, max_time_s=10.0)
    assert pstat.wait(10)
    samples = pstat.poll()
    assert len(samples) >= 3
    assert all(0.5 < s.potential < 4.5 for s in samples)
    assert pstat.stop_reason == "max_time"
    assert not bench.output_on("pstat")


def test_galvanostatic_runs_on_the_device_and_stops(bench, pstat, cycling):
    pstat.start_galvanostatic(1e-11, interval_s=1.0, max_time_s=20.0, v_min=0.5, v_max=4.05)
    assert pstat.wait(20)
    samples = pstat.poll()
    assert samples
    # an HR reads 10 pA on its 100 nA range (its smallest): with that range's offset, as the real one would
    expected = 1e-11 + _hr_offset(bench)
    assert all(s.current == pytest.approx(expected, abs=1e-12) for s in samples)
    assert pstat.stop_reason in ("max_time", "v_max")
    assert not bench.output_on("pstat")


def test_device_side_cutoff(bench, pstat, cycling):
    pstat.start_ocp(interval_s=1.0, max_time_s=2.0)
    pstat.wait(10)
    ocv = pstat.poll()[-1].potential
    # a v_max just below the present potential: the script's "if p > vmax breakloop" ends it at once
    pstat.start_galvanostatic(1e-11, interval_s=1.0, max_time_s=1e5, v_min=0.0, v_max=ocv - 0.05)
    assert pstat.wait(20)
    assert pstat.stop_reason == "v_max"
    assert len(pstat.poll()) <= 3


def test_stop_aborts_a_long_technique(bench, pstat, cycling):
    pstat.start_ocp(interval_s=10.0, max_time_s=1e6)  # ~17 min of wall time at speed 1000
    time.sleep(0.2)
    assert pstat.running
    pstat.stop()
    assert not pstat.running
    assert pstat.stop_reason == "stopped"
    assert not bench.output_on("pstat")
    pstat.poll()
    pstat.start_ocp(1.0, 3.0)  # the link is in sync again after the abort
    assert pstat.wait(10)


def test_a_new_technique_starts_with_no_samples_of_the_previous_one(bench, pstat, cycling):
    t0 = bench.clock.now()
    pstat.start_ocp(interval_s=1.0, max_time_s=1e6)
    while bench.clock.now() - t0 < 20:  # ~20 samples of it left unpolled (20 ms of wall time)
        time.sleep(0.01)
    pstat.stop()
    pstat.start_ocp(interval_s=1.0, max_time_s=5.0)
    assert pstat.wait(10)
    samples = pstat.poll()
    assert samples, "the new technique's samples arrive"
    assert [round(s.t) for s in samples] == [1, 2, 3, 4, 5], "only the new technique's samples, t from 0"


@pytest.mark.parametrize("technique", ["ocp", "hold"])
def test_a_fresh_driver_takes_over_a_script_left_running_by_a_dead_host(
        bench, open_driver, cycling, technique, caplog):
    """kill -9 of the host: the device keeps running the script (a hold keeps the cell on) and answers
    't' with a busy error; a new driver instance aborts it, identifies and leaves the cell off."""
    old = open_driver("pstat")
    if technique == "ocp":
        old.start_ocp(interval_s=10.0, max_time_s=1e6)
    else:
        old.start_potentiostatic(3.0, interval_s=10.0, max_time_s=1e6)
    time.sleep(0.05)
    assert bench.output_on("pstat") is (technique == "hold")
    old.adapter.connection.close()  # the host dies without a word to the device
    old.wait(5)
    time.sleep(0.05)
    assert old.running is False

    fresh = open_driver("pstat")
    with caplog.at_level("WARNING", logger="drivers.emstat"):
        assert fresh.id.startswith("es4_hr")
    assert fresh.orphan_aborted is not None and "aborted a MethodSCRIPT technique" in fresh.orphan_aborted
    assert "aborted a MethodSCRIPT technique" in caplog.text
    assert not bench.output_on("pstat")
    fresh.start_ocp(1.0, 2.0)  # the link is in sync: the next technique runs normally
    assert fresh.wait(10) and fresh.stop_reason == "max_time"
    assert [round(s.t) for s in fresh.poll()] == [1, 2]
    assert fresh.id.startswith("es4_hr") and fresh.orphan_aborted is not None  # idle device: no second abort


def test_identifying_an_idle_device_sends_no_abort(bench, open_driver):
    before = len(bench.log("pstat"))
    assert open_driver("pstat").id.startswith("es4_hr")
    assert [e.command for e in bench.log("pstat")[before:]] == ["t"]


@pytest.mark.parametrize("ended", [False, True])
def test_a_fresh_driver_keeps_what_an_orphaned_technique_measured(bench, open_driver, cycling, ended):
    """kill -9 of the host during a charge: the device charges on and its link keeps what it sent; the driver
    that takes over keeps those data packages (t on the technique's timer) instead of discarding them,
    whether the technique is still running (aborted) or had already ended on its own."""
    old = open_driver("pstat")
    max_time = 50.0 if ended else 1e5
    old.start_galvanostatic(1e-12, interval_s=1.0, max_time_s=max_time, v_min=0.5, v_max=4.05)
    old.adapter.connection.close()  # the host dies at once: every package goes to the link's buffer
    old.wait(5)
    time.sleep(1.0)  # ~1000 s of device time
    assert bench.output_on("pstat") is not ended

    fresh = open_driver("pstat")
    assert fresh.id.startswith("es4_hr")
    got = fresh.orphan_samples
    assert fresh.orphan_aborted is not None
    assert ("had ended" in fresh.orphan_aborted) is ended
    assert f"{len(got)} data package(s) kept" in fresh.orphan_aborted
    # ~50 (ended) or ~1000 packages; fewer when a loaded machine slows the emulator (the first few may go to
    # the dying link)
    assert len(got) >= (40 if ended else 60)
    t = [s.t for s in got]
    # a package at least every interval (more near a bound and before the time limit): none lost
    assert all(0.0 < b - a <= 1.0 + 0.01 for a, b in itertools.pairwise(t)), t
    # from about the technique's start (packages sent before the emulator saw the link close went to it)
    assert t[0] <= 10.0
    if ended:
        assert t[-1] == pytest.approx(max_time, abs=0.06)
    assert all(s.current == pytest.approx(1e-12 + _hr_offset(bench), abs=1e-12) for s in got)
    assert not bench.output_on("pstat")
    fresh.start_ocp(1.0, 2.0)  # the link is in sync after the drain
    assert fresh.wait(10) and [round(s.t) for s in fresh.poll()] == [1, 2]


def test_a_garbled_ack_never_leaves_a_script_running_unread(bench, pstat, cycling):
    bench.inject("pstat", "garble")  # the next thing the device sends is the script's "e"
    pstat.start_galvanostatic(1e-11, interval_s=1.0, max_time_s=5.0, v_min=0.5, v_max=4.05)
    assert not bench._fault_boxes["pstat"].pending()
    assert pstat.wait(20)
    samples = pstat.poll()
    assert samples and samples[-1].t == pytest.approx(5.0, abs=0.1)  # the second script ran to its end
    assert not bench.output_on("pstat")
    assert [e.command for e in bench.log("pstat")].count("Z") >= 1
