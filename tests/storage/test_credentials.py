"""A database password never shows: not in an error (bad host, bad password, missing database, missing
driver), not in the CLI's output, not in anything stored. It may come from PGPASSWORD or a pgpass file."""

from __future__ import annotations

import os
import re
import sys

import pytest

from nanocell_daq.cli import main
from nanocell_daq.errors import UserError
from nanocell_daq.storage import Store
from tests.storage.postgres import PASSWORD, USER, server

WRONG = "Wr0ng-Pass-0815"


def _url(database: str, password: str | None, host: str) -> str:
    secret = f":{password}" if password else ""
    return f"postgresql://{USER}{secret}@/{database}?host={host}"


def _open_error(url: str) -> str:
    with pytest.raises(UserError) as err:
        Store.open(url, create=False)
    text = str(err.value)
    assert "\n" not in text
    return text


def test_every_connection_error_is_one_line_without_the_password(monkeypatch, tmp_path) -> None:
    srv = server()
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    bad_host = _open_error(f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:1/runs")
    assert "cannot open the database" in bad_host and "Connection refused" in bad_host
    bad_socket = _open_error(_url("runs", PASSWORD, str(tmp_path / "no-server")))
    assert "No such file or directory" in bad_socket
    bad_password = _open_error(_url("postgres", WRONG, srv.folder))
    assert "password authentication failed" in bad_password and "PGPASSWORD" in bad_password
    no_password = _open_error(_url("postgres", None, srv.folder))
    assert "no password supplied" in no_password
    missing_db = _open_error(_url("no_such_db", PASSWORD, srv.folder))
    assert 'database "no_such_db" does not exist' in missing_db
    in_query = _open_error(f"postgresql://{USER}@/no_such_db?host={srv.folder}&password={PASSWORD}")
    assert "password=***" in in_query and "does not exist" in in_query and PASSWORD not in in_query
    monkeypatch.setitem(sys.modules, "psycopg", None)
    no_driver = _open_error(_url("postgres", PASSWORD, srv.folder))
    assert "pip install 'nanocell-daq[postgres]'" in no_driver
    for text in (bad_host, bad_socket, bad_password, missing_db, no_driver):
        assert PASSWORD not in text and WRONG not in text
        assert ":***@" in text  # the URL is still named, without its password


def test_the_password_from_pgpassword_or_a_pgpass_file(monkeypatch, tmp_path) -> None:
    srv = server()
    url = srv.fresh_url()
    bare = url.replace(f":{PASSWORD}@", "@")
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    with pytest.raises(UserError, match="no password supplied"):
        Store.open(bare, create=False)
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    with Store.open(bare, create=False) as store:
        store.create_run("from PGPASSWORD")
    monkeypatch.delenv("PGPASSWORD")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"*:*:*:{USER}:{PASSWORD}\n")
    os.chmod(pgpass, 0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    with Store.open(bare, create=False) as store:
        assert [r.protocol_name for r in store.runs()] == ["from PGPASSWORD"]


def test_cli_output_and_stored_rows_never_hold_the_password(capsys, tmp_path) -> None:
    srv = server()
    url = srv.fresh_url(empty=True)
    assert main(["db", "upgrade", "--db", url]) == 0
    assert main(["db", "upgrade", "--db", url]) == 0
    with Store.open(url, create=False) as store:
        run = store.create_run("p", station={"db": store.location.shown})
    assert main(["runs", "--db", url]) == 0
    assert main(["runs", "--db", url, "--json"]) == 0
    assert main(["control", str(run), "pause", "--db", url]) == 0
    assert main(["control", "999", "pause", "--db", url]) == 2
    bad = url.replace(PASSWORD, WRONG)
    assert main(["runs", "--db", bad]) == 2
    assert main(["bench", "storage", "--quick", "--db", bad]) == 2  # the error paths added for PostgreSQL
    assert main(["db", "copy", "1", "--from", bad, "--to", str(tmp_path / "copy.db")]) == 2
    assert main(["db", "copy", "1", "--from", url, "--to", bad]) == 2
    out = capsys.readouterr()
    text = out.out + out.err
    assert "created at schema revision" in text and "already at schema revision" in text
    assert f"runsinpostgresql+psycopg://{USER}:***@" in re.sub(r"\s+", "", text)  # the table title
    assert "no run 999" in text and text.count("password authentication failed") == 4
    assert PASSWORD not in text and WRONG not in text
    import psycopg
    from sqlalchemy.engine import make_url

    with psycopg.connect(host=srv.folder, dbname=make_url(url).database, user=USER,
                         password=PASSWORD) as con:
        tables = [r[0] for r in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for table in tables:
            dump = con.execute(f"SELECT string_agg(t::text, '|') FROM {table} t").fetchone()[0] or ""
            assert PASSWORD not in dump, table


def test_the_gui_starts_an_engine_with_the_password_in_its_environment_not_its_command_line(
    tmp_path, monkeypatch
) -> None:
    from nanocell_daq.viewmodels import RunControlModel

    url = server().fresh_url()
    calls: list[tuple[list[str], dict]] = []

    class Process:
        returncode = None
        pid = 4242

        def poll(self) -> None:
            return None

    def launcher(cmd: list[str], **kwargs: object) -> Process:
        calls.append((cmd, kwargs))
        return Process()

    (tmp_path / "p.yaml").write_text("steps: []\n")
    (tmp_path / "s.yaml").write_text("station: {}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NANOCELL_LOG_DIR", raising=False)  # (the suite sets it)
    with Store.open(url, create=False) as store:
        control = RunControlModel(store, url)
        control.launcher = launcher  # type: ignore[assignment]
        control.start(tmp_path / "p.yaml", tmp_path / "s.yaml")
    ((cmd, kwargs),) = calls
    assert PASSWORD not in " ".join(cmd)
    from sqlalchemy.engine import make_url

    assert make_url(cmd[cmd.index("--db") + 1]) == make_url(url.replace(f":{PASSWORD}@", "@"))
    assert kwargs["env"]["PGPASSWORD"] == PASSWORD  # type: ignore[index]
    assert control.log_path.parent == tmp_path / "run-logs"  # not a folder named after the URL
