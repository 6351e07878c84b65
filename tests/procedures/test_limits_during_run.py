"""Station limits while a technique runs: open-circuit check first, window and current on every sample,
the bounds the device breaks at, and lost samples reported as gaps."""

from __future__ import annotations

import itertools

import pytest

from drivers.roles import Gap, Sample
from nanocell_daq.engine.stationview import StationView
from procedures import GalvanostaticStep, PotentiostaticHold
from procedures.context import StepFault
from tests.procedures import fakes

WINDOW = fakes.STATION + "limits: {cycling: {max_current_A: 1.0e-9, voltage_window_V: [2.4, 4.05]}}\n"


def _run(step, ctx):
    step.bind(ctx)
    step.startup()
    try:
        step.execute()
    finally:
        step.shutdown()
    return step


def _galvanostatic(e0: float = 3.0, station: str = WINDOW, galvanostat=None, **params):
    ctx = fakes.Context({})
    ctx.station = StationView.from_text(station, "station.yaml")
    ctx.roles["galvanostat"] = galvanostat or fakes.Galvanostat(ctx.clock, e0=e0)
    step = GalvanostaticStep.from_params({"current_A": 1e-12, "interval_s": 1.0, "max_time_s": 50.0,
                                          **params})
    return step, ctx


@pytest.mark.parametrize(("current_A", "e0", "words"), [
    (-1e-12, 2.4, "2.4 V at open circuit, at or below the discharge cut-off 2.5 V"),
    (1e-12, 3.97, "3.97 V at open circuit, at or above the charge cut-off 3.95 V"),
])
def test_a_step_that_starts_beyond_its_cut_off_passes_no_current(current_A, e0, words):
    step, ctx = _galvanostatic(e0=e0, current_A=current_A, v_min_V=2.5, v_max_V=3.95)
    _run(step, ctx)
    g = ctx.roles["galvanostat"]
    assert g.passed == [] and g.starts == []  # the technique never started
    assert g.ocp_starts == 1
    assert words in step.reason
    assert any("not started, no current passed" in e and words in e for e in ctx.recorder.events)
    assert ctx.recorder.cycling_rows == []  # no t/E/I point of a technique that never ran
    assert any(f"open-circuit {e0:g} V before passing current" in e for e in ctx.recorder.events)


def test_the_device_breaks_at_the_cut_off_ahead_and_the_window_behind():
    step, ctx = _galvanostatic(e0=3.0, current_A=-1e-12, v_min_V=2.5, v_max_V=3.95, capacity_Ah=1e-14)
    _run(step, ctx)
    current, _, v_min, v_max = ctx.roles["galvanostat"].starts[0]
    assert (current, v_min, v_max) == (-1e-12, 2.5, 4.05)
    assert ctx.roles["galvanostat"].window_V == (2.4, 4.05)  # a break of its own on the device
    assert "capacity cut-off" in step.reason  # the device counted the charge and stopped itself
    assert abs(ctx.recorder.cycling_rows[-1][3]) == pytest.approx(1e-14 * 3600, rel=0.05)


def test_a_cell_just_inside_the_window_keeps_the_whole_window_on_the_device():
    step, ctx = _galvanostatic(e0=4.02, current_A=-1e-12, v_min_V=2.5, v_max_V=3.95, max_time_s=3.0)
    _run(step, ctx)
    assert ctx.roles["galvanostat"].starts[0][2:] == (2.5, 4.05)


def test_a_cell_below_the_window_may_charge_back_into_it_but_not_go_further_out():
    step, ctx = _galvanostatic(e0=1.46, current_A=1e-12, v_min_V=2.5, v_max_V=3.95, max_time_s=5.0)
    _run(step, ctx)
    _, _, v_min, v_max = ctx.roles["galvanostat"].starts[0]
    assert v_min == pytest.approx(1.41) and v_max == 3.95  # where it started, less 50 mV
    assert ctx.roles["galvanostat"].window_V == (pytest.approx(1.41), 4.05)
    assert "time limit" in step.reason


class _Collapsing(fakes.Galvanostat):
    """Discharges normally until ``at`` s, then reads ``to`` V (a voltage collapse between two samples)."""

    def __init__(self, clock, at: float, to: float, **kw) -> None:
        super().__init__(clock, **kw)
        self.at, self.to = at, to

    def potential(self) -> float:
        if self.starts and self.clock.t - self.t0 >= self.at:
            return self.to
        return super().potential()


def test_a_window_overshoot_ends_the_step_at_once_naming_the_value_and_the_limit():
    ctx_clock = fakes.Clock()
    g = _Collapsing(ctx_clock, at=5.0, to=2.31, e0=3.0)
    step, ctx = _galvanostatic(galvanostat=g, current_A=-1e-12, v_min_V=2.5, v_max_V=3.95)
    ctx.clock = g.clock
    with pytest.raises(StepFault) as err:
        _run(step, ctx)
    assert "E = 2.31 V is below the station window [2.4, 4.05] V (station.yaml line" in str(err.value)
    assert not g.running  # the technique was stopped
    assert ctx.recorder.cycling_rows[-1][1] == 2.31  # the overshooting sample is stored, not hidden
    assert ctx.clock.t <= 7.0  # at once: the poll that saw it


