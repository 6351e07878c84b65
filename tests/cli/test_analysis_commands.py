"""`nanocell analyze/export/report` end to end through the CLI, including bad input."""

from __future__ import annotations

import pytest

from nanocell_daq.cli import main
from tests.analysis.runs import build_empty_run, build_run, build_running_run


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path, run = build_run(tmp_path_factory.mktemp("cli") / "runs.db", n_pixels=6)
    return path, run


def test_analyze_prints_the_checkpoints(db, capsys):
    path, run = db
    assert main(["analyze", str(run), "--db", str(path)]) == 0
    out = capsys.readouterr().out
    assert "pristine" in out and "after cycle 1" in out and "pAh" in out


def test_export_and_report(db, tmp_path, capsys):
    path, run = db
    assert main(["export", str(run), "--db", str(path), "--format", "csv", "-o", str(tmp_path / "csv")]) == 0
    assert (tmp_path / "csv" / "iv_points.csv").is_file()
    assert (
        main(["export", str(run), "--db", str(path), "--format", "hdf5", "-o", str(tmp_path / "r.h5")]) == 0
    )
    assert (tmp_path / "r.h5").stat().st_size > 0
    assert main(["report", str(run), "--db", str(path), "-o", str(tmp_path / "r.pdf")]) == 0
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("command", ["analyze", "export", "report"])
def test_unknown_run(db, tmp_path, capsys, command):
    path, _ = db
    extra = {
        "analyze": [],
        "export": ["--format", "csv", "-o", str(tmp_path / "x")],
        "report": ["-o", str(tmp_path / "x.png")],
    }[command]
    assert main([command, "42", "--db", str(path), *extra]) == 2
    err = capsys.readouterr().err
    assert "no run 42" in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["analyze", "export", "report"])
def test_empty_run(tmp_path, capsys, command):
    run = build_empty_run(tmp_path / "e.db")
    extra = {
        "analyze": [],
        "export": ["--format", "hdf5", "-o", str(tmp_path / "x.h5")],
        "report": ["-o", str(tmp_path / "x.png")],
    }[command]
    assert main([command, str(run), "--db", str(tmp_path / "e.db"), *extra]) == 2
    assert "no data points yet: nothing to analyse" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_running_run_needs_partial_for_export_and_report(tmp_path, capsys):
    run = build_running_run(tmp_path / "r.db")
    db = str(tmp_path / "r.db")
    assert main(["report", str(run), "--db", db, "-o", str(tmp_path / "r.png")]) == 2
    err = capsys.readouterr().err
    assert "still running" in err and "--partial" in err
    assert main(["export", str(run), "--db", db, "--format", "csv", "-o", str(tmp_path / "c")]) == 2
    assert main(["report", str(run), "--db", db, "-o", str(tmp_path / "r.png"), "--partial"]) == 0
    assert (tmp_path / "r.png").is_file()
    assert main(["analyze", str(run), "--db", db]) == 0
    assert "still running" in capsys.readouterr().out
