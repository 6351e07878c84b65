"""Galvanostatic cycling metrics: capacity per half-cycle, coulombic efficiency, mean voltages, energy, dQ/dV.

Units: time s, current A, voltage V, charge C (and Ah / pAh), energy J (and Wh).

Capacity: the charge the step itself counted while it ran (the stored ``Q`` column: Σ I_k·(t_k − t_k-1) from
the technique's start, so the first sampling interval is included) when the run stores it; otherwise
:func:`step_charge` integrates I dt the same way, taking the first sample to stand for the interval before
it (a trapezoid between the first and last samples misses one sampling interval: −1/N).
Sign convention: a positive current charges the cell (``charge_sign=+1``); pass ``charge_sign=-1`` for an
instrument that reports the opposite sign.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.signal import savgol_filter

AH_PER_C = 1.0 / 3600.0
PAH_PER_AH = 1e12


@dataclass(frozen=True)
class HalfCycle:
    """One charge or discharge segment: charge passed, mean voltage and energy.

    ``capacity_C`` is |∫I dt| (C, see :func:`step_charge`); ``capacity_Ah``/``capacity_pAh`` the same in
    Ah/pAh; ``mean_voltage_V`` is the charge-weighted mean ∫E|I|dt / ∫|I|dt (V); ``energy_J`` is |∫E·I dt|
    (J), each sample standing for the sampling interval that ends at it.
    """

    cycle: int
    direction: str  # "charge" | "discharge"
    capacity_C: float
    capacity_Ah: float
    capacity_pAh: float
    mean_voltage_V: float
    energy_J: float
    energy_Wh: float
    start_s: float
    duration_s: float
    v_start_V: float
    v_end_V: float
    mean_current_A: float
    n_points: int
    step_id: int | None = None
    label: str | None = None
    cutoff_V: float = float("nan")
    """The voltage cut-off in the step's direction (V), NaN if unknown."""
    overshoot_V: float = float("nan")
    """How far the voltage went beyond ``cutoff_V`` (V, > 0 = beyond it); NaN if no cut-off is known."""
    capacity_source: str = "integral"
    """"stored" (the step's own charge count) or "integral" (I dt integrated here)."""

    def as_dict(self) -> dict:
        return asdict(self)


OVERSHOOT_TOLERANCE_V = 0.005
"""A voltage more than this beyond a step's cut-off is reported as an overshoot."""


def step_charge(t: np.ndarray, current: np.ndarray, charge: np.ndarray | None = None) -> tuple[float, str]:
    """Signed charge (C) a step passed and where it comes from ("stored" or "integral").

    ``charge``: the step's stored cumulative Q (C) per point, counted from the technique's start; its last
    finite value is the answer when it is consistent with the currents (not all zero while current flows).
    Otherwise Σ I_k·Δt_k with Δt_k = t_k − t_k-1 and, for the first sample, the sampling interval
    t_1 − t_0 (each sample stands for the interval that ends at it)."""
    t = np.asarray(t, dtype=float)
    current = np.asarray(current, dtype=float)
    if charge is not None:
        q = np.asarray(charge, dtype=float)
        finite = np.isfinite(q)
        if finite.any():
            last = float(q[finite][-1])
            flowing = bool(np.nanmax(np.abs(current)) > 0) if current.size else False
            if last != 0.0 or not flowing:
                return last, "stored"
    t, current = _finite(t, current)
    if t.size == 0:
        return 0.0, "integral"
    if t.size == 1:
        return 0.0, "integral"
    dt = np.diff(t)
    widths = np.concatenate([[dt[0]], dt])
    return float(np.sum(current * widths)), "integral"


