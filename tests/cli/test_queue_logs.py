"""``nanocell queue run`` writes one log file per run (as ``run`` does), its path printed as the run starts.
The engine is replaced: only the CLI around it is tested."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from nanocell_daq.cli import main

STATION = Path(__file__).parents[1] / "engine" / "station_si.yaml"


def test_queue_run_writes_a_log_per_run_and_prints_its_path(tmp_path, monkeypatch, capsys):
    def engine(plan, store, **kw):
        run = store.create_run(plan.protocol.name, "")
        kw["on_run_created"](run)
        kw["on_progress"]("iv pristine", 0.5, 10.0)
        kw["on_log"]("warning", f"compliance reached in run {run}")
        store.finish_run(run, "completed")
        return SimpleNamespace(run_id=run, status="completed", reason=None)

    monkeypatch.setattr("nanocell_daq.engine.service.run_plan", engine)
    db = tmp_path / "runs.db"
    for _ in range(2):
        assert main(["queue", "add", "si_seed", "--station", str(STATION), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["queue", "run", "--station", str(STATION), "--db", str(db)]) == 0
    captured = capsys.readouterr()
    printed = [Path(line[5:]) for line in captured.err.splitlines() if line.startswith("log: ")]
    assert len(printed) == 2 and printed[0] != printed[1]
    assert all(p.parent == tmp_path / "run-logs" for p in printed)
    for k, log in enumerate(printed, start=1):
        assert log.name.startswith(f"cli-queue-entry{k}-")
        text = log.read_text(encoding="utf-8")
        assert f"compliance reached in run {k}" in text and f"run {k} completed" in text
        assert " progress " in text


def test_queue_list_json_keeps_non_ascii(tmp_path, capsys):
    db = tmp_path / "runs.db"
    add = ["queue", "add", "si_seed", "--station", str(STATION), "--db", str(db), "--operator", "Zoë"]
    assert main(add) == 0
    capsys.readouterr()
    assert main(["queue", "list", "--db", str(db), "--json"]) == 0
    out = capsys.readouterr().out
    assert '"added_by": "Zoë"' in out and "\\u" not in out
