"""``nanocell db upgrade``, ``nanocell runs`` and ``nanocell bench storage`` as a user runs them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from nanocell_daq.cli import main
from nanocell_daq.storage import Store


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {p.name: (p.read_bytes() if p.is_file() else None) for p in folder.iterdir()}


def test_db_upgrade_creates_then_reports_up_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.db"
    assert main(["db", "upgrade", "--db", str(db)]) == 0
    assert "created" in capsys.readouterr().out
    assert main(["db", "upgrade", "--db", str(db)]) == 0
    assert "already at schema revision" in capsys.readouterr().out
    assert main(["runs", "--db", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_runs_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "runs.db"
    with Store.open(db) as store:
        dev = store.add_device("SIM-SI-01")
        first = store.create_run("si-seed", device_id=dev)
        for k in range(3):
            store.start_step(first, k, "rest")
        store.finish_run(first, "completed")
        second = store.create_run("h2v3o8-shallow")
        store.finish_run(second, "aborted", reason="user")
    assert main(["runs", "--db", str(db), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["status"], r["device"], r["protocol_name"], r["steps"]) for r in rows] == [
        (first, "completed", "SIM-SI-01", "si-seed", 3),
        (second, "aborted", None, "h2v3o8-shallow", 0),
    ]
    assert rows[0]["started"].endswith("+00:00")
    assert main(["runs", "--db", str(db)]) == 0
    table = capsys.readouterr().out
    assert "si-seed" in table and "aborted" in table and "SIM-SI-01" in table


def _older_store(path: Path) -> None:
    Store.open(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE alembic_version SET version_num = '0001'")
    con.execute("DROP TABLE run_progress")
    con.execute("DROP TABLE leases")  # added by 0003
    con.execute("DROP TABLE queue_entries")  # added by 0004
    con.execute("DROP TABLE provenance")  # added by 0005
    con.commit()
    con.close()


def _newer_store(path: Path) -> None:
    Store.open(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE alembic_version SET version_num = 'ffff_future'")
    con.commit()
    con.close()


def _foreign_sqlite(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE samples (t REAL, v REAL)")
    con.commit()
    con.close()


def _corrupt(path: Path) -> None:
    Store.open(path).close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xa5" * (4096 - 100)  # page 1 after the header: the schema is gone
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("command", [["runs"], ["db", "upgrade"]])
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("t,E\n0,3.7\n"), "not a nanocell run database"),
        (_foreign_sqlite, "not a nanocell run database"),
        (_corrupt, "corrupt"),
        (_newer_store, "newer than this nanocell-daq"),
    ],
    ids=["text-file", "other-sqlite", "corrupt", "newer"],
)
def test_bad_databases_fail_clearly_and_stay_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], make, message: str
) -> None:
    db = tmp_path / "runs.db"
    make(db)
    before = _snapshot(tmp_path)
    assert main([*command, "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(db) in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert _snapshot(tmp_path) == before


def test_older_database_asks_for_upgrade_then_upgrades(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.db"
    _older_store(db)
    assert main(["runs", "--db", str(db)]) == 2
    assert f"run `nanocell db upgrade --db {db}`" in capsys.readouterr().err
    assert main(["db", "upgrade", "--db", str(db)]) == 0
    assert "upgraded from schema revision 0001" in capsys.readouterr().out
    assert main(["runs", "--db", str(db), "--json"]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "--db", "{tmp}/missing.db"], "no such database"),
        (["db", "upgrade", "--db", "{tmp}/no/such/folder/runs.db"], "does not exist"),
        (["db", "upgrade", "--db", "{tmp}"], "is a folder"),
        (["runs", "--db", "nosuchdialect://host/db"], "not a usable database URL"),
        (["runs", "--db", "postgresql+nodriver://u:pw@h/db"], "unknown database or driver"),
    ],
)
def test_bad_locations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    before = _snapshot(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and args[-1].replace("u:pw@", "u:***@") in err
    assert _snapshot(tmp_path) == before


def test_bench_storage_quick_prints_the_json_figures_last(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "storage", "--quick"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    for key in ("raw_rows_per_s", "api_rows_per_s_20k", "api_rows_per_s_2m", "spectra_per_s", "load_1m_s"):
        assert figures[key] > 0
    assert any("raw" in line and "rows/s" in line for line in lines[:-1])


def test_bench_storage_on_postgresql_has_the_same_keys_and_leaves_the_database_as_it_was(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.storage.postgres import PASSWORD, server

    url = server().fresh_url()
    with Store.open(url, create=False) as store:
        store.create_run("a lab run")
    assert main(["bench", "storage", "--quick"]) == 0
    on_sqlite = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main(["bench", "storage", "--quick", "--db", url]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures.keys() == on_sqlite.keys()
    assert figures["backend"] == "postgresql" and on_sqlite["backend"] == "sqlite"
    for key in ("raw_rows_per_s", "api_rows_per_s_20k", "api_rows_per_s_2m", "spectra_per_s", "load_1m_s"):
        assert figures[key] > 0
    assert any(line.startswith("raw psycopg COPY") for line in lines) and PASSWORD not in out
    with Store.open(url, create=False) as store:  # the benchmark's schema is gone, the lab's runs untouched
        assert [r.protocol_name for r in store.runs()] == ["a lab run"]
        with store._engine.connect() as conn:
            schemas = conn.exec_driver_sql("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'nanocell%%'")
            assert schemas.all() == []
