"""A run as an ``xarray.Dataset`` (what QCoDeS users expect), writable to NetCDF with ``h5netcdf``.

Dimensions: ``cycling_point`` (the cell: voltage, current, step charge against the engine-clock time),
``iv_point`` (the wire's source/drain sweeps), and per Raman step ``spectrum_step<N>`` x
``wavenumber_step<N>`` (steps may use different axes). Every variable carries ``units`` and ``long_name``;
time coordinates say their clock in ``clock``. Run info, protocol text, the station snapshot and the
run's provenance (``provenance_*``: software, git commit, host, operator, station and protocol files,
``--set`` overrides, analysis parameters) are dataset attributes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from nanocell_daq.analysis.frames import jsonable

ENGINE_CLOCK = "engine clock: experiment seconds since the run started"


def _var(dims: Any, data: Any, units: str, long_name: str, **attrs: Any) -> tuple:
    meta = {"long_name": long_name, **attrs}
    if units:
        meta["units"] = units
    return dims, data, meta


def run_dataset(store: Any, run_id: int, header: dict[str, Any], protocol_text: str, station: dict) -> Any:
    """The Dataset of one stored run (see the module doc)."""
    import xarray as xr

    c = store.cycling(run_id)
    iv = store.iv(run_id)
    data_vars: dict[str, Any] = {
        "voltage": _var("cycling_point", np.asarray(c.E, dtype=np.float64), "V", "cell potential"),
        "current": _var("cycling_point", np.asarray(c.I, dtype=np.float64), "A", "cell current"),
        "charge": _var("cycling_point", np.asarray(c.Q, dtype=np.float64), "C",
                       "charge passed since the step started"),
        "iv_current": _var("iv_point", np.asarray(iv.I, dtype=np.float64), "A", "source/drain current"),
    }
    coords: dict[str, Any] = {
        "time": _var("cycling_point", np.asarray(c.t, dtype=np.float64), "s", "time", clock=ENGINE_CLOCK),
        "step_id": ("cycling_point", np.asarray(c.step_id, dtype=np.int64)),
        "iv_voltage": _var("iv_point", np.asarray(iv.V, dtype=np.float64), "V", "source/drain bias"),
        "iv_time": _var("iv_point", np.asarray(iv.t, dtype=np.float64), "s", "time", clock=ENGINE_CLOCK),
        "iv_step_id": ("iv_point", np.asarray(iv.step_id, dtype=np.int64)),
        "iv_direction": ("iv_point", np.asarray(iv.direction).astype(str)),
        "iv_pair": ("iv_point", np.asarray(iv.pair).astype(str)),
    }
    for s in store.steps(run_id):
        sp = store.spectra(run_id, step_id=s.id)
        if len(sp) == 0:
            continue
        n, w = f"spectrum_step{s.id}", f"wavenumber_step{s.id}"
        data_vars[f"counts_step{s.id}"] = _var(
            (n, w), np.asarray(sp.counts, dtype=np.float32), "counts", f"Raman spectra of step {s.id}",
            step_label=s.label or "",
        )
        coords[w] = _var(w, np.asarray(sp.axis, dtype=np.float64), "1/cm", "Raman shift")
        for name, values, unit in (("x", sp.x_um, "um"), ("y", sp.y_um, "um"), ("z", sp.z_um, "um")):
            coords[f"{name}_step{s.id}"] = _var(
                n, np.asarray(values, dtype=np.float64), unit, f"stage {name}"
            )
        coords[f"time_step{s.id}"] = _var(n, np.asarray(sp.t, dtype=np.float64), "s", "time",
                                         clock=ENGINE_CLOCK)
    attrs = {
        "title": f"nanocell-daq run {run_id}",
        "run": json.dumps(jsonable({k: _iso(v) for k, v in header.items()}), ensure_ascii=False),
        "protocol_text": protocol_text,
        "station_json": json.dumps(jsonable(station), ensure_ascii=False),
    }
    from nanocell_daq.provenance import of_run

    attrs.update(xarray_attributes(of_run(store, run_id)))
    return xr.Dataset(data_vars=data_vars, coords=coords, attrs=attrs)


def xarray_attributes(prov: dict[str, Any]) -> dict[str, str]:
    """The run's provenance as text attributes ``provenance_*`` (software, git commit, host, operator,
    station and protocol texts, ``--set`` overrides, analysis parameters); the whole record as JSON only
    once, in ``provenance_json`` without the texts already given."""
    from nanocell_daq.provenance import attributes

    lean = {**prov, "sessions": [{k: v for k, v in s.items() if not k.endswith("_text")}
                                 for s in prov.get("sessions", [])]}
    return attributes(lean)


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def write_netcdf(dataset: Any, path: str | Path) -> Path:
    """Write ``dataset`` as NetCDF-4 through h5netcdf (no netCDF C library needed)."""
    dataset.to_netcdf(path, engine="h5netcdf")
    return Path(path)
