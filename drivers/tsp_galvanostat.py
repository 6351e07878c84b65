"""The galvanostatic TSP script a Keithley 2600B runs on itself, and the lines it prints.

The script sources a current on one SMU channel, checks t/E/I every 50 ms on the instrument's own timer
(printing a sample every interval, or sooner when E moves), integrates the charge, and stops by itself
(output off first, then one ``END`` line saying why) at the voltage cut-offs, the station's window, the
capacity cut-off or the time limit. Nothing in it waits for the host: a host that dies leaves a script
that still ends at its cut-off with the output off.

TSP used (Keithley Series 2600B Reference Manual 2600BS-901-01, section 6 "Instrument programming" and
section 7 "TSP command reference"):

* ``loadscript name`` ... ``endscript`` loads a named script over the remote interface (section 6, "Load a
  script by sending commands over the remote interface"); ``name.run()`` runs it.
* ``timer.reset()`` / ``timer.measure.t()``: seconds since the reset, on the instrument's clock.
* ``smuX.measure.iv()`` returns current then voltage; ``delay(s)``; ``print()`` TAB-separates its values.
* ``smuX.source.offmode = smuX.OUTPUT_HIGH_Z``: the battery floats when the output goes off; the
  voltage limit ``smuX.source.limitv`` is set before the output turns on ("Set this attribute in the test
  sequence before turning the source on", ``smuX.source.limitY``).

Lines printed (TAB-separated, numbers with ``%.9g`` so pA survive):

* ``NCGS  n  t  E  I  Q`` one sample (``n`` counts from 1: a missing number is a lost line);
* ``NCGS_END  reason  n  Q`` the script stopped by itself, output already off; reason one of
  :data:`REASONS`;
* the host's own markers (``NCGS_IDLE token``) come from commands queued behind the script.

The global ``nc_galv_state`` says where the last script stands, for a host that connects later (the
supervisor of a killed engine, ``nanocell resume``):

* ``"running"``: set by the script's first statement. An abort (which ends the script without its last
  lines) leaves it, so ``"running"`` while nothing holds the command interface means a script was cut short
  (aborted, or a runtime error) and no host took over after it.
* ``"ended <reason>"``: set by the script's last statements, after it switched the output off by itself.
* ``"stopped"`` (:data:`STATE_STOPPED`): written by the host once it has taken the technique back (its
  ``stop()`` aborted whatever ran and read the output back off). Without it a host's own abort would leave
  ``"running"`` behind, and a later host that finds the instrument busy with something else (a long
  ``delay()``) would take that for a script it aborted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SCRIPT_NAME = "nc_galv"
SAMPLE_TAG = "NCGS"
END_TAG = "NCGS_END"
IDLE_TAG = "NCGS_IDLE"
STATE_GLOBAL = "nc_galv_state"
STATE_RUNNING = "running"
STATE_ENDED = "ended "
"""Prefix of the state a script that stopped by itself leaves (``"ended v_max"``)."""
STATE_STOPPED = "stopped"
REASONS = ("v_max", "v_min", "window_max", "window_min", "capacity", "max_time")

_BODY = """\
{state} = "{running}"
local smu = smu{ch}
local level, interval, tmax, check, de = {current}, {interval}, {max_time}, {check}, {record_dE}
local vmin, vmax, wmin, wmax, qmax = {v_min}, {v_max}, {w_min}, {w_max}, {capacity}
local measured = {measured}
smu.source.output = smu.OUTPUT_OFF
smu.source.func = smu.OUTPUT_DCAMPS
smu.source.offmode = smu.OUTPUT_HIGH_Z
smu.source.autorangei = smu.AUTORANGE_ON
smu.source.leveli = level
smu.source.limitv = {clamp}
smu.measure.autorangev = smu.AUTORANGE_ON
smu.measure.autorangei = smu.AUTORANGE_ON
smu.measure.nplc = {nplc}
timer.reset()
smu.source.output = smu.OUTPUT_ON
local n, k, q, tprev, tnext, elast = 0, 0, 0, 0, 0, nil
local reason = nil
while reason == nil do
  local i, v = smu.measure.iv()
  if not measured then i = level end
  local t = timer.measure.t()
  q = q + i * (t - tprev)
  tprev = t
  k = k + 1
  if qmax > 0 and math.abs(q) >= qmax then reason = "capacity"
  elseif v >= vmax then reason = "v_max"
  elseif v <= vmin then reason = "v_min"
  elseif v >= wmax then reason = "window_max"
  elseif v <= wmin then reason = "window_min"
  elseif t >= tmax then reason = "max_time"
  end
  if reason ~= nil or t >= tnext or elast == nil or math.abs(v - elast) >= de or t >= tmax - check then
    n = n + 1
    print("{sample}", string.format("%d\t%.9g\t%.9g\t%.9g\t%.9g", n, t, v, i, q))
    elast = v
    tnext = t + interval
  end
  if reason == nil then
    local wait = math.min(k * check, tmax) - timer.measure.t()
    if wait > 0 then delay(wait) end
  end
