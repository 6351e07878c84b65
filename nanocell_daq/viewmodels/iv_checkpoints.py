"""I-V curves grouped per checkpoint (one I-V step and contact pair) and the zero-bias conductance of each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from nanocell_daq.storage import IVData, StepInfo
from nanocell_daq.viewmodels.events import Signal
from nanocell_daq.viewmodels.trace import GrowingArray


def fit_conductance(V: np.ndarray, I: np.ndarray) -> float:  # noqa: E741 - physics names
    """Zero-bias conductance (S): slope of a straight line through the points with |V| <= 25 % of max |V|.

    Used when the analysis package offers no conductance function; NaN with fewer than 3 points.
    """
    V = np.asarray(V, dtype=float)
    I = np.asarray(I, dtype=float)  # noqa: E741
    ok = np.isfinite(V) & np.isfinite(I)
    V, I = V[ok], I[ok]  # noqa: E741
    if len(V) < 3 or np.ptp(V) == 0:
        return float("nan")
    near = np.abs(V) <= 0.25 * np.max(np.abs(V))
    if near.sum() >= 3 and np.ptp(V[near]) > 0:
        V, I = V[near], I[near]  # noqa: E741
    return float(np.polyfit(V, I, 1)[0])


def _analysis_conductance() -> Callable[[np.ndarray, np.ndarray], float] | None:
    """The analysis package's zero-bias conductance G0 (S) of one I-V curve, if that module is there."""
    try:
        from nanocell_daq.analysis.iv_fit import fit_g0
    except ImportError:  # the analysis area not landed yet: the local straight-line fit stands in
        return None

    def call(V: np.ndarray, I: np.ndarray) -> float:  # noqa: E741
        return float(fit_g0(V, I).conductance_S)  # the whole-sweep fit, as the analysis reports it

    return call


@dataclass
class IVCurve:
    """One I-V curve: a step (checkpoint) and a contact pair; V (V), I (A) in acquisition order."""

    step_id: int
    pair: str
    label: str
    order: int  # checkpoint number in the run (0, 1, ...), for colours and the conductance x axis
    V: GrowingArray = field(default_factory=GrowingArray)
    I: GrowingArray = field(default_factory=GrowingArray)  # noqa: E741
    conductance_S: float = float("nan")


class IVCheckpointsModel:
    """Groups I-V points per (step, pair); emits ``changed(curves_touched)`` after each batch."""

    def __init__(self, conductance: Callable[[np.ndarray, np.ndarray], float] | None = None) -> None:
        self._conductance = conductance or _analysis_conductance() or fit_conductance
        self.curves: dict[tuple[int, str], IVCurve] = {}
        self._order: dict[int, int] = {}  # step id -> checkpoint number, in order of first point
        self._labels: dict[int, str] = {}
        self.changed = Signal("changed")

    def set_steps(self, steps: list[StepInfo]) -> None:
        """Name checkpoints after their steps' labels (e.g. "after charge 3")."""
        for s in steps:
            cycle = f" (cycle {s.cycle})" if s.cycle else ""
            self._labels[s.id] = s.label or f"{s.kind} #{s.index}{cycle}"
        for curve in self.curves.values():
            curve.label = self._label(curve.step_id, curve.pair)

    def _label(self, step_id: int, pair: str) -> str:
        base = self._labels.get(step_id, f"step {step_id}")
        return f"{base} [{pair}]" if pair else base

    def clear(self) -> None:
        """Forget every curve."""
        self.curves.clear()
        self._order.clear()
        self.changed.emit([])

    def add(self, data: IVData) -> None:
        """Append new I-V points (rows newer than the last batch)."""
        if not len(data):
            return
        touched: list[IVCurve] = []
        keys = list(zip(data.step_id.tolist(), [str(p) for p in data.pair], strict=True))
        for key in dict.fromkeys(keys):
            sel = np.fromiter((k == key for k in keys), dtype=bool, count=len(keys))
            curve = self.curves.get(key)
            if curve is None:
                order = self._order.setdefault(key[0], len(self._order))
                curve = IVCurve(key[0], key[1], self._label(*key), order=order)
                self.curves[key] = curve
            curve.V.extend(data.V[sel])
            curve.I.extend(data.I[sel])
            curve.conductance_S = self._conductance(curve.V.view, curve.I.view)
            touched.append(curve)
        self.changed.emit(touched)

    def conductance_series(self, pair: str | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Checkpoint number, conductance (S) and label of each curve (of one pair, or all), in run order."""
        curves = [c for c in self.curves.values() if pair is None or c.pair == pair]
        curves.sort(key=lambda c: (c.order, c.pair))
        return (
            np.array([c.order for c in curves], dtype=float),
            np.array([c.conductance_S for c in curves], dtype=float),
            [c.label for c in curves],
        )

    def pairs(self) -> list[str]:
        """Contact pairs seen so far ("S-D", ...)."""
        return sorted({c.pair for c in self.curves.values()})
