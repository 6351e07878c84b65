"""Analysis of nanowire-battery runs: cycling, I-V, Raman maps, the checkpoint time line, exports and report.

Pure functions work on numpy arrays / DataFrames (``cycling``, ``iv``, ``raman``, ``raman_map``,
``correlation``). Raman, one spectrum: ``fit_si(axis, counts, noise=NoiseModel(gain, read))`` (weighted
c-Si + a-Si fit, errors, Xc or its upper limit ``xc_upper``), ``estimate_noise``, ``remove_spikes``,
``combine_frames`` (two or more read-outs of one pixel), ``reference_offset`` (Si reference -> axis offset);
one map: ``fit_map`` (a pixel table), ``map_summary`` ("k of N pixels have a significant c-Si peak; Xc ..."),
``map_grid``, ``profile_along_wire``; ``run_analysis.analyze_run`` computes them all for a stored run and
stores the results back; ``notebook.open_db`` is the entry point for notebooks; ``export`` and ``report``
write files.
"""

from __future__ import annotations

from nanocell_daq.analysis.cycling import HalfCycle, cycle_table, dqdv, half_cycle, half_cycles_from_points
from nanocell_daq.analysis.iv import IVMetrics, iv_metrics, iv_table
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

__all__ = [
    "AnalysisParams",
    "Database",
    "HalfCycle",
    "IVMetrics",
    "NoiseModel",
    "RunAnalysis",
    "RunView",
    "SiFit",
    "analyze_run",
    "combine_frames",
    "crystalline_fraction",
    "cycle_table",
    "dqdv",
    "estimate_noise",
    "fit_map",
    "fit_si",
    "half_cycle",
    "half_cycles_from_points",
    "iv_metrics",
    "iv_table",
    "map_grid",
    "map_summary",
    "open_db",
    "profile_along_wire",
    "reference_offset",
    "remove_spikes",
    "subtract_baseline",
    "xc_upper_limit",
]
