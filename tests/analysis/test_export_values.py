"""Exported numbers are the stored numbers: every table, in every format, compared value by value with what
the store (and the analysis) hold, so a swapped column, a reversed spectrum or a shifted axis fails."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pytest

from nanocell_daq.analysis.export import TABLE_FORMATS, export_run
from nanocell_daq.analysis.frames import jsonable
from nanocell_daq.analysis.run_analysis import analyze_run
from nanocell_daq.storage import Store


class Exported:
    """One export of the synthetic run, read back as plain frames whatever the format."""

    def __init__(self, fmt: str, out) -> None:
        self.fmt, self.out = fmt, out

    def table(self, name: str) -> pd.DataFrame:
        if self.fmt == "csv":
            return pd.read_csv(self.out / f"{name}.csv", keep_default_na=False)
        with h5py.File(self.out, "r") as f:
            g = f["spectra_index" if name == "spectra" else name]
            return pd.DataFrame({c: _plain(g[c][()]) for c in g.attrs["columns"]})

    def spectra(self, step_id: int) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
        """(wavenumber axis, counts (spectrum, wavenumber), per-spectrum metadata) of one map step."""
        if self.fmt == "csv":
            wide = pd.read_csv(self.out / f"spectra_step{step_id}.csv")
            meta_cols = list(self.table("spectra").columns)
            axis = np.array([float(c) for c in wide.columns[len(meta_cols):]])
            return axis, wide.iloc[:, len(meta_cols):].to_numpy(), wide[meta_cols]
        with h5py.File(self.out, "r") as f:
            g = f[f"spectra/step_{step_id}"]
            assert g["counts"].dims[1][0].name == g["wavenumber_cm1"].name  # the axis is the counts' 2nd dim
            meta = pd.DataFrame({c: g[c][()] for c in g if c not in ("counts", "wavenumber_cm1")})
            return g["wavenumber_cm1"][()], g["counts"][()], meta


def _plain(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in "OS":
        return np.array([v.decode() if isinstance(v, bytes) else v for v in values], dtype=object)
    return values


@pytest.fixture(scope="module", params=TABLE_FORMATS)
def exported(request, si_run_db, tmp_path_factory):
    """(export read back, store, run id, analysis) for each format."""
    path, run = si_run_db
    store = Store.open(path, create=False)
    out = tmp_path_factory.mktemp(request.param) / ("run.h5" if request.param == "hdf5" else "csv")
    export_run(store, run, request.param, out)
    analysis = analyze_run(store, run, save=False)
    yield Exported(request.param, out), store, run, analysis
    store.close()


def _same(got: pd.DataFrame, expected: pd.DataFrame, table: str) -> None:
    assert list(got.columns) == list(expected.columns), table
    assert len(got) == len(expected), table
    for col in expected.columns:
        want = expected[col].reset_index(drop=True)
        have = got[col].reset_index(drop=True)
        if pd.api.types.is_bool_dtype(want):
            assert have.astype(str).str.lower().tolist() == want.astype(str).str.lower().tolist(), col
        elif pd.api.types.is_numeric_dtype(want):
            np.testing.assert_allclose(
                pd.to_numeric(have).to_numpy(float), want.to_numpy(float), rtol=1e-12, equal_nan=True,
                err_msg=f"{table}.{col}",
            )
        else:
            assert have.astype(str).tolist() == want.fillna("").astype(str).tolist(), (table, col)


def test_cycling_points_t_e_i_q(exported):
    ex, store, run, _ = exported
    c = store.cycling(run)
    assert len(c.t) > 400 and np.ptp(c.Q) > 0 and np.ptp(c.E) > 0  # the run has a real charge/discharge
    expected = pd.DataFrame({"step_id": c.step_id, "t_s": c.t, "E_V": c.E, "I_A": c.I, "Q_C": c.Q})
    _same(ex.table("cycling_points"), expected, "cycling_points")


def test_iv_points(exported):
    ex, store, run, _ = exported
    iv = store.iv(run)
    expected = pd.DataFrame(
        {"step_id": iv.step_id, "V_V": iv.V, "I_A": iv.I, "direction": iv.direction.astype(str),
         "pair": iv.pair.astype(str), "t_s": iv.t}
    )
    _same(ex.table("iv_points"), expected, "iv_points")


def test_spectra_axis_orientation_order_and_coordinates(exported):
    ex, store, run, _ = exported
    maps = [s for s in store.steps(run) if s.kind == "raman_map"]
    assert len(maps) == 3
    index = ex.table("spectra")
    for step in maps:
        sp = store.spectra(run, step_id=step.id)
        axis, counts, meta = ex.spectra(step.id)
        # the wide CSV carries the axis to 3 decimals and values to 6 significant digits; HDF5 is exact
        atol, rtol = (1e-3, 1e-5) if ex.fmt == "csv" else (0.0, 0.0)
        np.testing.assert_allclose(axis, sp.axis, atol=atol, rtol=0)
        assert counts.shape == sp.counts.shape  # (spectrum, wavenumber), not transposed
        np.testing.assert_allclose(counts, sp.counts, rtol=rtol, atol=1e-3 if ex.fmt == "csv" else 0)
        # the c-Si line at ~520 cm-1 is where the stored spectra have it
        assert abs(axis[np.argmax(counts[0])] - sp.axis[np.argmax(sp.counts[0])]) < 1e-2
        for col, values in (("spectrum_id", sp.id), ("x_um", sp.x_um), ("y_um", sp.y_um), ("z_um", sp.z_um),
                            ("exposure_s", sp.exposure_s), ("pixel", sp.pixel), ("t_s", sp.t),
                            ("grid_id", sp.grid_id)):
            np.testing.assert_allclose(meta[col].to_numpy(float), values, rtol=rtol or 1e-12, err_msg=col)
            rows = index[index["step_id"] == step.id]
            np.testing.assert_allclose(rows[col].to_numpy(float), values, rtol=1e-12, err_msg=col)
    assert np.all(np.diff(axis) > 0)  # ascending Raman shift, as stored


def test_map_grids(exported):
    ex, store, run, _ = exported
    expected = pd.DataFrame(
        [{"grid_id": g.id, "step_id": g.step_id, "x0_um": g.x0_um, "y0_um": g.y0_um, "z_um": g.z_um,
          "dx_um": g.dx_um, "dy_um": g.dy_um, "nx": g.nx, "ny": g.ny, "label": g.label}
         for g in store.map_grids(run)]
    )
    assert len(expected) == 3 and expected["dx_um"].iloc[0] != expected["dy_um"].iloc[0]
    _same(ex.table("map_grids"), expected, "map_grids")


def test_steps_and_events(exported):
    ex, store, run, _ = exported
    steps = store.steps(run)
    got = ex.table("steps")
    assert got["step_id"].tolist() == [s.id for s in steps]
    assert got["index"].tolist() == [s.index for s in steps]
    assert got["kind"].tolist() == [s.kind for s in steps]
    assert got["label"].tolist() == [s.label or "" for s in steps]
    assert got["cycle"].tolist() == [-1 if s.cycle is None else s.cycle for s in steps]
    assert [json.loads(p) for p in got["parameters"]] == [jsonable(s.parameters) for s in steps]
    events = ex.table("events")
    assert events["message"].tolist() == [e.message for e in store.events(run)]


def test_derived_values(exported):
    ex, store, run, _ = exported
    got = ex.table("derived_results")
    stored = {(d.kind, json.dumps(jsonable(d.params), sort_keys=True)): jsonable(d.value)
              for d in store.derived(run)}
    assert len(got) >= 4 and {"raman_map_fit", "run_analysis"} <= set(got["kind"])
    for kind, params, value in zip(got["kind"], got["params"], got["value"], strict=True):
        assert json.loads(value) == stored[(kind, params)], kind


@pytest.mark.parametrize("table", ["checkpoint_table", "half_cycle_table", "cycle_table", "iv_table", "dqdv"])
def test_analysis_tables(exported, table):
    ex, _, _, analysis = exported
    name = {"checkpoint_table": "checkpoints", "half_cycle_table": "half_cycles", "cycle_table": "cycles",
            "iv_table": "iv_metrics", "dqdv": "dqdv"}[table]
    expected = getattr(analysis, table)
    if name == "checkpoints":
        expected["step_ids"] = expected["step_ids"].map(lambda ids: " ".join(map(str, ids)))
        for col in ("iv_step_id", "map_step_id", "cycle"):
            expected[col] = expected[col].fillna(-1).astype(int)
        assert expected["conductance_S"].iloc[0] > 10 * expected["conductance_S"].iloc[-1]
    assert len(expected) > 0
    _same(ex.table(name), expected, name)


def test_map_pixels(exported):
    ex, _, _, analysis = exported
    expected = pd.concat([p.assign(step_id=sid) for sid, p in analysis.maps.items()], ignore_index=True)
    assert expected["xc"].nunique() > 3  # Xc differs along the wire and between maps
    _same(ex.table("map_pixels"), expected, "map_pixels")


def test_run_device_and_event_step_ids(exported):
    ex, store, run, _ = exported
    info = store.run(run)
    row = ex.table("run").iloc[0]
    assert (int(row["id"]), row["uuid"], row["protocol_name"], row["status"]) == (
        run, info.uuid, info.protocol_name, info.status
    )
    assert row["started"] == info.started.isoformat() and row["device"] == "SYN-SI-01"
    device = store.device(info.device_id)
    got = ex.table("device").iloc[0]
    assert (int(got["id"]), got["chip"], got["wire"]) == (device.id, device.chip, device.wire)
    assert json.loads(got["extra"]) == jsonable(device.extra)
    events = ex.table("events")
    want = [-1 if e.step_id is None else e.step_id for e in store.events(run)]
    assert [int(s) for s in events["step_id"]] == want and want


EXPECTED_UNITS = {
    ("cycling_points", "Q_C"): "C",
    ("iv_points", "V_V"): "V",
    ("cycles", "charge_capacity_pAh"): "pAh",
    ("cycles", "charge_energy_J"): "J",
    ("half_cycles", "energy_Wh"): "Wh",
    ("half_cycles", "capacity_Ah"): "Ah",
    ("checkpoints", "time_s"): "s",
    ("checkpoints", "label"): "",
    ("iv_metrics", "offset_A"): "A",
    ("dqdv", "voltage_V"): "V",
    ("dqdv", "dqdv_C_per_V"): "C/V",
    ("map_pixels", "c_area"): "counts*cm-1",
    ("map_pixels", "x_um"): "um",
}


def test_units_of_columns(exported):
    ex = exported[0]
    if ex.fmt == "csv":
        units = pd.read_csv(ex.out / "units.csv", keep_default_na=False)
        got = {(t, c): u for t, c, u in zip(units["table"], units["column"], units["unit"], strict=True)}
    else:
        with h5py.File(ex.out, "r") as f:
            got = {(t, c): f[t][c].attrs.get("units", "") for t, c in EXPECTED_UNITS}
    assert {k: got[k] for k in EXPECTED_UNITS} == EXPECTED_UNITS


def test_the_protocol_station_and_returned_paths(si_run_db, tmp_path):
    path, run = si_run_db
    with Store.open(path, create=False) as store:
        info = store.run(run)
        written = export_run(store, run, "csv", tmp_path / "csv")
        assert export_run(store, run, "hdf5", tmp_path / "run.h5") == [tmp_path / "run.h5"]
    assert (tmp_path / "csv" / "protocol.yaml").read_text() == info.protocol_text
    assert json.loads((tmp_path / "csv" / "station.json").read_text()) == jsonable(info.station)
    names = {p.name for p in written}
    assert {"cycling_points.csv", "iv_points.csv", "units.csv", "README.txt", "protocol.yaml"} <= names
    assert all(p.exists() for p in written) and len(written) == len(set(written))
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == sorted(names)
    assert "Q_C = coulombs" in (tmp_path / "csv" / "README.txt").read_text()
    with h5py.File(tmp_path / "run.h5", "r") as f:
        assert f.attrs["protocol_text"] == info.protocol_text and int(f.attrs["run_id"]) == run
        assert json.loads(f.attrs["station_json"]) == jsonable(info.station)


def test_hdf5_into_a_folder_is_refused(si_run_db, tmp_path):
    from nanocell_daq.errors import UserError

    path, run = si_run_db
    with Store.open(path, create=False) as store, pytest.raises(UserError, match="is a folder"):
        export_run(store, run, "hdf5", tmp_path)


def test_hdf5_keeps_python_booleans_boolean_and_missing_text_empty(tmp_path):
    from nanocell_daq.analysis.export import RunTables, write_hdf5

    frame = pd.DataFrame({"ok": pd.Series([True, False], dtype=object), "name": ["a", None]})
    write_hdf5(RunTables(run_id=1, tables={"flags": frame}), tmp_path / "f.h5")
    with h5py.File(tmp_path / "f.h5", "r") as f:
        assert f["flags/ok"].dtype == bool and f["flags/ok"][()].tolist() == [True, False]
        assert [x.decode() for x in f["flags/name"][()]] == ["a", ""]
