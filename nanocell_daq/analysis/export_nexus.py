"""NeXus (HDF5) export following the NXraman application definition, with the run's electrical data.

NXraman (NeXus definitions, applications/NXraman.nxdl.xml; extends NXoptical_spectroscopy) asks in its
NXentry for ``definition`` = "NXraman", ``experiment_type`` = "Raman spectroscopy",
``raman_experiment_type`` (here "in situ Raman spectroscopy"), an NXinstrument with
``scattering_configuration`` (Porto notation), an NXbeam ``beam_incident`` with ``wavelength``, and from
NXoptical_spectroscopy at least one NXdetector (``detector_channel_type``) and a start or end time.

Layout: ``/entry`` (NXentry, NXraman) with ``instrument``, ``sample``, one NXdata per Raman step
(``raman_step_<N>``: ``counts`` (spectrum, wavenumber) with the Raman shift axis and the stage coordinates of
each spectrum) and ``data`` linking the first of them; ``cycling`` (NXdata: voltage vs engine-clock time, with
current and step charge) and one NXdata per I-V step (``iv_step_<N>``: current vs voltage). The run's
protocol (as run), station snapshot and provenance (JSON) are NXnote groups; ``program_name`` (with the
version and, for a source install, the git commit as ``configuration``), ``user`` (NXuser: the operator),
``station_file`` and ``protocol_file`` (NXnote: the files as read, the ``--set`` overrides as given) and
``provenance_fields`` (NXcollection: one text field per provenance item) say where the data came from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nanocell_daq.analysis.frames import jsonable

NXRAMAN_URL = "https://manual.nexusformat.org/classes/applications/NXraman.html"


def laser_wavelength_nm(station: Any) -> float | None:
    """The excitation wavelength (nm) found in the station snapshot (``wavelength_nm`` or
    ``laser_wavelength_nm`` at any depth), or None."""
    stack = [station]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
                if key in ("laser_wavelength_nm", "wavelength_nm") and is_number and value > 0:
                    return float(value)
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _group(parent: Any, name: str, nx_class: str) -> Any:
    g = parent.create_group(name)
    g.attrs["NX_class"] = nx_class
    return g


def _field(group: Any, name: str, data: Any, units: str | None = None, **attrs: Any) -> Any:
    if isinstance(data, str):
        import h5py

        ds = group.create_dataset(name, data=data, dtype=h5py.string_dtype())
    else:
        ds = group.create_dataset(name, data=data)
    if units:
        ds.attrs["units"] = units
    for key, value in attrs.items():
        ds.attrs[key] = value
    return ds


def _note(parent: Any, name: str, text: str, mime: str) -> None:
    g = _group(parent, name, "NXnote")
    _field(g, "type", mime)
    _field(g, "data", text)


def _raman(entry: Any, sid: int, axis: np.ndarray, counts: np.ndarray, meta: pd.DataFrame, label: str) -> Any:
    g = _group(entry, f"raman_step_{sid}", "NXdata")
    g.attrs["signal"] = "counts"
    g.attrs["axes"] = [".", "wavenumber"]
    g.attrs["wavenumber_indices"] = 1
    for name in ("x", "y", "z", "time"):
        g.attrs[f"{name}_indices"] = 0
    g.attrs["title"] = f"step {sid}: {label}" if label else f"step {sid}"
    _field(g, "counts", counts, "counts", long_name="CCD counts")
    _field(g, "wavenumber", axis, "1/cm", long_name="Raman shift")
    _field(g, "x", meta["x_um"].to_numpy(dtype=np.float64), "um", long_name="stage x")
    _field(g, "y", meta["y_um"].to_numpy(dtype=np.float64), "um", long_name="stage y")
    _field(g, "z", meta["z_um"].to_numpy(dtype=np.float64), "um", long_name="stage z")
    _field(g, "time", meta["t_s"].to_numpy(dtype=np.float64), "s",
           long_name="engine clock, s since run start")
    _field(g, "exposure_time", meta["exposure_s"].to_numpy(dtype=np.float64), "s")
    _field(g, "pixel", meta["pixel"].to_numpy(dtype=np.int64))
    return g


def _provenance(entry: Any, prov: dict[str, Any], operator: str) -> None:
    """program_name, NXuser, the station and protocol files as NXnote, the fields as an NXcollection."""
    from nanocell_daq.provenance import NOT_A_CHECKOUT, UNKNOWN, attributes

    sw = prov.get("software") or {}
    attrs = {"version": str(sw.get("version", UNKNOWN))}
    if sw.get("git_commit") not in (None, UNKNOWN, NOT_A_CHECKOUT):
        changes = " (local changes)" if sw.get("git_dirty") is True else ""
        attrs["configuration"] = f"git {sw['git_commit']}{changes}"
    _field(entry, "program_name", "nanocell-daq", **attrs)
    user = _group(entry, "user", "NXuser")
    _field(user, "name", operator or str(prov.get("operator") or UNKNOWN))
    _field(user, "role", "operator")
    if not prov.get("station"):
        return
    _note(entry, "station_file", str(prov["station"]["text"]), "application/yaml")
    entry["station_file"].attrs["file_name"] = str(prov["station"]["path"])
    protocol = prov["protocol"]
    _note(entry, "protocol_file", str(protocol["text"]), "application/yaml")
    entry["protocol_file"].attrs["file_name"] = str(protocol["path"])
    entry["protocol_file"].attrs["overrides"] = json.dumps(protocol["overrides"], ensure_ascii=False)
    fields = _group(entry, "provenance_fields", "NXcollection")
    for key, value in attributes(prov, prefix="").items():
        _field(fields, key, value)


def write_nexus(tables: Any, path: Path, provenance: dict[str, Any]) -> Path:
    """Write the run (``RunTables`` of export.collect) as a NeXus/HDF5 file at ``path``."""
    import h5py

    run = tables.tables["run"].iloc[0].to_dict()
    steps = tables.tables["steps"].set_index("step_id")
    label = steps["label"].to_dict() if len(steps) else {}
    with h5py.File(path, "w") as f:
        f.attrs["NX_class"] = "NXroot"
        f.attrs["default"] = "entry"
        f.attrs["creator"] = "nanocell-daq"
        entry = _group(f, "entry", "NXentry")
        _field(entry, "definition", "NXraman", version="NXraman", URL=NXRAMAN_URL)
        _field(entry, "title", f"run {tables.run_id}: {run.get('protocol_name', '')}")
        _field(entry, "experiment_type", "Raman spectroscopy")
        _field(entry, "raman_experiment_type", "in situ Raman spectroscopy")
        _field(entry, "entry_identifier", str(run.get("uuid", "")))
        if run.get("started"):
            _field(entry, "start_time", str(run["started"]))
        if run.get("ended"):
            _field(entry, "end_time", str(run["ended"]))
        _provenance(entry, provenance, str(run.get("operator") or ""))

        inst = _group(entry, "instrument", "NXinstrument")
        # a Raman microscope in backscattering along the sample normal; polarization is not analysed
        _field(inst, "scattering_configuration", "z(..)z")
        beam = _group(inst, "beam_incident", "NXbeam")
        wl = laser_wavelength_nm(tables.station)
        reliability = "nominal" if wl is not None else "not recorded in the station snapshot"
        _field(beam, "wavelength", np.nan if wl is None else wl, "nm")
        _field(beam, "incident_wavelength", np.nan if wl is None else wl, "nm")
        _field(beam, "parameter_reliability", reliability)
        det = _group(inst, "detector_ccd", "NXdetector")
        _field(det, "detector_channel_type", "multichannel")
        _field(det, "detector_type", "CCD")

        sample = _group(entry, "sample", "NXsample")
        _field(sample, "name", str(run.get("device") or "unknown chip"))
        if run.get("wire"):
            _field(sample, "description", str(run["wire"]))

        first = None
        for sid, (axis, counts, meta) in tables.spectra.items():
            g = _raman(entry, sid, axis, counts, meta, str(label.get(sid, "")))
            first = first or g.name
        if first is not None:
            entry["data"] = f[first]  # hard link: NXoptical_spectroscopy's NXdata, the first map
            entry.attrs["default"] = "data"

        cyc = tables.tables["cycling_points"]
        if len(cyc):
            g = _group(entry, "cycling", "NXdata")
            g.attrs["signal"], g.attrs["axes"] = "voltage", ["time"]
            g.attrs["time_indices"] = 0
            _field(g, "voltage", cyc["E_V"].to_numpy(dtype=np.float64), "V", long_name="cell potential")
            _field(g, "time", cyc["t_s"].to_numpy(dtype=np.float64), "s",
                   long_name="engine clock, s since run start")
            _field(g, "current", cyc["I_A"].to_numpy(dtype=np.float64), "A")
            _field(g, "charge", cyc["Q_C"].to_numpy(dtype=np.float64), "C",
                   long_name="charge passed since the step started")
            _field(g, "step_id", cyc["step_id"].to_numpy(dtype=np.int64))
        iv = tables.tables["iv_points"]
        for sid, part in iv.groupby("step_id", sort=False):
            g = _group(entry, f"iv_step_{int(sid)}", "NXdata")
            g.attrs["signal"], g.attrs["axes"] = "current", ["voltage"]
            g.attrs["voltage_indices"] = 0
            g.attrs["title"] = f"I-V step {int(sid)}: {label.get(int(sid), '')}"
            _field(g, "current", part["I_A"].to_numpy(dtype=np.float64), "A",
                   long_name="source/drain current")
            _field(g, "voltage", part["V_V"].to_numpy(dtype=np.float64), "V", long_name="source/drain bias")
            _field(g, "time", part["t_s"].to_numpy(dtype=np.float64), "s",
                   long_name="engine clock, s since run start")
            _field(g, "pair", [str(p).encode() for p in part["pair"]])
            _field(g, "direction", [str(d).encode() for d in part["direction"]])

        _note(entry, "protocol", tables.protocol_text, "application/yaml")
        _note(entry, "station", json.dumps(jsonable(tables.station), ensure_ascii=False), "application/json")
        _note(entry, "provenance", json.dumps(jsonable(provenance), ensure_ascii=False), "application/json")
    return path
