"""Export every table of a run to CSV (a folder of files) or HDF5 (groups per table, units as attributes).

Tables: run, device, steps, cycling_points, iv_points, spectra (per map step: a 2-D counts array with its
wavenumber axis and stage coordinates), map_grids, events, derived_results and, from the analysis,
checkpoints, half_cycles, cycles, iv_metrics, segments (G0 per contact pair, its length and R = 1/G0) and
map_pixels. Column names carry their unit (``t_s``, ``E_V``, ``I_A``...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nanocell_daq.analysis.frames import jsonable
from nanocell_daq.analysis.run_analysis import (
    AnalysisParams,
    RunAnalysis,
    analyze_run,
    load_run_or_fail,
    run_context,
)
from nanocell_daq.errors import UserError

# every table of the run ("our" layout) ...
TABLE_FORMATS = ("csv", "hdf5")
# ... and the exchange formats other tools read (BDF for the cell's cycling, NeXus NXraman, JCAMP-DX per
# spectrum, xarray/NetCDF)
FORMATS = (*TABLE_FORMATS, "bdf", "nexus", "jcamp", "netcdf")
# what -o names for each format (a folder of files or one file / a file stem)
FOLDER_FORMATS = ("csv", "jcamp")
# the optional packages of the exchange formats (pyproject extra "exchange")
EXCHANGE_MODULES = ("pyarrow", "xarray", "h5netcdf")

# Units of the columns that have one (the rest are dimensionless or text).
UNITS = {
    "t_s": "s",
    "time_s": "s",
    "E_V": "V",
    "I_A": "A",
    "Q_C": "C",
    "V_V": "V",
    "x_um": "um",
    "y_um": "um",
    "z_um": "um",
    "exposure_s": "s",
    "wavenumber_cm1": "cm-1",
    "counts": "counts",
    "x0_um": "um",
    "y0_um": "um",
    "dx_um": "um",
    "dy_um": "um",
    "charge_passed_C": "C",
    "conductance_S": "S",
    "chord_conductance_S": "S",
    "high_bias_conductance_S": "S",
    "conductance_err_S": "S",
    "offset_A": "A",
    "g0_window_V": "V",
    "v_max_V": "V",
    "i_max_A": "A",
    "hysteresis_area_W": "W",
    "resistance_ohm": "ohm",
    "resistance_err_ohm": "ohm",
    "capacity_C": "C",
    "capacity_Ah": "Ah",
    "capacity_pAh": "pAh",
    "dqdv_C_per_V": "C/V",
    "mean_voltage_V": "V",
    "energy_J": "J",
    "energy_Wh": "Wh",
    "start_s": "s",
    "duration_s": "s",
    "v_start_V": "V",
    "v_end_V": "V",
    "mean_current_A": "A",
    "c_position": "cm-1",
    "c_position_err": "cm-1",
    "c_fwhm": "cm-1",
    "c_fwhm_err": "cm-1",
    "a_position": "cm-1",
    "a_position_err": "cm-1",
    "a_fwhm": "cm-1",
    "a_fwhm_err": "cm-1",
    "c_area": "counts*cm-1",
    "c_area_err": "counts*cm-1",
    "a_area": "counts*cm-1",
    "a_area_err": "counts*cm-1",
    "c_area_upper": "counts*cm-1",
    "a_area_upper": "counts*cm-1",
}


# Which clock a time column counts: the engine clock (experiment seconds since the run started; a simulated
# bench runs it faster than the wall clock) or the wall clock (UTC time stamps, or seconds since the run's
# wall-clock start).
ENGINE_CLOCK = "engine clock, s since run start"
WALL_CLOCK = "wall clock, s since run start (UTC)"
UTC_TIME = "wall clock, ISO 8601 UTC"
CLOCKS = {
    ("cycling_points", "t_s"): ENGINE_CLOCK,
    ("iv_points", "t_s"): ENGINE_CLOCK,
    ("spectra", "t_s"): ENGINE_CLOCK,
    ("half_cycles", "start_s"): ENGINE_CLOCK,
    ("half_cycles", "duration_s"): "engine clock, duration",
    ("checkpoints", "time_s"): ENGINE_CLOCK,
    ("steps", "time_s"): ENGINE_CLOCK,
    ("run", "started"): UTC_TIME,
    ("run", "ended"): UTC_TIME,
    ("steps", "started"): UTC_TIME,
    ("steps", "ended"): UTC_TIME,
    ("events", "time"): UTC_TIME,
    ("derived_results", "created"): UTC_TIME,
}


def clock_of(table: str, column: str) -> str:
    """The clock of a time column of an export table ('' for a column that is no time)."""
    if (table, column) in CLOCKS:
        return CLOCKS[(table, column)]
    if table.startswith("spectra_step") and column == "t_s":
        return ENGINE_CLOCK
    return ""


def unit_of(column: str) -> str:
    """Unit of a column name ('' if dimensionless or text); *_C/_Ah/_pAh/_V/_J suffixes are recognised."""
    if column in UNITS:
        return UNITS[column]
    for suffix, unit in (
        ("_pAh", "pAh"),
        ("_Ah", "Ah"),
        ("_C", "C"),
        ("_V", "V"),
        ("_J", "J"),
        ("_S", "S"),
        ("_A", "A"),
        ("_s", "s"),
        ("_um", "um"),
        ("_cm1", "cm-1"),
    ):
        if column.endswith(suffix):
            return unit
    return ""


@dataclass
class RunTables:
    """Every table of one run, ready to write; ``spectra`` maps step id -> (axis cm-1, counts, meta frame)."""

    run_id: int
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    spectra: dict[int, tuple[np.ndarray, np.ndarray, pd.DataFrame]] = field(default_factory=dict)
    protocol_text: str = ""
    station: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    """``nanocell_daq.provenance.of_run`` of the run (set by :func:`export_run`; empty: none written)."""


def require_finished(info: Any, what: str, allow_running: bool) -> None:
    """Refuse to export/report a run that is still running unless ``allow_running`` (partial output)."""
    if info.status == "running" and not allow_running:
        raise UserError(
            f"run {info.id} is still running: {'an' if what[:1] in 'aeiou' else 'a'} {what} now would be "
            "partial; wait for it to finish, or pass "
            "--partial to write the data recorded so far"
        )


def collect(store: Any, run_id: int | str, analysis: RunAnalysis | None = None) -> RunTables:
    """Read every table of a run from the store (and the analysis tables if ``analysis`` is given)."""
    info = load_run_or_fail(store, run_id)
    rid = int(info.id)
    header, _, _ = run_context(store, info)
    out = RunTables(run_id=rid, protocol_text=info.protocol_text or "", station=dict(info.station or {}))
    out.tables["run"] = pd.DataFrame([{k: _plain(v) for k, v in header.items()}])
    if info.device_id is not None:
        try:
            d = store.device(info.device_id)
            out.tables["device"] = pd.DataFrame(
                [
                    {
                        "id": d.id,
                        "chip": d.chip,
                        "wire": d.wire,
                        "materials": json.dumps(d.materials),
                        "dimensions": json.dumps(d.dimensions),
                        "contacts": json.dumps(d.contacts),
                        "extra": json.dumps(jsonable(d.extra)),
                    }
                ]
            )
        except KeyError:
            pass
    steps = store.steps(rid)
    out.tables["steps"] = pd.DataFrame(
        [
            {
                "step_id": s.id,
                "index": s.index,
                "kind": s.kind,
                "label": s.label or "",
                "cycle": -1 if s.cycle is None else s.cycle,
                "status": s.status,
                "started": _plain(s.started),
                "ended": _plain(s.ended),
                "parameters": json.dumps(jsonable(s.parameters)),
            }
            for s in steps
        ],
        columns=["step_id", "index", "kind", "label", "cycle", "status", "started", "ended", "parameters"],
    )
    c = store.cycling(rid)
    out.tables["cycling_points"] = pd.DataFrame(
        {"step_id": c.step_id, "t_s": c.t, "E_V": c.E, "I_A": c.I, "Q_C": c.Q}
    )
    iv = store.iv(rid)
    out.tables["iv_points"] = pd.DataFrame(
        {
            "step_id": iv.step_id,
            "V_V": iv.V,
            "I_A": iv.I,
            "direction": iv.direction.astype(str),
            "pair": iv.pair.astype(str),
            "t_s": iv.t,
        }
    )
    metas = []
    for s in steps:
        sp = store.spectra(rid, step_id=s.id)
        if len(sp) == 0:
            continue
        meta = pd.DataFrame(
            {
                "spectrum_id": sp.id,
                "step_id": sp.step_id,
                "x_um": sp.x_um,
                "y_um": sp.y_um,
                "z_um": sp.z_um,
                "exposure_s": sp.exposure_s,
                "grid_id": sp.grid_id,
                "pixel": sp.pixel,
                "t_s": sp.t,
            }
        )
        out.spectra[s.id] = (
            np.asarray(sp.axis, dtype=np.float64),
            np.asarray(sp.counts, dtype=np.float32),
            meta,
        )
        metas.append(meta)
    out.tables["spectra"] = (
        pd.concat(metas, ignore_index=True)
        if metas
        else pd.DataFrame(
            columns=[
                "spectrum_id",
                "step_id",
                "x_um",
                "y_um",
                "z_um",
                "exposure_s",
                "grid_id",
                "pixel",
                "t_s",
            ]
        )
    )
    out.tables["map_grids"] = pd.DataFrame(
        [
            {
                "grid_id": g.id,
                "step_id": -1 if g.step_id is None else g.step_id,
                "x0_um": g.x0_um,
                "y0_um": g.y0_um,
                "z_um": g.z_um,
                "dx_um": g.dx_um,
                "dy_um": g.dy_um,
                "nx": g.nx,
                "ny": g.ny,
                "label": g.label or "",
            }
            for g in store.map_grids(rid)
        ],
        columns=["grid_id", "step_id", "x0_um", "y0_um", "z_um", "dx_um", "dy_um", "nx", "ny", "label"],
    )
    out.tables["events"] = pd.DataFrame(
        [
            {
                "time": _plain(e.time),
                "level": e.level,
                "message": e.message,
                "step_id": -1 if e.step_id is None else e.step_id,
            }
            for e in store.events(rid)
        ],
        columns=["time", "level", "message", "step_id"],
    )
    out.tables["derived_results"] = pd.DataFrame(
        [
            {
                "kind": d.kind,
                "params": json.dumps(jsonable(d.params), sort_keys=True),
                "value": json.dumps(jsonable(d.value)),
                "software_version": d.software_version,
                "created": _plain(d.created),
            }
            for d in store.derived(rid)
        ],
        columns=["kind", "params", "value", "software_version", "created"],
    )
    if analysis is not None:
        _add_analysis(out, analysis)
    return out


def _add_analysis(out: RunTables, a: RunAnalysis) -> None:
    cps = a.checkpoint_table
    if not cps.empty:
        cps["step_ids"] = cps["step_ids"].map(lambda ids: " ".join(map(str, ids)))
        for col in ("iv_step_id", "map_step_id", "cycle"):
            cps[col] = cps[col].fillna(-1).astype(int)
    out.tables["checkpoints"] = cps
    out.tables["half_cycles"] = a.half_cycle_table
    out.tables["cycles"] = a.cycle_table
    out.tables["iv_metrics"] = a.iv_table
    out.tables["segments"] = a.segments  # G0 per pair, its length, R = 1/G0 (NaN if not significant)
    out.tables["dqdv"] = a.dqdv
    frames = [p.assign(step_id=sid) for sid, p in a.maps.items()]
    out.tables["map_pixels"] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _plain(value: Any) -> Any:
    """Datetimes as ISO 8601 text (UTC), None as ''."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def write_csv(tables: RunTables, folder: Path) -> list[Path]:
    """One CSV per table, one per map step (wide: metadata columns then one column per wavenumber, cm-1),
    protocol.yaml, station.json, units.csv and a README.txt; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    units = []
    for name, frame in tables.tables.items():
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False)
        written.append(path)
        units += [
            {"table": name, "column": c, "unit": unit_of(str(c)), "clock": clock_of(name, str(c))}
            for c in frame.columns
        ]
    for sid, (axis, counts, meta) in tables.spectra.items():
        path = folder / f"spectra_step{sid}.csv"
        wide = pd.DataFrame(counts, columns=[f"{w:.3f}" for w in axis])
        pd.concat([meta.reset_index(drop=True), wide], axis=1).to_csv(path, index=False, float_format="%.6g")
        written.append(path)
        units += [
            {"table": path.stem, "column": c, "unit": unit_of(c), "clock": clock_of(path.stem, c)}
            for c in meta.columns
        ]
        units.append(
            {"table": path.stem, "column": "<wavenumber columns>", "unit": "counts (header in cm-1)",
             "clock": ""}
        )
    (folder / "protocol.yaml").write_text(tables.protocol_text, encoding="utf-8")
    (folder / "station.json").write_text(json.dumps(jsonable(tables.station), indent=2), encoding="utf-8")
    extra = []
    if tables.provenance:
        extra.append(folder / "provenance.json")
        extra[-1].write_text(json.dumps(jsonable(tables.provenance), indent=2, ensure_ascii=False),
                             encoding="utf-8")
    units_frame = pd.DataFrame(units, columns=["table", "column", "unit", "clock"])
    units_frame.to_csv(folder / "units.csv", index=False)
    (folder / "README.txt").write_text(
        f"nanocell-daq export of run {tables.run_id}.\n"
        "One CSV per table; column names end with their unit (t_s = seconds, E_V = volts, I_A = amperes, "
        "Q_C = coulombs, x_um = micrometres); units.csv lists them all, with the clock of each time column:\n"
        f"t_s of cycling_points, iv_points and spectra = {ENGINE_CLOCK} (a simulated bench runs it faster "
        "than the wall clock), and so is time_s of checkpoints and steps (their first data); "
        f"started/ended/time/created = {UTC_TIME}.\n"
        "spectra_step<N>.csv: one row per spectrum of map step N: metadata columns, then counts, one column "
        "per wavenumber (header = Raman shift in cm-1).\n"
        "checkpoints/half_cycles/cycles/iv_metrics/map_pixels come from nanocell_daq.analysis.\n"
        "protocol.yaml: the protocol as run (--set overrides applied); station.json: the station snapshot; "
        "provenance.json: software version (git commit of a source install), host, operator, the station "
        "and protocol files as read with the --set overrides as given, per session (start, resumes), and "
        "the analysis parameters.\n",
        encoding="utf-8",
    )
    return [
        *written,
        folder / "protocol.yaml",
        folder / "station.json",
        *extra,
        folder / "units.csv",
        folder / "README.txt",
    ]


def _write_frame(group: Any, frame: pd.DataFrame) -> None:
    import h5py

    for col in frame.columns:
        values = frame[col]
        if values.dtype in (object, bool) or pd.api.types.is_string_dtype(values.dtype):  # "string" and "str"
            if values.dtype == bool or values.map(lambda v: isinstance(v, (bool, np.bool_))).all():
                data = values.to_numpy(dtype=bool)
            else:
                data = np.array(
                    ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values],
                    dtype=h5py.string_dtype(),
                )
        else:
            data = values.to_numpy()
        ds = group.create_dataset(str(col), data=data)
        unit = unit_of(str(col))
        if unit:
            ds.attrs["units"] = unit
        clock = clock_of("spectra" if group.name == "/spectra_index" else group.name.strip("/"), str(col))
        if clock:
            ds.attrs["clock"] = clock
    group.attrs["columns"] = [str(c) for c in frame.columns]


def _write_provenance(f: Any, prov: dict[str, Any]) -> None:
    """``/provenance``: one string dataset per field (texts of any length; HDF5 attributes stop at 64 kB);
    the short ones also as root attributes."""
    import h5py

    from nanocell_daq.provenance import attributes

    g = f.create_group("provenance")
    for key, value in attributes(prov, prefix="").items():
        g.create_dataset(key, data=value, dtype=h5py.string_dtype())
    for key, value in attributes(prov).items():
        if len(value) <= 1000 and not key.endswith(("_text", "_json")):
            f.attrs[key] = value


def write_hdf5(tables: RunTables, path: Path) -> Path:
    """One group per table (one dataset per column, ``units`` attributes).

    Spectra: ``/spectra/step_<N>`` with ``counts`` (n, m) float32, ``wavenumber_cm1`` (m,) attached as its
    dimension scale, and the stage coordinates ``x_um``/``y_um``/``z_um`` (n,); ``/spectra_index`` lists
    them all.
    """
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["run_id"] = tables.run_id
        f.attrs["protocol_text"] = tables.protocol_text
        f.attrs["station_json"] = json.dumps(jsonable(tables.station))
        f.attrs["software"] = "nanocell-daq"
        if tables.provenance:
            _write_provenance(f, tables.provenance)
        for name, frame in tables.tables.items():
            # /spectra holds the per-step 2-D arrays; their index table goes next to it
            _write_frame(f.create_group("spectra_index" if name == "spectra" else name), frame)
        sg = f.create_group("spectra")
        for sid, (axis, counts, meta) in tables.spectra.items():
            g = sg.create_group(f"step_{sid}")
            g.attrs["step_id"] = sid
            ds = g.create_dataset("counts", data=counts, compression="gzip", compression_opts=4)
            ds.attrs["units"] = "counts"
            ds.attrs["dims"] = ["spectrum", "wavenumber_cm1"]
            ax = g.create_dataset("wavenumber_cm1", data=axis)
            ax.attrs["units"] = "cm-1"
            for col in meta.columns:
                d = g.create_dataset(col, data=meta[col].to_numpy())
                if unit_of(col):
                    d.attrs["units"] = unit_of(col)
                if clock_of("spectra", col):
                    d.attrs["clock"] = clock_of("spectra", col)
            ax.make_scale("wavenumber_cm1")
            ds.dims[1].attach_scale(ax)
    return path


def export_run(
    store: Any,
    run_id: int | str,
    fmt: str,
    output: str | Path,
    *,
    y: float = 0.8,
    allow_running: bool = False,
    with_analysis: bool = True,
) -> list[Path]:
    """Write a run as ``fmt`` at ``output``: "csv" and "jcamp" write a folder of files; "hdf5", "nexus" and
    "netcdf" one file; "bdf" ``<stem>.bdf.csv``, ``<stem>.bdf.parquet`` and ``<stem>.bdf.metadata.json``.

    UserError for an unknown run, a run without data, a run still running (unless ``allow_running``), an
    unknown format or an unusable output path.
    """
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    out = Path(output)
    if fmt in FOLDER_FORMATS and out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder ({fmt} export writes a folder of files)")
    if fmt not in FOLDER_FORMATS and out.is_dir():
        example = {"hdf5": "run.h5", "nexus": "run.nxs", "netcdf": "run.nc", "bdf": "run1 (or run1.bdf.csv)"}
        raise UserError(f"{out}: is a folder; give a file name such as {example[fmt]}")
    if not out.parent.exists():
        raise UserError(f"{out}: folder {out.parent} does not exist")
    info = load_run_or_fail(store, run_id)
    require_finished(info, "export", allow_running)
    analysis = analyze_run(store, info.id, params=AnalysisParams(y=y)) if with_analysis else None
    tables = collect(store, info.id, analysis)
    if (
        analysis is None
        and all(tables.tables[t].empty for t in ("cycling_points", "iv_points"))
        and not tables.spectra
    ):
        raise UserError(f"run {info.id} ({info.status}) has no data points: nothing to export")
    tables.provenance = provenance(store, info, AnalysisParams(y=y))
    try:
        return _write(fmt, tables, out, store, info)
    except ModuleNotFoundError as exc:
        if exc.name not in EXCHANGE_MODULES:
            raise
        raise UserError(
            f"--format {fmt} needs the Python package {exc.name}: pip install 'nanocell-daq[exchange]'"
        ) from None


def provenance(store: Any, info: Any, params: AnalysisParams) -> dict[str, Any]:
    """What an export carries about where its data came from (:func:`nanocell_daq.provenance.of_run`): the
    software, host, operator, station and protocol texts with the ``--set`` overrides of each session of the
    run, the analysis parameters of this export and who exported it."""
    from nanocell_daq import provenance as prov
    from nanocell_daq.analysis.run_analysis import ANALYSIS_VERSION

    return prov.of_run(store, info.id, {"analysis_version": ANALYSIS_VERSION, "parameters": params.key()})


def _write(fmt: str, tables: RunTables, out: Path, store: Any, info: Any) -> list[Path]:
    if fmt == "csv":
        return write_csv(tables, out)
    if fmt == "hdf5":
        return [write_hdf5(tables, out)]
    if fmt == "bdf":
        from nanocell_daq.analysis.export_bdf import metadata, write_bdf

        cycling = tables.tables["cycling_points"]
        if cycling.empty:
            raise UserError(f"run {info.id} has no cycling points: a BDF file holds a cell's cycling data")
        device = None
        if "device" in tables.tables:  # its mapping columns are JSON text in the table: objects here
            device = {
                k: json.loads(v) if k in ("materials", "dimensions", "contacts", "extra") and v else v
                for k, v in tables.tables["device"].iloc[0].to_dict().items()
            }
        run = tables.tables["run"].iloc[0].to_dict()
        return write_bdf(cycling, tables.tables["steps"], metadata(run, device, tables.provenance), out)
    if fmt == "nexus":
        from nanocell_daq.analysis.export_nexus import write_nexus

        return [write_nexus(tables, out, tables.provenance)]
    if fmt == "jcamp":
        from nanocell_daq.analysis.export_jcamp import write_jcamp

        if not tables.spectra:
            raise UserError(f"run {info.id} has no Raman spectra: nothing to write as JCAMP-DX")
        return write_jcamp(tables, out)
    from nanocell_daq.analysis.notebook import RunView
    from nanocell_daq.analysis.xarray_view import write_netcdf, xarray_attributes

    dataset = RunView(store, info.id).to_xarray()
    dataset.attrs.update(xarray_attributes(tables.provenance))  # with this export's analysis parameters
    return [write_netcdf(dataset, out)]
