"""Back-to-back Schottky contacts plus series wire resistance: the source/drain I-V of the nanowire."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Junction:
    """One metal/wire contact: saturation current i_s (A), ideality n, barrier lowering gamma (eV/sqrt V)."""

    i_s: float
    n: float
    gamma: float


def _reverse_current(j: Junction, u: float, kt: float) -> float:
    """Current (A, >= 0) through a reverse-biased contact with drop u >= 0 (V); lowering avoids saturation."""
    return j.i_s * math.exp(j.gamma * math.sqrt(u) / kt) * -math.expm1(-u / (j.n * kt))


def _forward_drop(j: Junction, current: float, kt: float) -> float:
    """Drop (V) across a forward-biased contact carrying current >= 0 (A)."""
    return j.n * kt * math.log1p(current / j.i_s)


def b2b_current(volts: float, hi: Junction, lo: Junction, r_series: float, kt: float) -> float:
    """Current (A) from pad hi to pad lo at bias volts (V): the reverse-biased contact limits, plus wire R.

    For V > 0 the hi contact is reverse-biased, for V < 0 the lo one; unequal barriers make the curve
    slightly rectifying. Solved by bisection on the reverse-contact drop u in [0, |V|] (monotone).
    """
    if volts == 0.0:
        return 0.0
    v = abs(volts)
    rev, fwd = (hi, lo) if volts > 0 else (lo, hi)
    lo_u, hi_u = 0.0, v
    current = 0.0
    for _ in range(60):
        u = 0.5 * (lo_u + hi_u)
        current = _reverse_current(rev, u, kt)
        total = u + _forward_drop(fwd, current, kt) + current * r_series
        if total > v:
            hi_u = u
        else:
            lo_u = u
        if hi_u - lo_u < 1e-12 * v:
            break
    return math.copysign(current, volts)


def zero_bias_conductance(hi: Junction, lo: Junction, r_series: float, kt: float) -> float:
    """Small-signal conductance (S) at zero bias: both contacts' n kT / I_s in series with the wire."""
    return 1.0 / (r_series + hi.n * kt / hi.i_s + lo.n * kt / lo.i_s)
