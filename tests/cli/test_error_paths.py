"""Plain user mistakes end in one line on stderr and exit code 2, never a traceback (one test per path)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nanocell_daq.cli import main
from nanocell_daq.storage import Store
from tests.analysis.runs import build_run

STATION = Path(__file__).parents[1] / "engine" / "station_si.yaml"
READ_ONLY = Path("/proc/nanocell-cannot-write-here")  # not even root can create files in /proc
needs_proc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is the read-only place")


def one_line_error(capsys, code: int) -> str:
    """The message, after checking exit code 2 and a single ``error: ...`` line with no traceback."""
    captured = capsys.readouterr()
    assert code == 2, captured
    assert "Traceback" not in captured.err + captured.out
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    return captured.err


@pytest.fixture(scope="module")
def run_db(tmp_path_factory) -> tuple[Path, int]:
    return build_run(tmp_path_factory.mktemp("paths") / "runs.db", n_pixels=4)


@pytest.fixture
def empty_db(tmp_path: Path) -> Path:
    path = tmp_path / "empty.db"
    Store.open(path, create=True).close()
    return path


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return path


def test_resume_of_a_missing_run(capsys, empty_db):
    err = one_line_error(capsys, main(["resume", "42", "--db", str(empty_db)]))
    assert err == f"error: {empty_db}: no run 42 (it has no runs)\n"


def test_control_of_a_missing_run(capsys, run_db):
    path, run = run_db
    err = one_line_error(capsys, main(["control", "42", "abort", "--db", str(path)]))
    assert err == f"error: {path}: no run 42 (runs in it: {run})\n"


@pytest.mark.parametrize("fmt", ["csv", "hdf5"])
def test_export_under_a_file(capsys, run_db, a_file, fmt):
    path, run = run_db
    out = a_file / "out"
    err = one_line_error(capsys, main(["export", str(run), "--db", str(path), "-f", fmt, "-o", str(out)]))
    assert err == f"error: --output {out}: {a_file} is a file, not a folder\n"


@needs_proc
@pytest.mark.parametrize("fmt", ["csv", "hdf5"])
def test_export_to_a_read_only_place(capsys, run_db, fmt):
    path, run = run_db
    args = ["export", str(run), "--db", str(path), "-f", fmt, "-o", str(READ_ONLY)]
    err = one_line_error(capsys, main(args))
    assert err.startswith(f"error: --output {READ_ONLY}: cannot write: ")


def test_report_under_a_file(capsys, run_db, a_file):
    path, run = run_db
    out = a_file / "report.png"
    err = one_line_error(capsys, main(["report", str(run), "--db", str(path), "-o", str(out)]))
    assert err == f"error: --output {out}: {a_file} is a file, not a folder\n"


@needs_proc
def test_report_to_a_read_only_place(capsys, run_db):
    path, run = run_db
    out = READ_ONLY.with_suffix(".pdf")
    err = one_line_error(capsys, main(["report", str(run), "--db", str(path), "-o", str(out)]))
    assert err.startswith(f"error: --output {out}: cannot write: ")


def test_sim_serve_station_out_under_a_file(capsys, a_file):
    out = a_file / "station.yaml"
    err = one_line_error(capsys, main(["sim", "serve", "--station-out", str(out)]))
    assert err == f"error: --station-out {out}: {a_file} is a file, not a folder\n"


@needs_proc
def test_sim_serve_station_out_to_a_read_only_place(capsys):
    out = READ_ONLY.with_suffix(".yaml")
    code = main(["sim", "serve", "--speed", "1000", "--station-out", str(out)])
    captured = capsys.readouterr()
    assert "simulated bench stopped" not in captured.out  # it did not carry on as if nothing happened
    capsys_err = captured.err
    assert code == 2 and capsys_err.startswith(f"error: --station-out {out}: cannot write: ")
    assert capsys_err.count("\n") == 1 and "Traceback" not in capsys_err


def test_non_utf8_protocol(capsys, tmp_path):
    protocol = tmp_path / "latin1.yaml"
    protocol.write_bytes("protocol: essai \xe0 froid\nsteps:\n  - rest: {time_s: 60}\n".encode("latin-1"))
    err = one_line_error(capsys, main(["check", str(protocol), "--station", str(STATION)]))
    assert err == f"error: {protocol}:1: not UTF-8 text (byte 0xe0); save it as UTF-8\n"


@pytest.mark.parametrize(("args", "words"), [
    (["--speed", "-1"], "--speed: must be a number > 0 (simulated seconds per wall second), got -1"),
    (["--speed", "nan"], "--speed: must be a number > 0"),
    (["--cycles", "0"], "--cycles: must be between 1 and 100, got 0"),
])
def test_demo_with_a_bad_speed_or_cycle_count(capsys, tmp_path, args, words):
    db = tmp_path / "demo.db"
    err = one_line_error(capsys, main(["demo", "--db", str(db), *args]))
    assert err.startswith(f"error: {words}")
    assert not db.exists()  # refused before anything was created


def test_postgresql_url_without_its_driver(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed: importing it raises ImportError
    err = one_line_error(capsys, main(["runs", "--db", "postgresql://lab:secret@db.example/runs"]))
    assert err == ("error: postgresql://lab:***@db.example/runs: the postgresql driver 'psycopg' is not "
                   "installed: pip install 'psycopg[binary]' (or: pip install 'nanocell-daq[postgres]')\n")


def test_check_does_not_import_a_station_driver(capsys, tmp_path, monkeypatch):
    """`nanocell check` touches nothing: a 'package.module:Class' driver is imported only when opened."""
    marker = tmp_path / "imported"
    (tmp_path / "lab_vendor_driver.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('x')\nclass Pstat:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    station = tmp_path / "station.yaml"
    station.write_text(STATION.read_text().replace("driver: emstat4", "driver: lab_vendor_driver:Pstat"))
    assert main(["check", "si_seed", "--station", str(station)]) == 0
    assert "total" in capsys.readouterr().out
    assert not marker.exists()


@pytest.mark.parametrize("command", [["control", "99999999999999999999999", "abort"],
                                     ["resume", "99999999999999999999999"],
                                     ["export", "99999999999999999999999", "-f", "csv", "-o", "out"],
                                     ["analyze", "99999999999999999999999"]])
def test_a_run_id_larger_than_any_database_integer(capsys, run_db, command):
    path, _ = run_db
    err = one_line_error(capsys, main([*command, "--db", str(path)]))
    assert "no run 99999999999999999999999" in err or "99999999999999999999999: no such run" in err
