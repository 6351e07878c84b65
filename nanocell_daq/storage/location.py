"""Where a store lives: a plain path or an SQLAlchemy URL, checked before anything is created or written."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from nanocell_daq.errors import UserError

SQLITE_MAGIC = b"SQLite format 3\x00"
OUR_TABLES = frozenset({"alembic_version", "runs", "steps"})


@dataclass(frozen=True)
class Location:
    """A resolved store location: ``url`` to connect, ``path`` for SQLite files, ``shown`` for messages."""

    url: URL
    path: Path | None
    shown: str

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"


def resolve(url_or_path: str | os.PathLike[str]) -> Location:
    """Turn what the user typed into a Location; UserError for a URL SQLAlchemy cannot use."""
    text = os.fspath(url_or_path)
    if "://" not in text:
        path = Path(text).expanduser().absolute()
        return Location(URL.create("sqlite+pysqlite", database=str(path)), path, str(text))
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as exc:
        raise UserError(f"{redact(text)}: not a usable database URL or path ({redact(str(exc))})") from None
    shown = redact(url.render_as_string(hide_password=True))  # never a password (nor ?password=...)
    if url.drivername in PLAIN_DRIVERNAMES:  # postgresql:// and postgres:// mean psycopg 3 here
        url = url.set(drivername=PLAIN_DRIVERNAMES[url.drivername])
    try:
        dialect = url.get_dialect()
    except (NoSuchModuleError, ImportError) as exc:
        raise UserError(f"{shown}: not a usable database URL: unknown database or driver ({exc})") from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise UserError(f"{shown}: {_missing_driver(url, exc)}") from None
    if url.get_backend_name() != "sqlite":
        return Location(url, None, shown)
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise UserError(f"{shown}: give an SQLite file (in-memory databases cannot be shared by processes)")
    return Location(url, Path(url.database).expanduser().absolute(), shown)


PLAIN_DRIVERNAMES = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}
"""URL schemes without a driver and the driver we use for them (SQLAlchemy 2.0 would pick psycopg2)."""

_USERINFO_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|[^\s&]+)", re.IGNORECASE)


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every URL password (``scheme://user:PASSWORD@``), ``password=...`` keyword and each of
    ``secrets`` replaced by ``***``: for messages, logs and anything stored."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _USERINFO_PASSWORD.sub(r"\1***@", text)
    return _KEYWORD_PASSWORD.sub(r"\1***", text)


def without_password(url_or_path: str | os.PathLike[str]) -> tuple[str, str | None]:
    """``(the URL without its password, the password)`` to hand a child process the URL on its command
    line and the password in its environment (``PGPASSWORD``); a path or a URL without one is unchanged."""
    text = os.fspath(url_or_path)
    if "://" not in text:
        return text, None
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        return redact(text), None
    secret = url.password or url.query.get("password")
    if not secret or not isinstance(secret, str):
        return text, None
    bare = url._replace(password=None).difference_update_query(["password"])
    return bare.render_as_string(hide_password=False), secret


def shown_error(loc: Location, exc: BaseException) -> str:
    """A database error as one line for ``loc``: the driver's own message, password redacted."""
    detail = getattr(exc, "orig", None) or exc
    text = " ".join(str(detail).split()) or type(detail).__name__
    if "password" in text and not loc.is_sqlite:
        text += "; the password comes from the URL, PGPASSWORD or a pgpass file (~/.pgpass or PGPASSFILE)"
    secrets = (loc.url.password, loc.url.query.get("password"))
    return redact(text, *(s for s in secrets if isinstance(s, str)))


DRIVER_PACKAGES = {
    "psycopg": ("psycopg[binary]", "postgres"),
    "psycopg2": ("psycopg2-binary", None),
    "MySQLdb": ("mysqlclient", None),
    "pymysql": ("PyMySQL", None),
}
"""Python module of a database driver -> (pip package, nanocell-daq extra that installs it, if any)."""


def _missing_driver(url: URL, exc: ImportError) -> str:
    """One line saying which package to install for the URL's driver."""
    module = (exc.name or "").split(".")[0] or url.get_driver_name()
    package, extra = DRIVER_PACKAGES.get(module, (module, None))
    how = f"pip install '{package}'" + (f" (or: pip install 'nanocell-daq[{extra}]')" if extra else "")
    return f"the {url.get_backend_name()} driver {module!r} is not installed: {how}"


def check_new_file(loc: Location) -> None:
    """Before creating an SQLite file: its folder must exist and be writable."""
    assert loc.path is not None
    parent = loc.path.parent
    if not parent.exists():
        raise UserError(f"{loc.shown}: cannot create the database: folder {parent} does not exist")
    if not parent.is_dir():
        raise UserError(f"{loc.shown}: cannot create the database: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{loc.shown}: cannot create the database: folder {parent} is not writable")


JUST_CREATED_S = 10.0
"""An empty database file younger than this may be one another process is creating right now."""
CREATION_WAIT_S = 5.0
"""How long to wait for that other process to write its schema."""


def _head(loc: Location, path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise UserError(f"{loc.shown}: cannot read the database: {exc.strerror}") from None


def check_existing_file(loc: Location, *, creating: bool = False) -> None:
    """An existing SQLite file must be one of our stores; checked read-only, so nothing is changed.

    ``creating``: the caller would create the store; an empty file created moments ago is then taken for
    one another process is creating (two runs started together on a new database), and waited for.
    """
    path = loc.path
    assert path is not None
    if path.is_dir():
        raise UserError(f"{loc.shown}: is a folder, not a database file")
    head = _head(loc, path)
    if not head and creating:
        deadline = time.monotonic() + CREATION_WAIT_S
        with contextlib.suppress(OSError):
            while (not head and time.monotonic() < deadline
                   and time.time() - path.stat().st_mtime < JUST_CREATED_S):
                time.sleep(0.05)
                head = _head(loc, path)
    if head != SQLITE_MAGIC:
        what = "an empty file" if not head else "not an SQLite file"
        raise UserError(f"{loc.shown}: is not a nanocell run database ({what}); nothing was changed")
    side_files = [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm")]
    absent = [f for f in side_files if not f.exists()]
    try:
        _check_tables(loc, path)
    except UserError:
        # SQLite makes -wal/-shm next to a WAL-mode file even read-only; leave the folder as we found it.
        for f in absent:
            f.unlink(missing_ok=True)
        raise


def _check_tables(loc: Location, path: Path) -> None:
    try:
        con = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            names = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if names >= OUR_TABLES:
                con.execute("SELECT version_num FROM alembic_version").fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise UserError(
            f"{loc.shown}: the database file is corrupt or unreadable ({exc}); nothing was changed"
        ) from None
    if not names >= OUR_TABLES:
        raise UserError(
            f"{loc.shown}: is an SQLite database but not a nanocell run database "
            f"(no runs/alembic_version tables); nothing was changed"
        )
