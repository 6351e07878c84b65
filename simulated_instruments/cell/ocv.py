"""Open-circuit potential functions (V vs Li/Li+) of the electrode materials; pure math, scalar floats."""

from __future__ import annotations

import math

# PyBaMM Chen2020_composite: silicon_ocp_(de)lithiation_Mark2016, valid 0 <= sto <= 1 (Horner, highest first).
_SI_LITH = (-96.63, 372.6, -587.6, 489.9, -232.8, 62.99, -9.286, 0.8633)
_SI_DELITH = (-51.02, 161.3, -205.7, 140.2, -58.76, 16.87, -3.792, 0.9937)


def _horner(coeffs: tuple[float, ...], x: float) -> float:
    acc = 0.0
    for c in coeffs:
        acc = acc * x + c
    return acc


def si_lithiation_mark2016(sto: float) -> float:
    """a-LixSi OCP on the lithiation branch (V vs Li), sto clipped to [0, 1]."""
    return _horner(_SI_LITH, min(max(sto, 0.0), 1.0))


def si_delithiation_mark2016(sto: float) -> float:
    """a-LixSi OCP on the delithiation branch (V vs Li), sto clipped to [0, 1]."""
    return _horner(_SI_DELITH, min(max(sto, 0.0), 1.0))


def lico2_ramadass2004(sto: float) -> float:
    """LixCoO2 OCP (V vs Li), PyBaMM Ramadass2004 fit (stretch 1.13); sto clipped to its sane [0.45, 0.85]."""
    s = 1.13 * min(max(sto, 0.45), 0.85)
    s2 = s * s
    num = -4.656 + s2 * (88.669 + s2 * (-401.119 + s2 * (342.909 + s2 * (-462.471 + s2 * 433.434))))
    den = -1.0 + s2 * (18.933 + s2 * (-79.532 + s2 * (37.311 + s2 * (-73.083 + s2 * 95.96))))
    return num / den


def graphite_ramadass2004(sto: float) -> float:
    """LixC6 OCP (V vs Li), PyBaMM Ramadass2004 fit; sto clipped to [0.02, 0.98]."""
    s = min(max(sto, 0.02), 0.98)
    return (
        0.7222
        + 0.1387 * s
        + 0.029 * math.sqrt(s)
        - 0.0172 / s
        + 0.0019 / s**1.5
        + 0.2808 * math.exp(0.9 - 15.0 * s)
        - 0.7984 * math.exp(0.4465 * s - 0.4108)
    )


def tanh_steps(x: float, u0: float, slope: float, steps: tuple[tuple[float, float, float], ...]) -> float:
    """Sum-of-tanh OCP: u0 - slope*x - sum(a * (1 + tanh((x - xk)/w))/2) for (xk, a, w) in steps (V vs Li)."""
    u = u0 - slope * x
    for xk, a, w in steps:
        u -= a * 0.5 * (1.0 + math.tanh((x - xk) / w))
    return u


COUNTER_OCV = {
    "lico2_ramadass2004": lico2_ramadass2004,
    "graphite_ramadass2004": graphite_ramadass2004,
}
