"""`nanocell export --format bdf|nexus|jcamp|netcdf` through the CLI: files other tools read, and the
one-line refusals."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from nanocell_daq.analysis.export import FORMATS
from nanocell_daq.cli import main
from nanocell_daq.cli.analysis_commands import EXPORT_FORMATS
from tests.analysis.runs import build_run, build_running_run


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return build_run(tmp_path_factory.mktemp("fmt") / "runs.db", n_pixels=4)


def test_the_cli_offers_every_export_format():
    assert EXPORT_FORMATS == FORMATS


def test_each_exchange_format_from_the_cli(db, tmp_path, capsys):
    path, run = db
    base = ["export", str(run), "--db", str(path)]
    assert main([*base, "--format", "bdf", "-o", str(tmp_path / "cell")]) == 0
    assert list(pd.read_csv(tmp_path / "cell.bdf.csv").columns[:3]) == ["Test Time / s", "Voltage / V",
                                                                        "Current / A"]
    assert json.loads((tmp_path / "cell.bdf.metadata.json").read_text())["run"]["id"] == run
    assert main([*base, "--format", "NeXus", "-o", str(tmp_path / "run.nxs")]) == 0  # case-insensitive
    assert main([*base, "-f", "jcamp", "-o", str(tmp_path / "jdx")]) == 0
    assert len(list((tmp_path / "jdx").glob("*.jdx"))) == 3 * 4  # three maps of four pixels
    assert main([*base, "-f", "netcdf", "-o", str(tmp_path / "run.nc")]) == 0
    assert (tmp_path / "run.nc").read_bytes()[:4] == b"\x89HDF"
    out = capsys.readouterr().out
    assert "wrote 3 file(s)" in out and "wrote 12 file(s)" in out


def test_a_wrong_format_lists_the_choices(db, tmp_path, capsys):
    path, run = db
    assert main(["export", str(run), "--db", str(path), "--format", "bdff", "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "'bdff' is not one of" in err and "'nexus'" in err and "'netcdf'" in err
    assert "Traceback" not in err


def test_a_running_run_needs_partial_with_correct_grammar(tmp_path, capsys):
    path = tmp_path / "r.db"
    run = build_running_run(path)
    assert main(["export", str(run), "--db", str(path), "-f", "bdf", "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "an export now would be partial" in err