class _Flat(fakes.Galvanostat):
    def potential(self) -> float:
        return self.e0


def test_a_current_above_the_cycling_limit_ends_the_step():
    clock = fakes.Clock()
    step, ctx = _galvanostatic(galvanostat=_Flat(clock, e0=3.0), current_A=2e-9, v_min_V=2.5, v_max_V=3.95)
    ctx.clock = clock
    with pytest.raises(StepFault, match=r"\|I\| = 2e-09 A is above the cycling current limit 1e-09 A"):
        _run(step, ctx)
    assert not ctx.roles["galvanostat"].running


def test_no_station_window_keeps_the_device_bounds_open():
    step, ctx = _galvanostatic(e0=3.0, station=fakes.STATION, current_A=1e-12, v_min_V=2.5, v_max_V=9.0,
                               max_time_s=5.0)
    _run(step, ctx)
    _, _, v_min, v_max = ctx.roles["galvanostat"].starts[0]
    assert v_min < 0 and v_max == 9.0


class _Lossy(fakes.Galvanostat):
    """Loses the package of the 3rd tick and says so, as a streaming driver does."""

    def __init__(self, clock, **kw) -> None:
        super().__init__(clock, **kw)
        self.ticks, self.gaps = 0, []

    def tick(self, dt):
        before = len(self.pending)
        super().tick(dt)
        if self.current and len(self.pending) > before:
            self.ticks += 1
            if self.ticks == 3:
                lost = self.pending.pop()
                self.gaps.append(Gap(lost.t - dt, lost.t + dt, 1, "1 garbled line(s) from the device"))

    def take_gaps(self):
        out, self.gaps = self.gaps, []
        return out


def test_a_lost_sample_becomes_a_gap_event_with_its_time_span():
    clock = fakes.Clock()
    g = _Lossy(clock, e0=3.0)
    step, ctx = _galvanostatic(galvanostat=g, current_A=1e-12, v_min_V=2.5, v_max_V=3.95, max_time_s=6.0)
    ctx.clock = clock
    _run(step, ctx)
    gaps = [e for e in ctx.recorder.events if "gap in the data" in e]
    assert len(gaps) == 1
    assert "1 sample(s) lost between t = " in gaps[0] and "garbled" in gaps[0]


class _Potentiostat(fakes.Galvanostat):
    """Holds a potential; its current decays from ``i0`` (A) with 1 s time constant per tick."""

    def __init__(self, clock, i0: float) -> None:
        super().__init__(clock)
        self.i0, self.holds = i0, []

    def start_potentiostatic(self, potential_V, interval_s, max_time_s, *, max_current_A=None):
        self.running, self.current, self.t0, self.capacity_C = True, 0.0, self.clock.t, None
        self.holds.append((potential_V, max_current_A))
        self.e0 = potential_V

    def tick(self, dt):
        if self.running:
            self.pending.append(Sample(self.clock.t - self.t0, self.e0, self.i0))


def test_a_hold_passes_the_current_limit_to_the_device_and_ends_beyond_it():
    clock = fakes.Clock()
    ctx = fakes.Context({})
    ctx.clock = clock
    ctx.station = StationView.from_text(WINDOW, "station.yaml")
    ctx.roles["potentiostat"] = pstat = _Potentiostat(clock, i0=3e-9)
    ctx.roles["galvanostat"] = pstat
    step = PotentiostaticHold.from_params({"potential_V": 3.0, "max_time_s": 20, "interval_s": 1})
    with pytest.raises(StepFault, match=r"\|I\| = 3e-09 A is above the cycling current limit 1e-09 A"):
        _run(step, ctx)
    assert pstat.holds == [(3.0, 1e-9)]
    assert not pstat.running


def test_a_host_read_instrument_is_polled_faster_as_e_nears_the_cut_off():
    """A galvanostat the host samples by polling (a 2450): 0.01 V/s, 10 s interval, cut-off 3.455 V. Fixed
    10 s polls would first see the cut-off at 3.5 V; polls shortened as E approaches stop within 10 mV."""
    step, ctx = _galvanostatic(e0=3.0, station=fakes.STATION, current_A=1e-12, v_min_V=2.5, v_max_V=3.455,
                               interval_s=10.0, max_time_s=1000.0)
    _run(step, ctx)
    e_max = max(row[1] for row in ctx.recorder.cycling_rows)
    assert "voltage cut-off 3.455 V" in step.reason
    assert 3.455 <= e_max < 3.455 + 0.01
    spacing = [b[0] - a[0] for a, b in itertools.pairwise(ctx.recorder.cycling_rows)]
    assert max(spacing) == pytest.approx(10.0) and min(spacing) < 1.0  # full interval far away, finer near
