"""Plain read-only records the store returns (no SQLAlchemy objects leak out of the store)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class DeviceInfo:
    """A device row: chip name, wire description, materials, dimensions (nm/um), contacts (pads)."""

    id: int
    chip: str
    wire: str
    materials: dict[str, Any]
    dimensions: dict[str, Any]
    contacts: dict[str, Any]
    extra: dict[str, Any]


@dataclass(frozen=True)
class RunSummary:
    """One line of ``nanocell runs``."""

    id: int
    uuid: str
    started: dt.datetime
    ended: dt.datetime | None
    status: str
    device: str | None
    protocol_name: str
    n_steps: int

    def as_json(self) -> dict[str, Any]:
        """JSON-ready dict (times as ISO 8601 UTC)."""
        return {
            "id": self.id,
            "uuid": self.uuid,
            "started": self.started.isoformat(),
            "ended": None if self.ended is None else self.ended.isoformat(),
            "status": self.status,
            "device": self.device,
            "protocol_name": self.protocol_name,
            "steps": self.n_steps,
        }


@dataclass(frozen=True)
class RunInfo:
    """Everything about one run."""

    id: int
    uuid: str
    device_id: int | None
    protocol_name: str
    protocol_text: str
    station: dict[str, Any]
    software_version: str
    operator: str | None
    started: dt.datetime
    ended: dt.datetime | None
    status: str
    reason: str | None


@dataclass(frozen=True)
class ProvenanceInfo:
    """One session of a run (the start, then each resume): what ran it, where, by whom, on what files."""

    run_id: int
    session: int
    kind: str
    recorded: dt.datetime
    software_version: str
    git_commit: str | None
    git_dirty: bool | None
    python: str
    libraries: dict[str, Any]
    host: str
    pid: int | None
    command: str
    operator: str | None
    station_path: str | None
    station_text: str
    device: str | None
    protocol_name: str
    protocol_path: str | None
    protocol_text: str
    overrides: dict[str, Any]


@dataclass(frozen=True)
class StepInfo:
    """One step of a run; ``parameters`` as given to ``start_step``."""

    id: int
    run_id: int
    index: int
    kind: str
    parameters: dict[str, Any]
    started: dt.datetime | None
    ended: dt.datetime | None
    status: str
    cycle: int | None
    label: str | None


@dataclass(frozen=True)
class Progress:
    """Where a run is: current step text, fraction done (0..1), estimated time left (s) if known."""

    run_id: int
    step_label: str
    fraction: float
    eta_s: float | None
    updated: dt.datetime


@dataclass(frozen=True)
class ControlRequest:
    """A pause/resume/abort request; ``acknowledged`` is None while pending."""

    id: int
    run_id: int
    action: str
    requested_by: str | None
    requested: dt.datetime
    acknowledged: dt.datetime | None
    note: str | None


@dataclass(frozen=True)
class EventInfo:
    """One log line of a run."""

    id: int
    run_id: int | None
    step_id: int | None
    time: dt.datetime
    level: str
    message: str


@dataclass(frozen=True)
class MapGrid:
    """A rectangular map: origin and pitch (um); pixel index = iy * nx + ix."""

    id: int
    run_id: int
    step_id: int | None
    x0_um: float
    y0_um: float
    z_um: float
    dx_um: float
    dy_um: float
    nx: int
    ny: int
    label: str | None


@dataclass(frozen=True)
class DerivedResult:
    """A stored analysis result (recomputable): JSON ``value`` for (run, kind, params)."""

    id: int
    run_id: int
    kind: str
    params: dict[str, Any]
    value: Any
    software_version: str
    created: dt.datetime


def _empty(dtype: Any = np.float64) -> np.ndarray:
    return np.empty(0, dtype=dtype)


@dataclass(frozen=True)
class CyclingData:
    """Cycling points as numpy arrays: t (s), E (V), I (A), Q (C) and their step ids, in append order.

    ``last_id`` is the cursor for ``Store.cycling_since`` (points are stored in blocks, so a single point
    has no id of its own).
    """

    step_id: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    t: np.ndarray = field(default_factory=_empty)
    E: np.ndarray = field(default_factory=_empty)
    I: np.ndarray = field(default_factory=_empty)  # noqa: E741 - the electrochemists' name
    Q: np.ndarray = field(default_factory=_empty)
    last_id: int = 0

    def __len__(self) -> int:
        return len(self.t)

    def frame(self) -> pd.DataFrame:
        """Columns step_id, t, E, I, Q."""
        return pd.DataFrame({"step_id": self.step_id, "t": self.t, "E": self.E, "I": self.I, "Q": self.Q})


@dataclass(frozen=True)
class IVData:
    """I-V points: V (V), I (A), direction ("up"/"down"), pair ("S-D"), t (s, NaN if not given)."""

    id: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    step_id: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    V: np.ndarray = field(default_factory=_empty)
    I: np.ndarray = field(default_factory=_empty)  # noqa: E741
    direction: np.ndarray = field(default_factory=lambda: _empty(object))
    pair: np.ndarray = field(default_factory=lambda: _empty(object))
    t: np.ndarray = field(default_factory=_empty)
    last_id: int = 0

    def __len__(self) -> int:
        return len(self.id)

    def frame(self) -> pd.DataFrame:
        """Columns id, step_id, V, I, direction, pair, t."""
        return pd.DataFrame(
            {
                "id": self.id,
                "step_id": self.step_id,
                "V": self.V,
                "I": self.I,
                "direction": self.direction,
                "pair": self.pair,
                "t": self.t,
            }
        )


@dataclass(frozen=True)
class SpectraData:
    """Spectra: ``counts`` (n, m) float32 on ``axis`` (m,) cm-1, stage positions (um), exposure (s).

    ``grid_id`` and ``pixel`` are -1 where a spectrum belongs to no map; ``t`` is NaN where not given.
    """

    id: np.ndarray
    step_id: np.ndarray
    counts: np.ndarray
    axis: np.ndarray
    axis_id: np.ndarray
    x_um: np.ndarray
    y_um: np.ndarray
    z_um: np.ndarray
    exposure_s: np.ndarray
    grid_id: np.ndarray
    pixel: np.ndarray
    t: np.ndarray
    last_id: int = 0

    def __len__(self) -> int:
        return len(self.id)

    def frame(self) -> pd.DataFrame:
        """One row per spectrum (without the counts): id, step_id, x_um, y_um, z_um, exposure_s, ..."""
        return pd.DataFrame(
            {
                "id": self.id,
                "step_id": self.step_id,
                "x_um": self.x_um,
                "y_um": self.y_um,
                "z_um": self.z_um,
                "exposure_s": self.exposure_s,
                "axis_id": self.axis_id,
                "grid_id": self.grid_id,
                "pixel": self.pixel,
                "t": self.t,
            }
        )
