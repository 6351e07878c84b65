"""One time line per run: every I-V and map step with its state of charge, conductance, nonlinearity, Xc.

A *checkpoint* is a state of the cell at which the wire was probed: consecutive I-V / map steps with no charge
passed between them (only rests in between) are one checkpoint, so "pristine I-V" and "pristine map" meet in
one row. Units: s, C, S; state of charge is a fraction of the nominal capacity (0..1, may exceed 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

PROBE_KINDS = ("iv", "raman_map")
# Steps during which no charge is passed on purpose: they do not end a checkpoint.
QUIET_KINDS = ("rest", "ocv", "wait", "pause", "raman_reference")

TIMELINE_COLUMNS = [
    "step_id",
    "step_index",
    "kind",
    "label",
    "cycle",
    "time_s",
    "charge_passed_C",
    "soc",
    "pair",
    "conductance_S",
    "conductance_err_S",
    "conductance_significant",
    "conductance_upper_limit_S",
    "nonlinearity",
    "rectification",
    "xc_mean",
    "xc_pooled",
    "c_position_cm1",
]


@dataclass(frozen=True)
class StepRow:
    """What the time line needs of a step: id, order, kind, label, cycle, start time (s since run start)."""

    id: int
    index: int
    kind: str
    label: str | None = None
    cycle: int | None = None
    time_s: float = float("nan")
    status: str = "completed"


@dataclass
class Checkpoint:
    """A probed state: steps, label, cycle, time (s), charge passed (C), state of charge, and the numbers."""

    label: str
    cycle: int | None
    step_ids: list[int] = field(default_factory=list)
    time_s: float = float("nan")
    charge_passed_C: float = 0.0
    soc: float = float("nan")
    iv_step_id: int | None = None
    map_step_id: int | None = None
    conductance_S: float = float("nan")
    conductance_err_S: float = float("nan")
    conductance_significant: bool = False
    conductance_upper_limit_S: float = float("nan")
    g0_method: str | None = None
    nonlinearity: float = float("nan")
    rectification: float = float("nan")
    xc_mean: float = float("nan")
    xc_pooled: float = float("nan")
    xc_upper: float = float("nan")  # 95 % upper limit of Xc where no c-Si band is significant
    xc_text: str = ""  # "k of N pixels have a significant c-Si peak; Xc ..." (raman_map.map_summary)
    per_pair: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "cycle": self.cycle,
            "step_ids": list(self.step_ids),
            "time_s": self.time_s,
            "charge_passed_C": self.charge_passed_C,
            "soc": self.soc,
            "iv_step_id": self.iv_step_id,
            "map_step_id": self.map_step_id,
            "conductance_S": self.conductance_S,
            "conductance_err_S": self.conductance_err_S,
            "conductance_significant": self.conductance_significant,
            "conductance_upper_limit_S": self.conductance_upper_limit_S,
            "g0_method": self.g0_method,
            "nonlinearity": self.nonlinearity,
            "rectification": self.rectification,
            "xc_mean": self.xc_mean,
            "xc_pooled": self.xc_pooled,
            "xc_upper": self.xc_upper,
            "xc_text": self.xc_text,
            "per_pair": {k: dict(v) for k, v in self.per_pair.items()},
        }


def charge_before(steps: Sequence[StepRow], step_charge_C: Mapping[int, float]) -> dict[int, float]:
    """Net charge (C, charge positive) passed by all steps before each step (in step order)."""
    out: dict[int, float] = {}
    total = 0.0
    for s in sorted(steps, key=lambda r: r.index):
        out[s.id] = total
        total += float(step_charge_C.get(s.id, 0.0))
    return out


def _primary_pair(iv_rows: pd.DataFrame) -> pd.Series | None:
    """The I-V row that stands for the step: pair "S-D" if measured, else the first pair."""
    if iv_rows.empty:
        return None
    if "pair" in iv_rows.columns:
        sd = iv_rows[iv_rows["pair"] == "S-D"]
        if not sd.empty:
            return sd.iloc[0]
    return iv_rows.iloc[0]


def timeline(
    steps: Sequence[StepRow],
    iv_metrics: pd.DataFrame,
    map_summaries: Mapping[int, Mapping[str, float]],
    step_charge_C: Mapping[int, float],
    nominal_capacity_C: float | None = None,
) -> pd.DataFrame:
    """One row per I-V step and contact pair and per map step (columns :data:`TIMELINE_COLUMNS`).

    ``iv_metrics``: table from :func:`nanocell_daq.analysis.iv.iv_table` (``step_id``, ``pair``, metrics);
    ``map_summaries``: step id -> :func:`~nanocell_daq.analysis.raman_map.map_summary`; ``step_charge_C``: net
    charge each cycling step passed (C).
    """
    before = charge_before(steps, step_charge_C)
    # each I-V step's rows, split once (a week: 500 steps, not a filter of the whole table for each)
    by_step = dict(tuple(iv_metrics.groupby("step_id", sort=False))) if not iv_metrics.empty else {}
    rows = []
    for s in sorted(steps, key=lambda r: r.index):
        if s.kind not in PROBE_KINDS:
            continue
        q = before[s.id]
        base = {
            "step_id": s.id,
            "step_index": s.index,
            "kind": s.kind,
            "label": s.label,
            "cycle": s.cycle,
            "time_s": s.time_s,
            "charge_passed_C": q,
            "soc": q / nominal_capacity_C if nominal_capacity_C else float("nan"),
        }
        if s.kind == "iv":
            sub = by_step.get(s.id, iv_metrics.iloc[0:0])
            for _, r in sub.iterrows():
                rows.append(
                    {
                        **base,
                        "pair": r.get("pair"),
                        "conductance_S": r["conductance_S"],
                        "conductance_err_S": r.get("conductance_err_S", np.nan),
                        "conductance_significant": bool(r.get("g0_significant", False)),
                        "conductance_upper_limit_S": r.get("g0_upper_limit_S", np.nan),
                        "nonlinearity": r["nonlinearity"],
                        "rectification": r["rectification"],
                    }
                )
            if sub.empty:
                rows.append(base)
        else:
            m = map_summaries.get(s.id, {})
            rows.append(
                {
                    **base,
                    "xc_mean": m.get("xc_mean", float("nan")),
                    "xc_pooled": m.get("xc_pooled", float("nan")),
                    "c_position_cm1": m.get("c_position_median", float("nan")),
                }
            )
    return pd.DataFrame(rows, columns=TIMELINE_COLUMNS)


def checkpoints(
    steps: Sequence[StepRow],
    iv_metrics: pd.DataFrame,
    map_summaries: Mapping[int, Mapping[str, float]],
    step_charge_C: Mapping[int, float],
    nominal_capacity_C: float | None = None,
) -> list[Checkpoint]:
    """Group probe steps into checkpoints (see module doc) and attach the numbers.

    Conductance, nonlinearity and rectification come from the first I-V step of the checkpoint (before any
    laser exposure), pair "S-D" if measured; Xc from its first map. Every pair's numbers are in ``per_pair``.
    """
    before = charge_before(steps, step_charge_C)
    groups: list[list[StepRow]] = []
    current: list[StepRow] = []
    for s in sorted(steps, key=lambda r: r.index):
        if s.kind in PROBE_KINDS:
            current.append(s)
        elif s.kind in QUIET_KINDS:
            continue
        else:
            if current:
                groups.append(current)
            current = []
    if current:
        groups.append(current)
    out = []
    for g in groups:
        labels = [s.label for s in g if s.label]
        label = labels[0] if labels else f"step {g[0].index}"
        cycles = [s.cycle for s in g if s.cycle is not None]
        cp = Checkpoint(
            label=label,
            cycle=cycles[0] if cycles else None,
            step_ids=[s.id for s in g],
            time_s=g[0].time_s,
            charge_passed_C=before[g[0].id],
        )
        if nominal_capacity_C:
            cp.soc = cp.charge_passed_C / nominal_capacity_C
        ivs = [s for s in g if s.kind == "iv"]
        maps = [s for s in g if s.kind == "raman_map" and s.id in map_summaries]
        if ivs and not iv_metrics.empty:
            cp.iv_step_id = ivs[0].id
            sub = iv_metrics[iv_metrics["step_id"] == ivs[0].id]
            main = _primary_pair(sub)
            if main is not None:
                cp.conductance_S = float(main["conductance_S"])
                cp.conductance_err_S = float(main["conductance_err_S"])
                cp.conductance_significant = bool(main.get("g0_significant", False))
                cp.conductance_upper_limit_S = float(main.get("g0_upper_limit_S", np.nan))
                cp.g0_method = None if pd.isna(main.get("g0_method")) else str(main.get("g0_method"))
                cp.nonlinearity = float(main["nonlinearity"])
                cp.rectification = float(main["rectification"])
            for _, r in sub.iterrows():
                cp.per_pair[str(r.get("pair", ""))] = {
                    "conductance_S": float(r["conductance_S"]),
                    "conductance_err_S": float(r["conductance_err_S"]),
                    "conductance_significant": bool(r.get("g0_significant", False)),
                    "conductance_upper_limit_S": float(r.get("g0_upper_limit_S", np.nan)),
                    "nonlinearity": float(r["nonlinearity"]),
                    "rectification": float(r["rectification"]),
                }
        if maps:
            cp.map_step_id = maps[0].id
            m = map_summaries[maps[0].id]
            cp.xc_mean = float(m.get("xc_mean", np.nan))
            cp.xc_pooled = float(m.get("xc_pooled", np.nan))
            cp.xc_upper = float(m.get("xc_upper", np.nan))
            cp.xc_text = str(m.get("xc_text", ""))
        out.append(cp)
    return out
