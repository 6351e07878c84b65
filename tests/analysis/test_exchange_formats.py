"""Standard exports read back with other tools' readers: BDF (pandas/pyarrow), NeXus NXraman (nexusformat and
its application validator), JCAMP-DX (the ``jcamp`` package), xarray/NetCDF (h5netcdf)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from nanocell_daq.analysis import open_db
from nanocell_daq.analysis.export import export_run
from nanocell_daq.analysis.export_bdf import COLUMNS
from nanocell_daq.analysis.export_nexus import laser_wavelength_nm
from nanocell_daq.errors import UserError
from nanocell_daq.storage import Store


@pytest.fixture(scope="module")
def store(si_run_db):
    path, run_id = si_run_db
    with Store.open(path, create=False) as s:
        yield s, run_id


def test_bdf_csv_and_parquet_read_back_to_the_stored_numbers(store, tmp_path):
    s, rid = store
    written = export_run(s, rid, "bdf", tmp_path / "cell1.bdf.csv")
    assert sorted(p.name for p in written) == [
        "cell1.bdf.csv", "cell1.bdf.metadata.json", "cell1.bdf.parquet"
    ]
    c = s.cycling(rid)
    for frame in (pd.read_csv(tmp_path / "cell1.bdf.csv"), pd.read_parquet(tmp_path / "cell1.bdf.parquet")):
        # the spec's preferred labels, required ones first
        assert list(frame.columns[:3]) == ["Test Time / s", "Voltage / V", "Current / A"]
        assert set(frame.columns) == set(COLUMNS)
        np.testing.assert_array_equal(frame["Test Time / s"], c.t)
        np.testing.assert_array_equal(frame["Voltage / V"], c.E)
        np.testing.assert_array_equal(frame["Current / A"], c.I)
        np.testing.assert_allclose(frame["Step Capacity / Ah"], np.asarray(c.Q) / 3600.0, rtol=1e-15)
        np.testing.assert_allclose(frame["Power / W"], np.asarray(c.E) * np.asarray(c.I), rtol=1e-15)
        steps = {st.id: st for st in s.steps(rid)}
        assert list(frame["Cycle Count / 1"]) == [max(steps[int(k)].cycle or 0, 0) for k in c.step_id]
        assert frame["Step Count / 1"].is_monotonic_increasing and frame["Step Count / 1"].iloc[0] == 1
        first_rows = frame.groupby("Step Count / 1")["Step Index / 1"].first()
        assert (first_rows == 0).all()
    meta = json.loads((tmp_path / "cell1.bdf.metadata.json").read_text(encoding="utf-8"))
    labels = {col["label"]: col["iri"] for col in meta["columns"]}
    assert labels["Voltage / V"].endswith("battery-data-format#voltage_volt")
    assert "engine clock" in meta["test_time_clock"]
    assert meta["cell"]["chip"] == "SYN-SI-01" and meta["run"]["id"] == rid
    assert isinstance(meta["cell"]["materials"], dict)  # objects, not JSON text inside JSON
    info = s.run(rid)
    prov = meta["provenance"]
    assert prov["protocol"]["text_as_run"] == info.protocol_text and prov["exported_by"]["software_version"]


def test_nexus_file_has_the_nxraman_fields_and_the_runs_data(store, tmp_path):
    from nexusformat.nexus import nxload

    s, rid = store
    path = tmp_path / "run.nxs"
    export_run(s, rid, "nexus", path)
    root = nxload(str(path))
    try:
        entry = root["entry"]
        assert entry.nxclass == "NXentry"
        assert entry["definition"].nxvalue == "NXraman"
        assert entry["experiment_type"].nxvalue == "Raman spectroscopy"
        assert entry["raman_experiment_type"].nxvalue == "in situ Raman spectroscopy"
        assert entry["instrument"].nxclass == "NXinstrument"
        assert entry["instrument/scattering_configuration"].nxvalue == "z(..)z"
        beam = entry["instrument/beam_incident"]
        assert beam.nxclass == "NXbeam" and beam["wavelength"].attrs["units"] == "nm"
        # the synthetic station snapshot names no laser: the wavelength is not invented
        assert np.isnan(beam["wavelength"].nxvalue)
        assert "not recorded" in beam["parameter_reliability"].nxvalue
        detector = entry["instrument/detector_ccd"]
        assert detector.nxclass == "NXdetector"
        assert detector["detector_channel_type"].nxvalue == "multichannel"
        assert entry["start_time"].nxvalue
        data = entry["data"]
        assert data.nxclass == "NXdata"
        first = min(st.id for st in s.steps(rid) if st.kind == "raman_map")
        sp = s.spectra(rid, step_id=first)
        np.testing.assert_array_equal(data.nxsignal.nxvalue, sp.counts)
        np.testing.assert_array_equal(data.nxaxes[-1].nxvalue, sp.axis)
        assert data["wavenumber"].attrs["units"] == "1/cm"
        np.testing.assert_array_equal(data["x"].nxvalue, sp.x_um)
        c = s.cycling(rid)
        cyc = entry["cycling"]
        np.testing.assert_array_equal(cyc.nxsignal.nxvalue, c.E)
        np.testing.assert_array_equal(cyc.nxaxes[0].nxvalue, c.t)
        iv_groups = [name for name in entry if name.startswith("iv_step_")]
        iv = s.iv(rid)
        assert sum(entry[g].nxsignal.nxvalue.size for g in iv_groups) == len(iv.V)
        assert "provenance" in entry and "nanocell-daq" in entry["provenance/data"].nxvalue
    finally:
        root.nxfile.close()


def test_nexus_file_passes_the_nxraman_validator(store, tmp_path):
    """nexusformat's own NXraman validator finds no error except its literal reading of the
    NXoptical_spectroscopy concept names ``beam_TYPE``/``detector_TYPE`` (TYPE is a replaceable part)."""
    from nexusformat.nexus.validate import validate_application

    s, rid = store
    path = tmp_path / "run.nxs"
    export_run(s, rid, "nexus", path)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("NXValidate")
    logger.addHandler(handler)
    try:
        _warnings, errors = validate_application(str(path))
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in records]
    error_at = [k for k, m in enumerate(messages) if "required" in m and "not in the NeXus file" in m]
    assert len(error_at) == errors
    for k in error_at:
        assert "_TYPE" in messages[k - 1], messages[k - 1]


def test_laser_wavelength_comes_from_the_station_snapshot():
    snap = {"instruments": {"spec": {"settings": {"wavelength_nm": 532.0, "laser_enabled": True}}}}
    assert laser_wavelength_nm(snap) == 532.0
    assert laser_wavelength_nm({"spec": {"wavelength_nm": True}}) is None
    assert laser_wavelength_nm({}) is None


def test_jcamp_files_one_per_spectrum_parse_back_with_the_jcamp_reader(store, tmp_path):
    from jcamp import readfile as jcamp_readfile

    s, rid = store
    written = export_run(s, rid, "jcamp", tmp_path / "jdx")
    sp = s.spectra(rid)
    assert len(written) == len(sp)
    by_id = {int(i): k for k, i in enumerate(sp.id)}
    for path in written[:: max(1, len(written) // 5)]:
        d = jcamp_readfile(str(path))
        k = by_id[int(d["$spectrum id"])]
        assert d["data type"] == "RAMAN SPECTRUM" and d["xunits"] == "1/CM"
        np.testing.assert_allclose(d["x"], sp.axis, rtol=1e-9)
        np.testing.assert_allclose(d["y"], sp.counts[k], rtol=1e-6)
        assert d["$x um"] == pytest.approx(sp.x_um[k])


def test_xarray_dataset_and_netcdf_round_trip(si_run_db, tmp_path):
    import xarray as xr

    path, rid = si_run_db
    with open_db(path) as db:
        run = db.run(rid)
        ds = run.to_xarray()
        run.to_netcdf(tmp_path / "run.nc")
        c = db.store.cycling(rid)
    np.testing.assert_array_equal(ds["voltage"].values, c.E)
    assert ds["voltage"].attrs["units"] == "V" and "engine clock" in ds["time"].attrs["clock"]
    counts = [v for v in ds.data_vars if str(v).startswith("counts_step")]
    assert counts and ds[counts[0]].dims[1].startswith("wavenumber_step")
    with xr.open_dataset(tmp_path / "run.nc", engine="h5netcdf") as back:
        xr.testing.assert_identical(back.load(), ds)


def test_jcamp_and_bdf_refuse_runs_without_their_data(tmp_path):
    with Store.open(tmp_path / "e.db") as s:
        run = s.create_run("p", "steps: []", operator="op")
        step = s.start_step(run, 0, "iv", {}, label="iv")
        w = s.writer()
        w.iv_point(step, 0.1, 1e-9, "up", "S-D", 0.0)
        w.close()
        s.end_step(step)
        s.finish_run(run, "completed")
        with pytest.raises(UserError, match="no cycling points"):
            export_run(s, run, "bdf", tmp_path / "x", with_analysis=False)
        with pytest.raises(UserError, match="no Raman spectra"):
            export_run(s, run, "jcamp", tmp_path / "j", with_analysis=False)
        with pytest.raises(UserError, match="is a folder"):
            export_run(s, run, "nexus", tmp_path, with_analysis=False)


def test_units_csv_names_the_clock_of_every_time_column(store, tmp_path):
    s, rid = store
    export_run(s, rid, "csv", tmp_path / "csv")
    units = pd.read_csv(tmp_path / "csv" / "units.csv", keep_default_na=False)
    clock = {(r.table, r.column): r.clock for r in units.itertuples()}
    assert clock[("cycling_points", "t_s")].startswith("engine clock")
    assert clock[("iv_points", "t_s")].startswith("engine clock")
    assert clock[("checkpoints", "time_s")].startswith("engine clock")  # one time base with the data
    assert clock[("events", "time")] == "wall clock, ISO 8601 UTC"
    assert clock[("cycling_points", "E_V")] == ""
    # every column that counts seconds says which clock
    seconds = units[(units.unit == "s") & ~units.column.str.startswith("exposure")]
    assert len(seconds) > 5 and (seconds.clock != "").all(), seconds


def test_hdf5_time_columns_carry_their_clock(store, tmp_path):
    import h5py

    s, rid = store
    export_run(s, rid, "hdf5", tmp_path / "r.h5")
    with h5py.File(tmp_path / "r.h5", "r") as f:
        assert f["cycling_points/t_s"].attrs["clock"].startswith("engine clock")
        assert f["spectra_index/t_s"].attrs["clock"].startswith("engine clock")
        assert f["checkpoints/time_s"].attrs["clock"].startswith("engine clock")
        step = next(iter(f["spectra"]))
        assert f[f"spectra/{step}/t_s"].attrs["clock"].startswith("engine clock")
        assert "clock" not in f["cycling_points/E_V"].attrs