def _finite(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Keep the points where every array is finite (NaN-safe integration)."""
    arrays = tuple(np.asarray(a, dtype=float) for a in arrays)
    ok = np.ones(arrays[0].shape, dtype=bool)
    for a in arrays:
        ok &= np.isfinite(a)
    return tuple(a[ok] for a in arrays)


def cumulative_charge(t: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Signed cumulative charge ∫I dt (C) at each point, trapezoidal, starting at 0."""
    t = np.asarray(t, dtype=float)
    current = np.asarray(current, dtype=float)
    if t.size < 2:
        return np.zeros(t.shape)
    increments = 0.5 * (current[1:] + current[:-1]) * np.diff(t)
    return np.concatenate([[0.0], np.cumsum(increments)])


def direction_of(current: np.ndarray, charge_sign: int = 1) -> str:
    """``"charge"`` if the mean current (A) has the sign ``charge_sign``, else ``"discharge"``."""
    mean = float(np.nanmean(np.asarray(current, dtype=float))) if np.size(current) else 0.0
    return "charge" if mean * charge_sign > 0 else "discharge"


def half_cycle(
    t: np.ndarray,
    current: np.ndarray,
    voltage: np.ndarray,
    *,
    cycle: int = 1,
    charge_sign: int = 1,
    step_id: int | None = None,
    label: str | None = None,
    charge: np.ndarray | None = None,
    cutoffs: tuple[float, float] | None = None,
) -> HalfCycle:
    """Metrics of one half-cycle from its points: ``t`` (s), ``current`` (A), ``voltage`` (V), and the
    step's stored cumulative charge ``charge`` (C) if the run has it (see :func:`step_charge`).
    ``cutoffs``: the step's (lower, upper) voltage cut-offs (V), to measure an overshoot beyond the one in
    the step's direction."""
    by_time = np.argsort(np.asarray(t, dtype=float), kind="stable")
    stored = None if charge is None else np.asarray(charge, dtype=float)[by_time]
    t_sorted = np.asarray(t, dtype=float)[by_time]
    q_signed, source = step_charge(t_sorted, np.asarray(current, dtype=float)[by_time], stored)
    t, current, voltage = _finite(t, current, voltage)
    order = np.argsort(t, kind="stable")
    t, current, voltage = t[order], current[order], voltage[order]
    n = int(t.size)
    if n < 2:
        nan = float("nan")
        return HalfCycle(
            cycle,
            direction_of(current, charge_sign),
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            float(t[0]) if n else nan,
            0.0,
            nan,
            nan,
            nan,
            n,
            step_id,
            label,
        )
    capacity = abs(q_signed)
    # each sample stands for the sampling interval that ends at it (as the step counts its charge)
    dt = np.diff(t)
    widths = np.concatenate([[dt[0]], dt])
    abs_charge = float(np.sum(np.abs(current) * widths))
    mean_v = float(np.sum(voltage * np.abs(current) * widths) / abs_charge) if abs_charge > 0 else \
        float(np.mean(voltage))
    energy = abs(float(np.sum(voltage * current * widths)))
    return HalfCycle(
        cycle=int(cycle),
        direction=direction_of(current, charge_sign),
        capacity_C=capacity,
        capacity_Ah=capacity * AH_PER_C,
        capacity_pAh=capacity * AH_PER_C * PAH_PER_AH,
        mean_voltage_V=mean_v,
        energy_J=energy,
        energy_Wh=energy / 3600.0,
        start_s=float(t[0]),
        duration_s=float(t[-1] - t[0]),
        v_start_V=float(voltage[0]),
        v_end_V=float(voltage[-1]),
        mean_current_A=float(np.mean(current)),
        n_points=n,
        step_id=step_id,
        label=label,
        **_overshoot(direction_of(current, charge_sign), voltage, cutoffs),
        capacity_source=source,
    )


def _overshoot(direction: str, voltage: np.ndarray, cutoffs: tuple[float, float] | None) -> dict:
    """cutoff_V and overshoot_V (V beyond the cut-off in the step's direction) of a half-cycle."""
    if cutoffs is None or voltage.size == 0:
        return {}
    low, high = cutoffs
    if direction == "charge" and high is not None and np.isfinite(high):
        return {"cutoff_V": float(high), "overshoot_V": float(np.max(voltage) - high)}
    if direction == "discharge" and low is not None and np.isfinite(low):
        return {"cutoff_V": float(low), "overshoot_V": float(low - np.min(voltage))}
    return {}


def overshoots(half_cycles: Sequence[HalfCycle], tolerance_V: float = OVERSHOOT_TOLERANCE_V) -> list[str]:
    """One line per half-cycle whose voltage went more than ``tolerance_V`` beyond its cut-off."""
    out = []
    for h in half_cycles:
        if np.isfinite(h.overshoot_V) and h.overshoot_V > tolerance_V:
            edge = "above" if h.direction == "charge" else "below"
            extreme = h.cutoff_V + h.overshoot_V if h.direction == "charge" else h.cutoff_V - h.overshoot_V
            out.append(f"{h.label or h.direction} (cycle {h.cycle}): the voltage went to {extreme:.3f} V, "
                       f"{1000 * h.overshoot_V:.0f} mV {edge} its cut-off {h.cutoff_V:g} V")
    return out


def split_by_sign(current: np.ndarray, rest_threshold_A: float = 0.0, min_points: int = 3) -> list[slice]:
    """Split a record into runs of constant current sign (rest points, |I| <= threshold, end a run).

    For data without step boundaries; runs shorter than ``min_points`` are dropped.
    """
    current = np.asarray(current, dtype=float)
    sign = np.where(np.abs(current) > rest_threshold_A, np.sign(current), 0.0)
    sign[~np.isfinite(current)] = 0.0
    slices: list[slice] = []
    start = None
    for k in range(sign.size + 1):
        s = sign[k] if k < sign.size else 0.0
        if start is not None and (s != sign[start]):
            if k - start >= min_points:
                slices.append(slice(start, k))
            start = None
        if start is None and s != 0.0:
            start = k
    return slices


def half_cycles_from_points(
    points: pd.DataFrame,
    *,
    charge_sign: int = 1,
    rest_threshold_A: float = 0.0,
    cutoffs: Mapping[int, tuple[float, float]] | None = None,
) -> list[HalfCycle]:
    """Half-cycles from a points table with columns ``t_s``, ``current_A``, ``voltage_V`` (and the stored
    cumulative charge ``charge_C`` when the run has it: the capacity then comes from it).

    ``cutoffs``: step id -> (lower, upper) voltage cut-off (V), for the overshoot of each half-cycle.
    If ``step_id`` is present each step is one half-cycle (and ``cycle``/``label`` columns are used when
    present); otherwise the record is split where the current changes sign and cycles are numbered from the
    directions.
    """
    if points.empty:
        return []
    out: list[HalfCycle] = []
    if "step_id" in points.columns:
        for step_id, seg in points.groupby("step_id", sort=False):
            first = seg.iloc[0]
            cyc = int(first["cycle"]) if "cycle" in seg.columns and pd.notna(first["cycle"]) else 0
            lab = str(first["label"]) if "label" in seg.columns and pd.notna(first["label"]) else None
            out.append(
                half_cycle(
                    seg["t_s"].to_numpy(),
                    seg["current_A"].to_numpy(),
                    seg["voltage_V"].to_numpy(),
                    cycle=cyc,
                    charge_sign=charge_sign,
                    step_id=int(step_id),
                    label=lab,
                    charge=seg["charge_C"].to_numpy() if "charge_C" in seg.columns else None,
                    cutoffs=(cutoffs or {}).get(int(step_id)),
                )
            )
    else:
        t = points["t_s"].to_numpy(dtype=float)
        i = points["current_A"].to_numpy(dtype=float)
        v = points["voltage_V"].to_numpy(dtype=float)
        for sl in split_by_sign(i, rest_threshold_A):
            out.append(half_cycle(t[sl], i[sl], v[sl], cycle=0, charge_sign=charge_sign))
    return number_unnumbered(out)


def number_unnumbered(half_cycles: Sequence[HalfCycle]) -> list[HalfCycle]:
    """The half-cycles in time order; if any has no cycle number (<= 0), all are numbered from the
    directions (:func:`number_cycles`)."""
    out = sorted(half_cycles, key=lambda h: h.start_s)
    if any(h.cycle <= 0 for h in out):
        numbers = number_cycles([h.direction for h in out])
        out = [HalfCycle(**{**h.as_dict(), "cycle": c}) for h, c in zip(out, numbers, strict=True)]
    return out


def merge_attempts(half_cycles: Sequence[HalfCycle], group_of: Mapping[int, int]) -> list[HalfCycle]:
    """One half-cycle per plan step: the attempts of a step interrupted and resumed (``group_of``: step id ->
    id of its first attempt) are summed (charge, energy, duration, points); the first attempt gives the
    cycle, label, step id, start and start voltage, the last the end voltage. Each attempt was integrated on
    its own, so the time between attempts (the engine down, an OCV re-check) passes no charge."""
    groups: dict[int, list[HalfCycle]] = {}
    order: list[int] = []
    for h in half_cycles:
        key = group_of.get(h.step_id, h.step_id) if h.step_id is not None else None
        if key is None:
            key = -(len(order) + 1)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(h)
    out = []
    for key in order:
        parts = sorted(groups[key], key=lambda h: h.start_s)
        if len(parts) == 1:
            out.append(parts[0])
            continue
        ok = [h for h in parts if np.isfinite(h.capacity_C)]
        q = float(sum(h.capacity_C for h in ok))
        e = float(sum(h.energy_J for h in ok))
        dur = float(sum(h.duration_s for h in parts))
        first, last = parts[0], parts[-1]
        out.append(
            HalfCycle(
                cycle=first.cycle,
                direction=first.direction,
                capacity_C=q,
                capacity_Ah=q * AH_PER_C,
                capacity_pAh=q * AH_PER_C * PAH_PER_AH,
                mean_voltage_V=float(sum(h.mean_voltage_V * h.capacity_C for h in ok) / q) if q > 0 else
                float("nan"),
                energy_J=e,
                energy_Wh=e / 3600.0,
                start_s=first.start_s,
                duration_s=dur,
                v_start_V=first.v_start_V,
                v_end_V=last.v_end_V,
                mean_current_A=float(sum(h.mean_current_A * h.duration_s for h in ok) / dur) if dur > 0 else
                first.mean_current_A,
                n_points=int(sum(h.n_points for h in parts)),
                step_id=first.step_id,
                label=first.label,
                cutoff_V=last.cutoff_V,
                overshoot_V=float(np.nanmax([h.overshoot_V for h in parts]))
                if any(np.isfinite(h.overshoot_V) for h in parts) else float("nan"),
                capacity_source="stored" if all(h.capacity_source == "stored" for h in parts) else "integral",
            )
        )
    return out


def number_cycles(directions: Sequence[str]) -> list[int]:
    """Number cycles 1, 1, 2, 2, ...: a new cycle starts whenever the opening direction comes back.

    The opening direction is that of the first half-cycle; consecutive half-cycles of the same direction (a
    charge interrupted by a checkpoint) stay in the same cycle.
    """
    numbers: list[int] = []
    cycle = 0
    opener = directions[0] if directions else "charge"
    previous = None
    for d in directions:
        if d == opener and previous != opener:
            cycle += 1
        numbers.append(max(cycle, 1))
        previous = d
    return numbers


def half_cycle_table(half_cycles: Sequence[HalfCycle]) -> pd.DataFrame:
    """One row per half-cycle (columns as the HalfCycle fields)."""
    columns = list(HalfCycle.__dataclass_fields__)
    return pd.DataFrame([h.as_dict() for h in half_cycles], columns=columns)


def cycle_table(half_cycles: Sequence[HalfCycle]) -> pd.DataFrame:
    """One row per cycle: charge/discharge capacity (Ah, pAh, C), coulombic efficiency, mean voltages, energy.

    Partial half-cycles of the same direction in one cycle are summed. Coulombic efficiency is
    Q(second direction)/Q(opening direction) of that cycle: Q_discharge/Q_charge for a charge-first (Si anode)
    cell, Q_charge/Q_discharge for a discharge-first (pristine cathode wire) cell. Hysteresis is
    V̄_charge − V̄_discharge (V).
    """
    columns = [
        "cycle",
        "charge_capacity_Ah",
        "discharge_capacity_Ah",
        "charge_capacity_pAh",
        "discharge_capacity_pAh",
        "charge_capacity_C",
        "discharge_capacity_C",
        "coulombic_efficiency",
        "mean_charge_voltage_V",
        "mean_discharge_voltage_V",
        "voltage_hysteresis_V",
        "charge_energy_J",
        "discharge_energy_J",
        "energy_efficiency",
    ]
    if not half_cycles:
        return pd.DataFrame(columns=columns)
    opener = sorted(half_cycles, key=lambda h: h.start_s)[0].direction
    rows = []
    for cycle in sorted({h.cycle for h in half_cycles}):
        row: dict[str, float] = {"cycle": cycle}
        for d in ("charge", "discharge"):
            hs = [
                h for h in half_cycles if h.cycle == cycle and h.direction == d and np.isfinite(h.capacity_C)
            ]
            q = float(sum(h.capacity_C for h in hs)) if hs else float("nan")
            e = float(sum(h.energy_J for h in hs)) if hs else float("nan")
            v = float(sum(h.mean_voltage_V * h.capacity_C for h in hs) / q) if hs and q > 0 else float("nan")
            row[f"{d}_capacity_C"] = q
            row[f"{d}_capacity_Ah"] = q * AH_PER_C
            row[f"{d}_capacity_pAh"] = q * AH_PER_C * PAH_PER_AH
            row[f"mean_{d}_voltage_V"] = v
            row[f"{d}_energy_J"] = e
        other = "discharge" if opener == "charge" else "charge"
        q_in, q_out = row[f"{opener}_capacity_C"], row[f"{other}_capacity_C"]
        row["coulombic_efficiency"] = q_out / q_in if np.isfinite(q_in) and q_in > 0 else float("nan")
        row["voltage_hysteresis_V"] = row["mean_charge_voltage_V"] - row["mean_discharge_voltage_V"]
        e_ch, e_dis = row["charge_energy_J"], row["discharge_energy_J"]
        row["energy_efficiency"] = e_dis / e_ch if e_ch and np.isfinite(e_ch) and e_ch > 0 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def dqdv(
    voltage: np.ndarray,
    charge: np.ndarray,
    *,
    bin_V: float = 0.005,
    window: int = 7,
    polyorder: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed incremental capacity dQ/dV (C/V) of one half-cycle.

    ``charge`` is the cumulative |charge| (C) at each ``voltage`` (V). The points are binned by voltage
    (``bin_V``, V; pA data are too noisy to differentiate point by point), the mean charge per bin is
    differentiated and then smoothed with a Savitzky-Golay filter (``window`` bins, ``polyorder``).
    Returns (bin centres V, dQ/dV C/V); empty arrays if fewer than 3 occupied bins.
    """
    voltage, charge = _finite(voltage, charge)
    if voltage.size < 3 or bin_V <= 0:
        return np.array([]), np.array([])
    lo, hi = float(voltage.min()), float(voltage.max())
    if hi - lo < 2 * bin_V:
        return np.array([]), np.array([])
    edges = np.arange(lo, hi + bin_V, bin_V)
    idx = np.clip(np.digitize(voltage, edges) - 1, 0, edges.size - 2)
    counts = np.bincount(idx, minlength=edges.size - 1)
    sums = np.bincount(idx, weights=charge, minlength=edges.size - 1)
    occupied = counts > 0
    centres = (0.5 * (edges[:-1] + edges[1:]))[occupied]
    q_mean = sums[occupied] / counts[occupied]
    if centres.size < 3:
        return np.array([]), np.array([])
    grad = np.abs(np.gradient(q_mean, centres))
    win = min(window, centres.size if centres.size % 2 else centres.size - 1)
    if win > polyorder + 1:
        grad = savgol_filter(grad, win, polyorder, mode="interp")
    return centres, grad


def dqdv_table(
    points: pd.DataFrame,
    half_cycles: Sequence[HalfCycle],
    *,
    bin_V: float = 0.005,
    window: int = 7,
    polyorder: int = 2,
    group_of: Mapping[int, int] | None = None,
) -> pd.DataFrame:
    """dQ/dV (C/V) of every half-cycle that has a ``step_id`` in ``points`` (with ``group_of``, step id ->
    first attempt's id, the points of every attempt of a resumed step).

    Columns: cycle, direction, step_id, voltage_V, dqdv_C_per_V.
    """
    frames = []
    for h in half_cycles:
        if h.step_id is None or "step_id" not in points.columns:
            continue
        attempts = [s for s, g in (group_of or {}).items() if g == h.step_id] or [h.step_id]
        volts, charges, offset = [], [], 0.0
        for sid in attempts:  # each attempt integrated on its own, continuing the charge of the previous
            seg = points[points["step_id"] == sid].sort_values("t_s")
            q = np.abs(cumulative_charge(seg["t_s"].to_numpy(float), seg["current_A"].to_numpy(float)))
            volts.append(seg["voltage_V"].to_numpy(float))
            charges.append(q + offset)
            offset += float(q[-1]) if q.size else 0.0
        v, g = dqdv(np.concatenate(volts), np.concatenate(charges), bin_V=bin_V, window=window,
                    polyorder=polyorder)
        if v.size:
            frames.append(
                pd.DataFrame(
                    {
                        "cycle": h.cycle,
                        "direction": h.direction,
                        "step_id": h.step_id,
                        "voltage_V": v,
                        "dqdv_C_per_V": g,
                    }
                )
            )
    if not frames:
        return pd.DataFrame(columns=["cycle", "direction", "step_id", "voltage_V", "dqdv_C_per_V"])
    return pd.concat(frames, ignore_index=True)


RESET_MARGIN_V = 0.02
"""A half-cycle that ended within this much (V) of its cut-off, or beyond it, reached it."""


def reached_cutoff(h: HalfCycle, margin_V: float = RESET_MARGIN_V) -> bool:
    """Whether the half-cycle ended at (or beyond) its voltage cut-off."""
    if not np.isfinite(h.cutoff_V):
        return False
    if h.direction == "charge":
        return h.v_end_V >= h.cutoff_V - margin_V
    return h.v_end_V <= h.cutoff_V + margin_V


def soc_before_steps(
    step_order: Sequence[int],
    net_charge_C: Mapping[int, float],
    half_cycles: Sequence[HalfCycle],
    nominal_C: float | None = None,
) -> tuple[dict[int, float], str]:
    """State of charge before each step (step id -> SOC) against the measured capacity, and its definition.

    ``step_order``: step ids in run order; ``net_charge_C``: net charge each step passed (C, charge
    positive). The measured capacity C_meas is the largest capacity of a half-cycle that ran from cut-off to
    cut-off (ended at its voltage cut-off); when none did (capacity- or time-limited steps only), the nominal
    capacity ``nominal_C`` (C) is used, else the largest half-cycle (a lower bound). A charge-first cell
    (Si anode) is empty (SOC 0) at the start and whenever a discharge ended at its cut-off; a discharge-first
    cell (a pristine cathode wire) is full (SOC 1) at the start and whenever a charge ended at its cut-off.
    In between, SOC moves by the net charge passed / C_meas. Empty dict if no capacity was measured.
    """
    measured = [h.capacity_C for h in half_cycles if np.isfinite(h.capacity_C) and h.capacity_C > 0]
    if not measured:
        return {}, "SOC: no half-cycle capacity measured"
    complete = [h.capacity_C for h in half_cycles if reached_cutoff(h) and np.isfinite(h.capacity_C)
                and h.capacity_C > 0]
    if complete:
        cap, what = float(max(complete)), "measured capacity"
        source = "largest half-cycle ended at its cut-off"
    elif nominal_C:
        cap, what, source = float(nominal_C), "nominal capacity", "no half-cycle reached its cut-off"
    else:
        cap, what = float(max(measured)), "measured capacity"
        source = "largest half-cycle; none reached its cut-off: a lower bound"
    opener = sorted(half_cycles, key=lambda h: h.start_s)[0].direction
    closing = "discharge" if opener == "charge" else "charge"
    base = 0.0 if opener == "charge" else 1.0
    resets = {h.step_id for h in half_cycles if h.direction == closing and reached_cutoff(h)}
    out: dict[int, float] = {}
    since = 0.0
    for sid in step_order:
        out[sid] = base + since / cap
        since += float(net_charge_C.get(sid, 0.0))
        if sid in resets:
            since = 0.0
    state = "empty (SOC 0)" if opener == "charge" else "full (SOC 1)"
    edge = "discharge" if opener == "charge" else "charge"
    text = (f"SOC = {'' if base == 0 else '1 + '}net charge since the cell was last {state}: at the start of "
            f"the run or the end of a {edge} at its cut-off / {what} "
            f"{cap * AH_PER_C * PAH_PER_AH:.4g} pAh ({source})")
    return out, text


def coulombic_flags(table: pd.DataFrame, half_cycles: Sequence[HalfCycle]) -> list[str]:
    """One line per cycle with coulombic efficiency > 1, with its likely cause."""
    out = []
    if table.empty:
        return out
    opener = sorted(half_cycles, key=lambda h: h.start_s)[0].direction
    other = "discharge" if opener == "charge" else "charge"
    previous_ce = float("nan")
    for _, row in table.iterrows():
        ce = float(row["coulombic_efficiency"])
        cycle = int(row["cycle"])
        if np.isfinite(ce) and ce > 1.0:
            first = [h for h in half_cycles if h.cycle == cycle and h.direction == opener]
            if first and not all(reached_cutoff(h) for h in first):
                cause = (f"the {opener} stopped before its voltage cut-off (time or capacity limit, or an "
                         f"interruption), so less went in than the {other} could take out")
            elif np.isfinite(previous_ce) and previous_ce < 1.0:
                cause = (f"charge left in the wire by cycle {cycle - 1} (CE {previous_ce:.2f}) came out in "
                         f"this {other}")
            else:
                cause = (f"a parasitic current (leakage through the electrolyte, side reactions) adds to the "
                         f"{other}")
            out.append(f"cycle {cycle}: coulombic efficiency {ce:.2f} > 1; likely cause: {cause}")
        previous_ce = ce
    return out


def charge_curve(t: np.ndarray, current: np.ndarray, charge: np.ndarray | None = None) -> np.ndarray:
    """Charge passed (C) at each point of a step in time order: the stored count if the run has one, else
    ∫I dt with the first sampling interval (as the capacity is computed)."""
    t, current = np.asarray(t, dtype=float), np.asarray(current, dtype=float)
    if charge is not None:
        q = np.asarray(charge, dtype=float)
        if q.size and np.isfinite(q).all() and (q != 0).any():
            return q
    if t.size < 2:
        return np.zeros(t.size)
    return cumulative_charge(t, current) + current[0] * (t[1] - t[0])


def plot_indices(n: int, max_points: int, *keep: int) -> np.ndarray:
    """Indices of at most about ``max_points`` evenly spread points out of ``n`` (first and last included,
    and the indices in ``keep``, e.g. the extremes); all of them when ``n <= max_points``."""
    if n <= max_points:
        return np.arange(n)
    spread = np.linspace(0, n - 1, max(int(max_points), 2)).round().astype(np.int64)
    return np.unique(np.concatenate([spread, np.asarray(keep, dtype=np.int64)]))


@dataclass
class StepPoints:
    """What the analysis keeps of one step's cycling points once it has read them (see :func:`step_points`):
    the half-cycle (active steps), the signed charge the step passed, the dQ/dV input (voltage and |charge|
    in time order) and a thinned copy of the points for plots with the charge curve."""

    half_cycle: HalfCycle | None
    charge_C: float
    dqdv_voltage: np.ndarray
    dqdv_charge: np.ndarray
    plot: dict[str, np.ndarray]
    n_points: int


def step_points(
    t: np.ndarray,
    voltage: np.ndarray,
    current: np.ndarray,
    charge: np.ndarray | None,
    *,
    step_id: int,
    active: bool,
    cycle: int = 0,
    label: str | None = None,
    charge_sign: int = 1,
    cutoffs: tuple[float, float] | None = None,
    max_plot_points: int = 2000,
) -> StepPoints:
    """One step's points (append order) reduced to what the run analysis needs, with numpy only: the
    half-cycle metrics (:func:`half_cycle`), the signed net charge (:func:`step_charge` × ``charge_sign``),
    the dQ/dV inputs and at most ~``max_plot_points`` points for plots (extremes of the voltage kept)."""
    t = np.asarray(t, dtype=float)
    voltage = np.asarray(voltage, dtype=float)
    current = np.asarray(current, dtype=float)
    q = None if charge is None else np.asarray(charge, dtype=float)
    order = np.argsort(t, kind="stable")
    ts, vs, cs = t[order], voltage[order], current[order]
    qs = None if q is None else q[order]
    hc = None
    signed = 0.0
    dv, dq = np.empty(0), np.empty(0)
    if active:
        hc = half_cycle(t, current, voltage, cycle=cycle, charge_sign=charge_sign, step_id=step_id,
                        label=label, charge=q, cutoffs=cutoffs)
        signed = charge_sign * step_charge(ts, cs, qs)[0]
        dv, dq = vs, np.abs(cumulative_charge(ts, cs))
    curve = charge_curve(ts, cs, qs)
    finite_v = np.isfinite(vs)
    extremes = (int(np.nanargmin(vs)), int(np.nanargmax(vs))) if finite_v.any() else ()
    keep = plot_indices(ts.size, max_plot_points, *extremes)
    plot = {"t_s": ts[keep], "voltage_V": vs[keep], "current_A": cs[keep],
            "charge_C": qs[keep] if qs is not None else np.full(keep.size, np.nan),
            "charge_curve_C": curve[keep]}
    return StepPoints(hc, float(signed), dv, dq, plot, int(ts.size))


def dqdv_of_attempts(parts: Sequence[tuple[np.ndarray, np.ndarray]], *, bin_V: float = 0.005, window: int = 7,
                     polyorder: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """dQ/dV (:func:`dqdv`) of a half-cycle from its attempts' (voltage, |charge|) arrays in attempt order,
    each attempt's charge continuing the previous one's (as :func:`dqdv_table` does)."""
    volts, charges, offset = [], [], 0.0
    for v, q in parts:
        volts.append(v)
        charges.append(q + offset)
        offset += float(q[-1]) if q.size else 0.0
    if not volts:
        return np.array([]), np.array([])
    return dqdv(np.concatenate(volts), np.concatenate(charges), bin_V=bin_V, window=window,
                polyorder=polyorder)
