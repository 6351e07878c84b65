"""Exports: CSV folder and HDF5 file hold every table, spectra with axis and coordinates, units."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from nanocell_daq.analysis.export import export_run
from nanocell_daq.errors import UserError
from nanocell_daq.storage import Store
from tests.analysis.runs import CHECKPOINTS


def test_csv_export_has_every_table(si_run_db, tmp_path):
    path, run = si_run_db
    with Store.open(path, create=False) as store:
        export_run(store, run, "csv", tmp_path / "out")
        n_points = len(store.cycling(run))
    out = tmp_path / "out"
    for name in (
        "run",
        "steps",
        "cycling_points",
        "iv_points",
        "spectra",
        "map_grids",
        "events",
        "derived_results",
        "checkpoints",
        "cycles",
        "iv_metrics",
        "map_pixels",
        "units",
    ):
        assert (out / f"{name}.csv").is_file(), name
    cyc = pd.read_csv(out / "cycling_points.csv")
    assert list(cyc.columns) == ["step_id", "t_s", "E_V", "I_A", "Q_C"] and len(cyc) == n_points
    cps = pd.read_csv(out / "checkpoints.csv")
    assert list(cps["label"]) == [c[0] for c in CHECKPOINTS]
    wide = sorted(out.glob("spectra_step*.csv"))
    assert len(wide) == 3
    spectra = pd.read_csv(wide[0])
    assert {"x_um", "y_um", "pixel"} <= set(spectra.columns)
    wavenumbers = [float(c) for c in spectra.columns[9:]]
    assert len(wavenumbers) == 1024 and wavenumbers[0] == pytest.approx(100.0)
    units = pd.read_csv(out / "units.csv")
    assert units[(units["table"] == "iv_points") & (units["column"] == "I_A")]["unit"].item() == "A"
    assert "Si" in (out / "station.json").read_text()


def test_hdf5_export_has_2d_spectra_axis_coordinates_and_units(si_run_db, tmp_path):
    path, run = si_run_db
    with Store.open(path, create=False) as store:
        export_run(store, run, "hdf5", tmp_path / "run.h5")
        spectra = store.spectra(run, step_id=2)
    with h5py.File(tmp_path / "run.h5", "r") as f:
        assert {
            "run",
            "steps",
            "cycling_points",
            "iv_points",
            "spectra",
            "spectra_index",
            "events",
            "derived_results",
            "checkpoints",
            "map_pixels",
        } <= set(f)
        g = f["spectra/step_2"]
        assert g["counts"].shape == spectra.counts.shape and g["counts"].dtype == np.float32
        assert g["counts"].attrs["units"] == "counts"
        assert g["wavenumber_cm1"].attrs["units"] == "cm-1"
        assert g["wavenumber_cm1"][0] == pytest.approx(100.0)
        assert g["x_um"].attrs["units"] == "um"
        np.testing.assert_allclose(g["x_um"][:], spectra.x_um)
        assert f["cycling_points/E_V"].attrs["units"] == "V"
        assert f["iv_points/I_A"].attrs["units"] == "A"
        assert f["checkpoints/conductance_S"].attrs["units"] == "S"
        labels = [x.decode() for x in f["checkpoints/label"][:]]
    assert labels == [c[0] for c in CHECKPOINTS]


def test_bad_format_and_paths(si_run_db, tmp_path):
    path, run = si_run_db
    (tmp_path / "file.txt").write_text("x")
    with Store.open(path, create=False) as store:
        with pytest.raises(UserError, match="use one of csv, hdf5"):
            export_run(store, run, "xlsx", tmp_path / "x")
        with pytest.raises(UserError, match="not a folder"):
            export_run(store, run, "csv", tmp_path / "file.txt")
        with pytest.raises(UserError, match="does not exist"):
            export_run(store, run, "hdf5", tmp_path / "missing" / "run.h5")
