"""A small API for notebooks: open a run database, pick a run, get DataFrames, arrays and the analysis.

from nanocell_daq.analysis import open_db
db = open_db("runs.db")
db.runs()                      # DataFrame, one row per run
run = db.run(3)
run.cycling()                  # DataFrame: step_id, t_s, voltage_V, current_A, charge_C, kind, label, cycle
run.iv()                       # DataFrame: step_id, voltage_V, current_A, direction, pair, t_s, label, cycle
run.spectra(step_id)           # SpectraData: counts (n, m) float32, axis (m,) cm-1, x_um, y_um, ...
run.analysis(y=0.8)            # RunAnalysis: checkpoints, half_cycles, cycle_table, iv_table, maps, ...
run.to_xarray()                # xarray.Dataset (units per variable); run.to_netcdf("run.nc")
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from nanocell_daq.analysis.run_analysis import (
    AnalysisParams,
    RunAnalysis,
    analyze_run,
    load_run_or_fail,
    run_context,
    steps_frame,
)


class RunView:
    """One run of a :class:`Database`: its info, steps, data points and analysis."""

    def __init__(self, store: Any, run_id: int | str) -> None:
        self._store = store
        self._info = load_run_or_fail(store, run_id)
        self.id = int(self._info.id)
        self.header, self.nominal_capacity_Ah, self.wire = run_context(store, self._info)

    def __repr__(self) -> str:
        h = self.header
        return f"<run {self.id} {h['status']}: {h['protocol_name']!r} on {h['device']!r}>"

    @property
    def info(self) -> dict[str, Any]:
        """Run id, uuid, protocol, status, device, times, operator, reason."""
        return dict(self.header)

    @property
    def station(self) -> dict[str, Any]:
        """The station snapshot recorded with the run."""
        return dict(self._info.station or {})

    @property
    def protocol_text(self) -> str:
        return self._info.protocol_text

    def steps(self) -> pd.DataFrame:
        """One row per step: step_id, index, kind, label, cycle, status, time_s (since run start), times."""
        return steps_frame(self._store.steps(self.id), self._info.started, self._store.step_times(self.id))

    def _with_steps(self, frame: pd.DataFrame) -> pd.DataFrame:
        meta = self.steps()[["step_id", "kind", "label", "cycle"]]
        return frame.merge(meta, on="step_id", how="left")

    def cycling(self, step_id: int | None = None) -> pd.DataFrame:
        """Cycling points: t_s (engine clock, s), voltage_V, current_A, charge_C, step kind/label/cycle."""
        d = self._store.cycling(self.id, step_id)
        frame = pd.DataFrame(
            {"step_id": d.step_id, "t_s": d.t, "voltage_V": d.E, "current_A": d.I, "charge_C": d.Q}
        )
        return self._with_steps(frame)

    def iv(self, step_id: int | None = None) -> pd.DataFrame:
        """I-V points: voltage_V, current_A, direction, pair, t_s, with step kind/label/cycle."""
        d = self._store.iv(self.id, step_id)
        frame = pd.DataFrame(
            {
                "step_id": d.step_id,
                "voltage_V": d.V,
                "current_A": d.I,
                "direction": d.direction,
                "pair": d.pair,
                "t_s": d.t,
            }
        )
        return self._with_steps(frame)

    def spectra(self, step_id: int | None = None) -> Any:
        """Spectra (``SpectraData``: counts (n, m) float32, axis cm-1, x_um, y_um, z_um, pixel, ...).

        Pass ``step_id`` when the run's maps use different axes.
        """
        return self._store.spectra(self.id, step_id=step_id)

    def events(self) -> pd.DataFrame:
        """The run's log: time, level, message, step_id."""
        rows = [
            {"time": e.time, "level": e.level, "message": e.message, "step_id": e.step_id}
            for e in self._store.events(self.id)
        ]
        return pd.DataFrame(rows, columns=["time", "level", "message", "step_id"])

    def to_xarray(self) -> Any:
        """The run as an ``xarray.Dataset``: cycling, I-V and each Raman step's spectra, with units and
        clocks as attributes (see :mod:`nanocell_daq.analysis.xarray_view`)."""
        from nanocell_daq.analysis.xarray_view import run_dataset

        return run_dataset(self._store, self.id, self.header, self.protocol_text, self.station)

    def to_netcdf(self, path: str | os.PathLike[str]) -> Any:
        """Write :meth:`to_xarray` as a NetCDF-4 file (h5netcdf engine); returns the path."""
        from nanocell_daq.analysis.xarray_view import write_netcdf

        return write_netcdf(self.to_xarray(), path)

    def analysis(self, y: float = 0.8, *, params: AnalysisParams | None = None, **kw: Any) -> RunAnalysis:
        """:func:`~nanocell_daq.analysis.run_analysis.analyze_run` for this run (cached in the database)."""
        return analyze_run(self._store, self.id, y, params=params, **kw)


class Database:
    """A run database opened for reading and analysis (results are stored back as derived results)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"<Database {self.store.location.shown}>"

    def runs(self) -> pd.DataFrame:
        """One row per run: id, uuid, started, ended, status, device, protocol_name, steps."""
        rows = [r.as_json() for r in self.store.runs()]
        frame = pd.DataFrame(
            rows, columns=["id", "uuid", "started", "ended", "status", "device", "protocol_name", "steps"]
        )
        for col in ("started", "ended"):
            frame[col] = pd.to_datetime(frame[col], utc=True)
        return frame

    def run(self, run_id: int | str) -> RunView:
        """A run by id or uuid (UserError if there is none)."""
        return RunView(self.store, run_id)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_db(path: str | os.PathLike[str]) -> Database:
    """Open an existing run database (path or SQLAlchemy URL); UserError if it does not exist."""
    from nanocell_daq.storage import Store

    return Database(Store.open(path, create=False))
