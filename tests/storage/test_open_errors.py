"""Bad locations give one UserError naming the path, and leave the disk as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from nanocell_daq.errors import UserError
from nanocell_daq.storage import Store


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _corrupt_store(path: Path) -> None:
    Store.open(path).close()
    with path.open("r+b") as fh:
        fh.seek(4096)  # keep the header, destroy the schema pages
        fh.write(b"\x5a" * 4096)


def _foreign_sqlite(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE measurements (x REAL)")
    con.commit()
    con.close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("time,E\n0,3.7\n"), "not an SQLite file"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (_foreign_sqlite, "not a nanocell run database"),
        (_corrupt_store, "corrupt"),
        (lambda p: p.mkdir(), "is a folder"),
    ],
    ids=["text", "empty", "foreign-sqlite", "corrupt", "folder"],
)
def test_not_our_database(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "runs.db"
    make(path)
    before = _files(tmp_path)
    with pytest.raises(UserError, match=message) as err:
        Store.open(path)
    assert str(path) in str(err.value) or "runs.db" in str(err.value)
    assert _files(tmp_path) == before


def test_missing_folder_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"folder .* does not exist"):
        Store.open(tmp_path / "nope" / "runs.db")
    with pytest.raises(UserError, match="no such database"):
        Store.open(tmp_path / "runs.db", create=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        Store.open(tmp_path / "file" / "runs.db")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.parametrize(
    "url",
    [
        "nosuchdb://host/db",
        "postgresql+nosuchdriver://u:secret@host/db",
        "postgresql://u:secret@host:notaport/db",
        "sqlite://",
        "://nohost",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(UserError) as err:
        Store.open(url)
    assert "secret" not in str(err.value)


def test_url_to_an_sqlite_file_works(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'u.db'}") as store:
        store.create_run("p")
    with Store.open(tmp_path / "u.db", create=False) as store:
        assert len(store.runs()) == 1
