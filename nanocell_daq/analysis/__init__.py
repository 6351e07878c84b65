"""Analysis of nanowire-battery runs: cycling, I-V, Raman maps, the checkpoint time line, exports and report.

Pure functions work on numpy arrays / DataFrames (``cycling``, ``iv``, ``raman``, ``raman_map``,
``correlation``); ``run_analysis.analyze_run`` computes them all for a stored run and stores the results back;
``notebook.open_db`` is the entry point for notebooks; ``export`` and ``report`` write files.
"""

from __future__ import annotations

from nanocell_daq.analysis.cycling import HalfCycle, cycle_table, dqdv, half_cycle, half_cycles_from_points
from nanocell_daq.analysis.iv import IVMetrics, iv_metrics, iv_table
from nanocell_daq.analysis.notebook import Database, RunView, open_db
from nanocell_daq.analysis.raman import SiFit, crystalline_fraction, fit_si
from nanocell_daq.analysis.raman_map import fit_map, map_grid, map_summary, profile_along_wire
from nanocell_daq.analysis.raman_preprocess import remove_spikes, subtract_baseline
from nanocell_daq.analysis.run_analysis import AnalysisParams, RunAnalysis, analyze_run

__all__ = [
    "AnalysisParams",
    "Database",
    "HalfCycle",
    "IVMetrics",
    "RunAnalysis",
    "RunView",
    "SiFit",
    "analyze_run",
    "crystalline_fraction",
    "cycle_table",
    "dqdv",
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
    "remove_spikes",
    "subtract_baseline",
]
