"""Helpers of the end-to-end engine tests: run a protocol on a simulated bench, read outputs and data."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from nanocell_daq.engine.plan import Plan, expand
from nanocell_daq.engine.protocol import load_protocol, parse_protocol
from nanocell_daq.engine.service import protocol_path, run_plan
from nanocell_daq.engine.stationview import StationView
from nanocell_daq.storage import Store

OUTPUTS = ("smu", "pstat", "shutter", "spectrometer", "matrix")
"""Emulated instruments whose output (SMU output, cell, shutter, laser, crosspoints) must end off."""

FAST = {"iv_pairs": "[S-D]", "iv_points": "11", "map_points": "5", "rest_s": "10"}
"""Overrides that keep the shipped Si protocol short in tests."""


def outputs_on(bench: Any) -> dict[str, bool]:
    return {name: bench.output_on(name) for name in OUTPUTS if bench.output_on(name)}


def station_file(bench: Any, tmp: Path) -> Path:
    return bench.write_station(tmp / "station.yaml")


def plan_for(bench: Any, tmp: Path, protocol: str, overrides: dict[str, str] | None = None) -> Plan:
    view = StationView.from_file(station_file(bench, tmp))
    if "\n" in protocol:
        return expand(parse_protocol(textwrap.dedent(protocol), "test.yaml"), view)
    return expand(load_protocol(protocol_path(protocol), overrides), view)


def run(
    bench: Any, tmp: Path, protocol: str, overrides: dict[str, str] | None = None, **kw: Any
) -> tuple[Store, Any]:
    store = Store.open(tmp / "runs.db")
    plan = plan_for(bench, tmp, protocol, overrides)
    return store, run_plan(plan, store, **kw)


def g0(store: Store, run_id: int, label: str, pair: str = "S-D") -> float:
    """Zero-bias conductance (S) of the I-V step labelled ``label``: slope of I(V) over the three voltages
    nearest 0 V."""
    (step,) = [s for s in store.steps(run_id) if s.kind == "iv" and s.label == label]
    iv = store.iv(run_id, step_id=step.id)
    window = np.sort(np.unique(np.round(np.abs(iv.V), 9)))[1] + 1e-9
    sel = (np.abs(iv.V) <= window) & (np.asarray(iv.pair) == pair)
    return float(np.polyfit(iv.V[sel], iv.I[sel], 1)[0])


def nonlinearity(store: Store, run_id: int, label: str) -> float:
    """dI/dV at the top of the sweep over the zero-bias slope."""
    (step,) = [s for s in store.steps(run_id) if s.kind == "iv" and s.label == label]
    iv = store.iv(run_id, step_id=step.id)
    v, i = np.asarray(iv.V), np.asarray(iv.I)
    top = np.abs(v) >= 0.8 * np.abs(v).max()
    pos = top & (v > 0)
    slope_hi = np.polyfit(v[pos], i[pos], 1)[0]
    return float(slope_hi / g0(store, run_id, label))
