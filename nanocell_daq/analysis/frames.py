"""DataFrame <-> JSON for derived results (NaN stored as null so any SQL JSON column accepts it)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars/arrays to Python, NaN/inf to None, tuples to lists, recursively."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NaT:
        return None
    return value


def frame_to_json(frame: pd.DataFrame) -> dict[str, Any]:
    """{"columns": [...], "data": [[row], ...]} with NaN as null."""
    return {
        "columns": [str(c) for c in frame.columns],
        "data": jsonable(frame.to_numpy(dtype=object).tolist()),
    }


def frame_from_json(value: dict[str, Any] | None) -> pd.DataFrame:
    """Inverse of :func:`frame_to_json`; null becomes NaN in numeric columns."""
    if not value:
        return pd.DataFrame()
    frame = pd.DataFrame(value["data"], columns=value["columns"])
    for col in frame.columns:
        if frame[col].dtype == object:
            converted = pd.to_numeric(frame[col], errors="coerce")
            if converted.notna().sum() == frame[col].notna().sum() and frame[col].notna().any():
                frame[col] = converted
            elif not frame[col].notna().any():
                frame[col] = np.nan
    return frame
