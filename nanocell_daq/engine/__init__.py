"""The run engine: protocol files, plans checked against a station, and safe, resumable runs.

``load_protocol`` parses a protocol (``protocol``), ``expand`` checks it against a station and flattens it
(``plan``), ``Engine`` runs a plan on an opened station into the store (``runner``), ``resume_run`` continues
a killed or aborted run (``resume``). Steps live in the top-level ``procedures`` package.
"""

from __future__ import annotations

from nanocell_daq.engine.plan import Plan, PlanItem, expand, plan_table
from nanocell_daq.engine.protocol import Protocol, load_protocol, parse_protocol, shipped_protocols
from nanocell_daq.engine.resume import resume_run
from nanocell_daq.engine.runner import Engine, RunResult
from nanocell_daq.engine.service import make_plan, run_plan
from nanocell_daq.engine.stationview import StationView

__all__ = [
    "Engine",
    "Plan",
    "PlanItem",
    "Protocol",
    "RunResult",
    "StationView",
    "expand",
    "load_protocol",
    "make_plan",
    "parse_protocol",
    "plan_table",
    "resume_run",
    "run_plan",
    "shipped_protocols",
]
