"""The MethodSCRIPT of each EmStat4 technique (pure text, no I/O): what runs on the device.

Every loop sends ``t``, ``p`` (and ``c``) with a running number ``n`` (type ``ja``) per package, so the
host sees a lost package. Statements as in PalmSens' MethodSCRIPT 1.8 examples
(PalmSens/MethodSCRIPT_Examples): ``meas_loop_cp`` with ``if ... breakloop`` (MSExample029),
``store_var``/``if`` inside a loop (MSExample034), ``elseif`` and ``>=`` (MSExample026).
"""

from __future__ import annotations

import math

from drivers import methodscript as ms

LR_CURRENT_RANGES = (1e-9, 10e-9, 100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3)
"""EmStat4 LR current ranges (A); the HR has 100 nA .. 100 mA (``drivers.capability``)."""


def galvanostatic(current_A: float, interval_s: float, max_time_s: float,
                  v_min: float, v_max: float, *, mode: int = 6, check_interval_s: float = 0.05,
                  record_dE_V: float = 0.01, capacity_C: float | None = None,
                  window_V: tuple[float, float] | None = None,
                  current_ranges: tuple[float, ...] = LR_CURRENT_RANGES) -> list[str]:
    """Chronopotentiometry whose breaks act on the device at every sample; the cell is off at the end.

    The device samples every ``check_interval_s`` (at most ``interval_s``) and leaves the loop at the
    first sample with E outside the cut-offs [v_min, v_max] (V), outside the station's ``window_V`` (V)
    or, with ``capacity_C``, with the charge it counted (C, integral of the measured current) beyond it.
    It sends a package when ``interval_s`` has passed since the last one, when E moved by ``record_dE_V``
    (V) since the last one (so a voltage collapse near a cut-off is recorded densely), at the sample
    that breaks and in the last ``check_interval_s`` before ``max_time_s`` (the state the step ends in).
    Each package carries a running number (``ja``). The current range is the smallest of the model's
    ``current_ranges`` (A) that holds ``current_A`` (an LR-only range on an HR is an error on the device).
    """
    lit = ms.si_literal
    dt = min(check_interval_s, interval_s)
    current_range = lit(_range_for(abs(current_A), current_ranges))
    window = [] if window_V is None else [("wmax", ">", window_V[1]), ("wmin", "<", window_V[0])]
    e_range = lit(max(abs(v_min), abs(v_max), *(abs(value) for _, _, value in window), 1.0))
    capacity = capacity_C is not None and math.isfinite(capacity_C)
    lines = ["var c", "var p", "var t", "var n", "var q", "var dq", "var dp", "var pl", "var tn", "var s",
             "var b", "var vmax", "var vmin", "var de", "var nde", "var iv", "var dt", "var tend"]
    lines += [f"var {name}" for name, _, _ in window]
    if capacity:
        lines.append("var qlim")
    lines += [f"store_var {name} {lit(value)} ab" for name, _, value in window]
    lines += [
        f"store_var vmax {lit(v_max)} ab",
        f"store_var vmin {lit(v_min)} ab",
        f"store_var de {lit(record_dE_V)} ab",
        f"store_var nde {lit(-record_dE_V)} ab",
        f"store_var iv {lit(interval_s)} eb",
        f"store_var dt {lit(dt)} eb",
        f"store_var tend {lit(max(max_time_s - dt, 0.0))} eb",
        "store_var n 0i ja",
        "store_var q 0 ja",
        "store_var tn 0 eb",
    ]
    if capacity:
        lines.append(f"store_var qlim {lit(math.copysign(capacity_C, current_A))} ja")
    lines += [
        "set_pgstat_chan 0",
        f"set_pgstat_mode {mode}",
        "set_max_bandwidth 10",
        f"set_range ab {e_range}",
        f"set_autoranging ab 100m {e_range}",
        f"set_range db {current_range}",
        "set_i 0",
        "cell_on",
        "timer_start",
        f"meas_loop_cp p c {lit(current_A)} {lit(dt)} {lit(max_time_s)}",
        "timer_get t",
        "copy_var c dq", "mul_var dq dt", "add_var q dq",
        "copy_var p dp", "sub_var dp pl",
        "store_var b 0i ja",
        "if p > vmax", "store_var b 1i ja",
        "elseif p < vmin", "store_var b 1i ja",
    ]
    for name, op, _ in window:
        lines += [f"elseif p {op} {name}", "store_var b 1i ja"]
    if capacity:
        lines += ["elseif q > qlim" if current_A > 0 else "elseif q < qlim", "store_var b 1i ja"]
    lines += [
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
    return lines

def ocp(interval_s: float, max_time_s: float, *, mode: int = 3) -> list[str]:
    """Open-circuit potential with the cell off."""
    lit = ms.si_literal
    return [
        "var p", "var t", "var n",
        "store_var n 0i ja",
        "set_pgstat_chan 0",
        f"set_pgstat_mode {mode}",
        "set_max_bandwidth 60",
        "set_range ab 5",
        "set_autoranging ab 100m 5",
        "cell_off",
        "timer_start",
        f"meas_loop_ocp p {lit(interval_s)} {lit(max_time_s)}",
        "timer_get t",
        "add_var n 1i",
        "pck_start", "pck_add t", "pck_add p", "pck_add n", "pck_end",
        "endloop",
        "on_finished:",
        "cell_off",
    ]

def potentiostatic(potential_V: float, interval_s: float, max_time_s: float, *,
                   mode: int = 3, current_range: str = "100n",
                   max_current_A: float | None = None, min_range: str = "1n") -> list[str]:
    """Chronoamperometry at ``potential_V``; with ``max_current_A`` the device leaves the loop at the
    first sample with |I| above it (A). The device autoranges down to ``min_range`` (the model's smallest
    current range: ``1n`` on an LR, ``100n`` on an HR)."""
    lit = ms.si_literal
    loop = f"meas_loop_ca p c {lit(potential_V)} {lit(interval_s)} {lit(max_time_s)}"
    return _from_potential(potential_V, loop, mode, current_range, max_current_A, min_range)

def cv(e_begin: float, vertex1: float, vertex2: float, step_V: float,
       scan_rate_V_s: float, cycles: int, *, mode: int = 3,
       current_range: str = "100n", max_current_A: float | None = None, min_range: str = "1n") -> list[str]:
    """Cyclic voltammetry, ``cycles`` scans; current break and ranges as for :func:`potentiostatic`."""
    lit = ms.si_literal
    scans = f" nscans({cycles})" if cycles > 1 else ""
    loop = (f"meas_loop_cv p c {lit(e_begin)} {lit(vertex1)} {lit(vertex2)} {lit(step_V)} "
            f"{lit(scan_rate_V_s)}{scans}")
    return _from_potential(e_begin, loop, mode, current_range, max_current_A, min_range)

def _from_potential(e_start: float, loop: str, mode: int, current_range: str,
                    max_current_A: float | None = None, min_range: str = "1n") -> list[str]:
    """Cell on at ``e_start`` (V), then the measurement ``loop`` sending t, p, c and a running number
    each point; with ``max_current_A`` (A) it breaks at the first sample beyond +-max_current_A."""
    lit = ms.si_literal
    limit = max_current_A is not None and math.isfinite(max_current_A)
    head = ["var c", "var p", "var t", "var n"]
    if limit:
        head += ["var imax", "var imin", f"store_var imax {lit(max_current_A)} ba",
                 f"store_var imin {lit(-max_current_A)} ba"]
    body = ["timer_get t", "add_var n 1i",
            "pck_start", "pck_add t", "pck_add p", "pck_add c", "pck_add n", "pck_end"]
    if limit:
        body += ["if c > imax", "breakloop", "elseif c < imin", "breakloop", "endif"]
    return [
        *head,
        "store_var n 0i ja",
        "set_pgstat_chan 0",
        f"set_pgstat_mode {mode}",
        "set_max_bandwidth 60",
        f"set_range ba {current_range}",
        f"set_autoranging ba {min_range} {current_range}",
        f"set_e {ms.si_literal(e_start)}",
        "cell_on",
        "timer_start",
        loop,
        *body,
        "endloop",
        "on_finished:",
        "cell_off",
    ]


def _range_for(current_A: float, ranges: tuple[float, ...]) -> float:
    """Smallest of ``ranges`` (A, ascending) that holds ``current_A``; the largest when none does."""
    for rng in ranges:
        if current_A <= rng:
            return rng
    return ranges[-1]
