"""`run`/`demo`/`control`/`resume`/`runs` from the shell: one default database (and $NANOCELL_DB), choices
for control actions, a log file per command, progress lines when redirected, no empty database left by a
failed command, UTF-8 kept in `runs --json`. The engine is replaced where only the CLI around it is tested."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from nanocell_daq.cli import main
from nanocell_daq.cli.run_output import ProgressLines
from nanocell_daq.errors import UserError
from nanocell_daq.storage import Store

STATION = Path(__file__).parents[1] / "engine" / "station_si.yaml"


class FakeEngine:
    """Stands in for ``engine.service.run_plan``: reports progress, then finishes or fails."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail, self.kwargs = fail, {}

    def __call__(self, plan, store, **kw):
        self.kwargs = kw
        for k in range(3):
            kw["on_progress"](f"step {k}: iv pristine", k / 3, 100.0 - k)
        kw["on_log"]("warning", "compliance reached at 0.4 V")
        if self.fail is not None:
            raise self.fail
        run = store.create_run("si_seed", "", operator=kw.get("operator"))
        store.finish_run(run, "completed")
        return SimpleNamespace(run_id=run, status="completed", reason=None)


@pytest.fixture
def engine(monkeypatch):
    fake = FakeEngine()
    monkeypatch.setattr("nanocell_daq.engine.service.run_plan", fake)
    return fake


def test_run_without_db_uses_the_guis_default_and_the_env_variable(tmp_path, monkeypatch, engine, capsys):
    from nanocell_daq.gui.app import default_db

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NANOCELL_DB", raising=False)
    assert main(["run", "si_seed", "--station", str(STATION)]) == 0
    assert engine.kwargs["db_label"] == "nanocell-runs.db"
    assert Path(default_db()) == tmp_path / "nanocell-runs.db"  # the GUI opens the same file
    monkeypatch.setenv("NANOCELL_DB", str(tmp_path / "lab.db"))
    assert main(["run", "si_seed", "--station", str(STATION)]) == 0
    assert engine.kwargs["db_label"] == str(tmp_path / "lab.db")
    capsys.readouterr()
    assert main(["analyze", "2"]) == 2  # analyze/export/report read $NANOCELL_DB too: run 1 is there
    err = capsys.readouterr().err
    assert "no run 2" in err and "no such database" not in err, err


def test_redirected_run_prints_progress_lines_and_writes_a_log(tmp_path, engine, capsys):
    db = tmp_path / "runs.db"
    assert main(["run", "si_seed", "--station", str(STATION), "--db", str(db)]) == 0
    err = capsys.readouterr().err
    assert err.count(" progress ") == 3  # one line per new step; stderr is not a terminal here
    assert "ETA 1 min 40 s" in err or "ETA" in err
    log_line = next(line for line in err.splitlines() if line.startswith("log: "))
    log = Path(log_line[5:])
    assert log.parent == tmp_path / "run-logs" and log.name.startswith("cli-run-")
    text = log.read_text(encoding="utf-8")
    assert "warning: compliance reached at 0.4 V" in text and "run 1 completed" in text
    assert text.count(" progress ") == 3


def test_progress_lines_every_interval_and_at_each_new_step():
    import io

    now = [0.0]
    out = io.StringIO()
    lines = ProgressLines(out, every_s=10.0, clock=lambda: now[0])
    for t, label in [(0, "a"), (5, "a"), (10, "a"), (11, "b"), (12, "b"), (25, "b")]:
        now[0] = float(t)
        lines.update(label, 0.5, "1 min")
    assert [line.split()[-1] for line in out.getvalue().splitlines()] == ["a", "a", "b", "b"]


def test_a_failed_run_leaves_no_new_database_file_but_keeps_an_old_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("nanocell_daq.engine.service.run_plan", FakeEngine(UserError("station not ready")))
    db = tmp_path / "new.db"
    assert main(["run", "si_seed", "--station", str(STATION), "--db", str(db)]) == 2
    assert "station not ready" in capsys.readouterr().err
    assert not db.exists() and not Path(f"{db}-wal").exists()
    logs = list((tmp_path / "run-logs").glob("cli-run-*.log"))
    assert len(logs) == 1 and "station not ready" in logs[0].read_text(encoding="utf-8")
    old = tmp_path / "old.db"
    with Store.open(old) as s:
        s.finish_run(s.create_run("earlier", ""), "completed")
    assert main(["run", "si_seed", "--station", str(STATION), "--db", str(old)]) == 2
    assert old.exists()
    with Store.open(old, create=False) as s:
        assert [r.protocol_name for r in s.runs()] == ["earlier"]


def test_control_action_is_a_choice(tmp_path, capsys):
    assert main(["control", "1", "pasue", "--db", str(tmp_path / "x.db")]) == 2
    err = capsys.readouterr().err
    assert "'pasue' is not one of" in err and "'pause'" in err and "'abort'" in err
    assert not (tmp_path / "x.db").exists()


def test_resume_operator_has_help(capsys):
    assert main(["resume", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Who continues it" in out and "NANOCELL_DB" in out


def test_runs_json_keeps_non_ascii(tmp_path, capsys):
    db = tmp_path / "r.db"
    with Store.open(db) as s:
        s.finish_run(s.create_run("Siliciüm – Zoë", "", operator="Zoë"), "completed")
    assert main(["runs", "--db", str(db), "--json"]) == 0
    out = capsys.readouterr().out
    assert "Siliciüm – Zoë" in out and "\\u" not in out
    assert json.loads(out)[0]["protocol_name"] == "Siliciüm – Zoë"


def test_the_log_gets_our_packages_log_records(tmp_path, monkeypatch, capsys):
    import logging

    def engine(plan, store, **kw):
        logging.getLogger("drivers.keithley2450").warning("SMU answered late")
        raise UserError("gave up")

    monkeypatch.setattr("nanocell_daq.engine.service.run_plan", engine)
    assert main(["run", "si_seed", "--station", str(STATION), "--db", str(tmp_path / "r.db")]) == 2
    (log,) = (tmp_path / "run-logs").glob("*.log")
    text = log.read_text(encoding="utf-8")
    assert "WARNING drivers.keithley2450: SMU answered late" in text and "gave up" in text
    assert not logging.getLogger("drivers").handlers  # detached again


def test_a_failed_demo_leaves_no_database_file(tmp_path, monkeypatch, capsys):
    def no_bench(*args, **kwargs):
        raise UserError("simulated bench: cannot bind a loopback port")

    monkeypatch.setattr("simulated_instruments.bench.SimulatedBench", no_bench)
    db = tmp_path / "demo.db"
    assert main(["demo", "--db", str(db)]) == 2
    assert "cannot bind" in capsys.readouterr().err
    assert not db.exists()
