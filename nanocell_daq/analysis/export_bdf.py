"""Battery Data Format (BDF) export of a run's cycling points: ``.bdf.csv``, ``.bdf.parquet`` and a sidecar.

The BDF (Battery Data Alliance, LF Energy; github.com/battery-data-alliance/battery-data-format, README
"Defining the BDF for Cycler Time-Series Data") fixes the column headers ("preferred labels") and their units:
required ``Test Time / s``, ``Voltage / V``, ``Current / A``; recommended ``Cycle Count / 1``,
``Step Count / 1``; optional ``Step Index / 1``, ``Step Capacity / Ah``, ``Power / W``. One file holds one
cell. Metadata goes to a parallel file (``<name>.bdf.metadata.json``, as in the spec's examples).

Only the cell's cycling points are time series of the cell; the wire's source/drain I-V sweeps and the Raman
spectra are not (they are in the csv/hdf5/nexus exports). ``Unix Time / s`` is not written: ``Test Time`` is
the engine clock, which a simulated bench runs faster than the wall clock, so run start + test time would not
be a true Unix time; the run's UTC start is in the sidecar instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nanocell_daq.analysis.frames import jsonable

SPEC = "https://github.com/battery-data-alliance/battery-data-format"
ONTOLOGY = "https://w3id.org/battery-data-alliance/ontology/battery-data-format#"
# preferred label -> machine-readable name (the spec's table)
COLUMNS = {
    "Test Time / s": "test_time_second",
    "Voltage / V": "voltage_volt",
    "Current / A": "current_ampere",
    "Cycle Count / 1": "cycle_count",
    "Step Count / 1": "step_count",
    "Step Index / 1": "step_index",
    "Step Capacity / Ah": "step_capacity_ah",
    "Power / W": "power_watt",
}
SUFFIXES = (".bdf.csv", ".bdf.parquet", ".bdf.metadata.json", ".bdf")


def bdf_stem(output: str | Path) -> Path:
    """``run1``, ``run1.bdf``, ``run1.bdf.csv`` or ``run1.bdf.parquet`` -> ``run1`` (the common stem)."""
    out = Path(output)
    for suffix in SUFFIXES:
        if out.name.endswith(suffix) and len(out.name) > len(suffix):
            return out.with_name(out.name[: -len(suffix)])
    return out


def bdf_frame(cycling: pd.DataFrame, steps: pd.DataFrame) -> pd.DataFrame:
    """The BDF table from the export's ``cycling_points`` (step_id, t_s, E_V, I_A, Q_C) and ``steps``.

    Cycle Count: the protocol's cycle of the step (0 before the first cycle); Step Count: 1-based count of
    the cycling steps in order; Step Index: 0-based position of the point within its step; Step Capacity:
    charge passed since the step started (signed like the current), in Ah.
    """
    info = steps.set_index("step_id")
    sid = cycling["step_id"].to_numpy()
    cycle = info["cycle"].reindex(sid).fillna(-1).to_numpy(dtype=np.int64)
    order = {s: k + 1 for k, s in enumerate(pd.unique(sid))}
    frame = pd.DataFrame(
        {
            "Test Time / s": cycling["t_s"].to_numpy(dtype=np.float64),
            "Voltage / V": cycling["E_V"].to_numpy(dtype=np.float64),
            "Current / A": cycling["I_A"].to_numpy(dtype=np.float64),
            "Cycle Count / 1": np.maximum(cycle, 0),
            "Step Count / 1": np.array([order[s] for s in sid], dtype=np.int64),
            "Step Index / 1": cycling.groupby("step_id").cumcount().to_numpy(dtype=np.int64),
            "Step Capacity / Ah": cycling["Q_C"].to_numpy(dtype=np.float64) / 3600.0,
        }
    )
    frame["Power / W"] = frame["Voltage / V"] * frame["Current / A"]
    return frame


def metadata(
    run: dict[str, Any], device: dict[str, Any] | None, provenance: dict[str, Any]
) -> dict[str, Any]:
    """The sidecar: what the columns are (with their ontology IRIs), the cell, the run and its provenance."""
    return {
        "format": "Battery Data Format (BDF)",
        "specification": SPEC,
        "columns": [
            {"label": label, "name": name, "iri": ONTOLOGY + name} for label, name in COLUMNS.items()
        ],
        "test_time_clock": (
            "engine clock: experiment seconds since the run started (a simulated bench runs it faster than "
            "the wall clock); the run's wall-clock start is run.started (UTC)"
        ),
        "step_capacity": "charge passed since the step started, signed like the current (C / 3600)",
        "cell": jsonable(device or {}),
        "run": jsonable(run),
        "provenance": jsonable(provenance),
    }


def write_bdf(
    cycling: pd.DataFrame,
    steps: pd.DataFrame,
    meta: dict[str, Any],
    output: str | Path,
) -> list[Path]:
    """Write ``<stem>.bdf.csv``, ``<stem>.bdf.parquet`` and ``<stem>.bdf.metadata.json``; return the paths."""
    stem = bdf_stem(output)
    frame = bdf_frame(cycling, steps)
    csv_path = stem.with_name(stem.name + ".bdf.csv")
    parquet_path = stem.with_name(stem.name + ".bdf.parquet")
    meta_path = stem.with_name(stem.name + ".bdf.metadata.json")
    frame.to_csv(csv_path, index=False)
    frame.to_parquet(parquet_path, index=False, engine="pyarrow")
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    return [csv_path, parquet_path, meta_path]
