"""The notebook API: open a database, list runs, pick one, get DataFrames and the analysis."""

from __future__ import annotations

import pytest

from nanocell_daq.analysis import open_db
from nanocell_daq.errors import UserError


def test_notebook_api(si_run_db):
    path, run = si_run_db
    with open_db(path) as db:
        runs = db.runs()
        assert list(runs["id"]) == [run] and runs.loc[0, "status"] == "completed"
        view = db.run(run)
        assert "SYN-SI-01" in repr(view)
        steps = view.steps()
        assert list(steps["kind"][:2]) == ["iv", "raman_map"]
        cyc = view.cycling()
        assert {"t_s", "voltage_V", "current_A", "kind", "label"} <= set(cyc.columns)
        iv = view.iv()
        assert set(iv["label"]) == {"pristine", "after charge 1", "after cycle 1"}
        spectra = view.spectra(step_id=int(steps["step_id"][1]))
        assert spectra.counts.shape[1] == spectra.axis.size == 1024
        a = view.analysis(y=0.8)
        assert a.checkpoints[0]["label"] == "pristine"
        assert not view.events().empty


def test_open_db_of_a_missing_file(tmp_path):
    with pytest.raises(UserError):
        open_db(tmp_path / "nope.db")
