"""Analysis of nanowire-battery runs: cycling, I-V, Raman maps, the checkpoint time line, exports and report.

Pure functions work on numpy arrays / DataFrames (``cycling``, ``iv``, ``iv_fit``, ``segments``, ``raman``,
``raman_map``, ``correlation``). For one I-V sweep: :func:`iv_metrics` (every metric) or :func:`fit_g0` (G0
with its error, or an upper limit); for one half-cycle: :func:`half_cycle`. Raman, one spectrum:
``fit_si(axis, counts, noise=NoiseModel(gain, read))`` (weighted c-Si + a-Si fit, errors, Xc or its upper
limit ``xc_upper``), ``estimate_noise``, ``remove_spikes``, ``combine_frames`` (two or more read-outs of one
pixel), ``reference_offset`` (Si reference -> axis offset); one map: ``fit_map`` (a pixel table),
``map_summary`` ("k of N pixels have a significant c-Si peak; Xc ..."), ``map_grid``, ``profile_along_wire``.
For one stored run: :func:`analyze_run` computes them all and stores the results back; ``notebook.open_db``
is the entry point for notebooks; ``export`` and ``report`` write files.
"""

from __future__ import annotations

from nanocell_daq.analysis.cycling import (
    HalfCycle,
    coulombic_flags,
    cycle_table,
    dqdv,
    half_cycle,
    half_cycles_from_points,
    overshoots,
    soc_before_steps,
    step_charge,
)
from nanocell_daq.analysis.iv import IVMetrics, g0_text, iv_metrics, iv_table
from nanocell_daq.analysis.iv_fit import G0Fit, b2b_current, b2b_g0, fit_g0
from nanocell_daq.analysis.notebook import Database, RunView, open_db
from nanocell_daq.analysis.raman import (
    NoiseModel,
    SiFit,
    crystalline_fraction,
    estimate_noise,
    fit_si,
    reference_offset,
    xc_upper_limit,
)
from nanocell_daq.analysis.raman_map import fit_map, map_grid, map_summary, profile_along_wire
from nanocell_daq.analysis.raman_preprocess import combine_frames, remove_spikes, subtract_baseline
from nanocell_daq.analysis.run_analysis import AnalysisParams, RunAnalysis, analyze_run
from nanocell_daq.analysis.segments import ContactSplit, contact_split, pad_positions, segment_table

__all__ = [
    "AnalysisParams",
    "ContactSplit",
    "Database",
    "G0Fit",
    "HalfCycle",
    "IVMetrics",
    "NoiseModel",
    "RunAnalysis",
    "RunView",
    "SiFit",
    "analyze_run",
    "b2b_current",
    "b2b_g0",
    "combine_frames",
    "contact_split",
    "coulombic_flags",
    "crystalline_fraction",
    "cycle_table",
    "dqdv",
    "estimate_noise",
    "fit_g0",
    "fit_map",
    "fit_si",
    "g0_text",
    "half_cycle",
    "half_cycles_from_points",
    "iv_metrics",
    "iv_table",
    "map_grid",
    "map_summary",
    "open_db",
    "overshoots",
    "pad_positions",
    "profile_along_wire",
    "reference_offset",
    "remove_spikes",
    "segment_table",
    "soc_before_steps",
    "step_charge",
    "subtract_baseline",
    "xc_upper_limit",
]
