"""Every export carries the run's provenance, read back with each format's own reader: CSV (pandas/json),
HDF5 (h5py), BDF sidecar, NeXus (nexusformat), JCAMP-DX (jcamp), xarray/NetCDF; an old run without
provenance exports with "unknown" fields."""

from __future__ import annotations

import hashlib
import json

import h5py
import pytest

from nanocell_daq import __version__
from nanocell_daq.analysis.export import export_run
from nanocell_daq.analysis.run_analysis import ANALYSIS_VERSION, KIND_SUMMARY
from nanocell_daq.provenance import ANALYSIS_KIND, UNKNOWN, report_lines
from nanocell_daq.storage import Store
from tests.analysis.runs import build_run

STATION_TEXT = "name: bench A  # the station file as read, ünïcode kept\nspeed: 100\n"
PROTOCOL_TEXT = "protocol: synthetic Si\nparameters: {cycles: 1}\nsteps: []\n"
RECORD = {
    "git_commit": "0123456789abcdef0123456789abcdef01234567", "git_dirty": False, "python": "CPython 3.12",
    "host": "station-pc", "operator": "ana", "station_path": "/lab/station.yaml",
    "station_text": STATION_TEXT,
    "device": "nw2", "protocol_name": "synthetic Si", "protocol_path": "/lab/si.yaml",
    "protocol_text": PROTOCOL_TEXT, "overrides": {"cycles": "1"},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path, rid = build_run(tmp_path_factory.mktemp("prov") / "runs.db", n_pixels=4)
    with Store.open(path, create=False) as store:
        store.add_provenance(rid, RECORD, kind="start")
        store.add_provenance(rid, {**RECORD, "operator": "bob", "host": "other-pc"})  # a resume
        yield store, rid


def _check(prov: dict) -> None:
    """What every export must say: software, host, operator, station and protocol texts, --set, analysis."""
    assert prov["software"]["version"] == __version__
    assert prov["software"]["git_commit"] == RECORD["git_commit"]
    assert (prov["host"], prov["operator"]) == ("station-pc", "ana")
    assert prov["station"]["text"] == STATION_TEXT and prov["station"]["device"] == "nw2"
    assert prov["protocol"]["text"] == PROTOCOL_TEXT and prov["protocol"]["overrides"] == {"cycles": "1"}
    assert [s["host"] for s in prov["sessions"]] == ["station-pc", "other-pc"]
    assert prov["analysis"]["analysis_version"] == ANALYSIS_VERSION
    assert prov["analysis"]["parameters"]["y"] == 0.7


def test_csv_hdf5_and_bdf_carry_the_provenance(run, tmp_path):
    import pandas as pd

    store, rid = run
    export_run(store, rid, "csv", tmp_path / "csv", y=0.7)
    _check(json.loads((tmp_path / "csv" / "provenance.json").read_text(encoding="utf-8")))
    assert "provenance.json" in (tmp_path / "csv" / "README.txt").read_text(encoding="utf-8")
    assert not pd.read_csv(tmp_path / "csv" / "cycling_points.csv").empty

    export_run(store, rid, "hdf5", tmp_path / "run.h5", y=0.7)
    with h5py.File(tmp_path / "run.h5", "r") as f:
        g = f["provenance"]
        assert g["station_text"][()].decode() == STATION_TEXT
        assert g["protocol_overrides"][()].decode() == '{"cycles": "1"}'
        _check(json.loads(g["json"][()].decode()))
        assert f.attrs["provenance_operator"] == "ana" and f.attrs["provenance_host"] == "station-pc"

    written = export_run(store, rid, "bdf", tmp_path / "cell", y=0.7)
    meta = json.loads(written[-1].read_text(encoding="utf-8"))
    _check(meta["provenance"])


def test_nexus_has_program_name_user_and_the_files_as_notes(run, tmp_path):
    from nexusformat.nexus import nxload

    store, rid = run
    export_run(store, rid, "nexus", tmp_path / "run.nxs", y=0.7)
    root = nxload(str(tmp_path / "run.nxs"))
    try:
        entry = root["entry"]
        assert entry["program_name"].nxvalue == "nanocell-daq"
        assert entry["program_name"].attrs["version"] == __version__
        assert entry["program_name"].attrs["configuration"] == f"git {RECORD['git_commit']}"
        assert entry["user"].nxclass == "NXuser" and entry["user/name"].nxvalue == "ana"
        assert entry["station_file"].nxclass == entry["protocol_file"].nxclass == "NXnote"
        assert json.loads(entry["protocol_file"].attrs["overrides"]) == {"cycles": "1"}
        fields = entry["provenance_fields"]
        assert fields.nxclass == "NXcollection" and fields["host"].nxvalue == "station-pc"
        _check(json.loads(entry["provenance/data"].nxvalue))
    finally:
        root.nxfile.close()
    with h5py.File(tmp_path / "run.nxs", "r") as f:  # the texts exactly (nexusformat strips the last newline)
        assert f["entry/station_file/data"][()].decode() == STATION_TEXT
        assert f["entry/protocol_file/data"][()].decode() == PROTOCOL_TEXT


def test_jcamp_labels_name_the_software_operator_and_files(run, tmp_path):
    from jcamp import readfile as jcamp_readfile

    store, rid = run
    written = export_run(store, rid, "jcamp", tmp_path / "jdx", y=0.7)
    d = jcamp_readfile(str(written[0]))
    assert d["owner"] == "ana" and f"nanocell-daq {__version__} on host station-pc" in d["origin"]
    assert d["$software"] == f"nanocell-daq {__version__}" and d["$host"] == "station-pc"
    assert d["$station sha256"] == hashlib.sha256(STATION_TEXT.encode()).hexdigest()
    assert d["$protocol sha256"] == hashlib.sha256(PROTOCOL_TEXT.encode()).hexdigest()
    assert d["$set"] == "cycles=1" and d["$device"] == "nw2"
    assert json.loads(d["$analysis"])["y"] == 0.7


def test_netcdf_attributes_carry_it(run, tmp_path):
    import xarray as xr

    store, rid = run
    export_run(store, rid, "netcdf", tmp_path / "run.nc", y=0.7)
    with xr.open_dataset(tmp_path / "run.nc", engine="h5netcdf") as ds:
        assert ds.attrs["provenance_station_text"] == STATION_TEXT
        assert ds.attrs["provenance_protocol_text"] == PROTOCOL_TEXT
        assert ds.attrs["provenance_operator"] == "ana" and ds.attrs["provenance_host"] == "station-pc"
        _check(json.loads(ds.attrs["provenance_json"]))


def test_an_old_run_without_provenance_exports_unknown_and_report_lines_say_so(si_run_db, tmp_path):
    path, rid = si_run_db
    with Store.open(path, create=False) as store:
        written = export_run(store, rid, "bdf", tmp_path / "old")
        prov = json.loads(written[-1].read_text(encoding="utf-8"))["provenance"]
        for value in (prov["host"], prov["software"]["git_commit"], prov["station"]["text"],
                      prov["protocol"]["text"], prov["operator"]):
            assert value == UNKNOWN
        assert prov["software"]["version"] == store.run(rid).software_version and prov["sessions"] == []
        lines = report_lines(store, rid)
    assert lines[0].endswith("host unknown") and lines[1] == "operator: unknown"
    assert ANALYSIS_KIND == KIND_SUMMARY  # the kind provenance reads is the one analyze stores
    assert lines[-1].startswith(f"analysis: version {ANALYSIS_VERSION}; y=")  # stored by analyze


def test_analyze_stores_its_parameters_and_version_and_show_prints_them(run, capsys):
    from nanocell_daq.cli import main

    store, rid = run
    db = str(store.location.path)
    assert main(["analyze", str(rid), "--db", db, "--y", "0.65"]) == 0
    capsys.readouterr()
    assert main(["show", str(rid), "--db", db, "--json"]) == 0
    stored = json.loads(capsys.readouterr().out)["provenance"]["analysis"]["stored"]
    last = stored[-1]
    assert last["parameters"]["y"] == 0.65 and last["analysis_version"] == ANALYSIS_VERSION
    assert last["software_version"] == __version__ and last["parameters"]["g0_window_V"] == 0.05
    assert main(["show", str(rid), "--db", db]) == 0
    assert f"analysis: version {ANALYSIS_VERSION}; y=0.65, g0_window_V=0.05" in capsys.readouterr().out