end
smu.source.output = smu.OUTPUT_OFF
{state} = "{ended}" .. reason
print("{end}", reason, string.format("%d\\t%.9g", n, q))
"""


def _num(value: float) -> str:
    """A Lua number literal; infinities as +-1e300 (TSP is Lua 5.0: no ``math.huge``, no inf literal)."""
    if math.isinf(value):
        return "1e300" if value > 0 else "-1e300"
    return repr(float(value))


def script_lines(channel: str, current_A: float, interval_s: float, max_time_s: float, v_min: float,
                 v_max: float, *, capacity_C: float | None = None,
                 window_V: tuple[float, float] | None = None, clamp_V: float, nplc: float = 1.0,
                 check_interval_s: float = 0.05, record_dE_V: float = 0.01,
                 measured_current: bool = True) -> list[str]:
    """The ``loadscript`` ... ``endscript`` lines of one galvanostatic step (one line each: what is sent).

    The instrument checks the cut-offs every ``check_interval_s`` (at most ``interval_s``) and prints a
    sample when ``interval_s`` has passed since the last one, when E moved by ``record_dE_V`` (V) since
    the last one (a voltage collapse near a cut-off is recorded densely), at the sample that stops it and
    in the last check before ``max_time_s`` (as the EmStat4's MethodSCRIPT does). With
    ``measured_current`` false the samples carry the source level instead of the measured current (an OCP
    at 0 A passes no current: its samples say I = 0, not the current meter's noise).
    """
    w_min, w_max = window_V if window_V is not None else (-math.inf, math.inf)
    body = _BODY.format(state=STATE_GLOBAL, running=STATE_RUNNING, ended=STATE_ENDED, ch=channel,
                        current=_num(current_A), interval=_num(interval_s),
                        max_time=_num(max_time_s), v_min=_num(v_min), v_max=_num(v_max), w_min=_num(w_min),
                        w_max=_num(w_max), capacity=_num(capacity_C or 0.0), clamp=_num(clamp_V),
                        nplc=_num(nplc), sample=SAMPLE_TAG, end=END_TAG,
                        check=_num(min(check_interval_s, interval_s)), record_dE=_num(record_dE_V),
                        measured="true" if measured_current else "false")
    return [f"loadscript {SCRIPT_NAME}", *body.splitlines(), "endscript"]


@dataclass(frozen=True)
class SampleLine:
    n: int
    t: float
    potential: float
    current: float
    q_C: float


@dataclass(frozen=True)
class EndLine:
    reason: str
    n: int
    q_C: float


def parse_line(line: str) -> SampleLine | EndLine | None:
    """A script line, or None for a line of no known form (a garbled one)."""
    parts = line.strip().split("\t")
    try:
        if parts[0] == SAMPLE_TAG and len(parts) == 6:
            values = [float(p) for p in parts[2:]]
            if not all(math.isfinite(v) for v in values):
                return None
            return SampleLine(int(parts[1]), *values)
        if parts[0] == END_TAG and len(parts) == 4 and parts[1] in REASONS:
            return EndLine(parts[1], int(parts[2]), float(parts[3]))
    except ValueError:
        return None
    return None
