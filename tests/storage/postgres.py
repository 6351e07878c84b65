"""A throwaway PostgreSQL server for the tests: its own cluster in a temporary folder, reached only through a
Unix socket in that folder (no TCP port, nothing shared with another test run), with password
authentication (scram-sha-256) so that the tests also see that a password never leaks.

One server per test process, started on first use (``server()``) and stopped when the process exits; each
test gets a database to itself (``fresh_url()``): the work database emptied, or a clone of a template
already migrated to the schema's head. ``require`` (fail in CI, skip elsewhere) is
called when the server or the psycopg driver is missing.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.parts import require

USER = "nanocell"
PASSWORD = "pg-Secret-4711"
"""The cluster's password: no test output, message or stored row may ever contain it."""


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))  # Debian keeps them off PATH
    return candidates[-1] if candidates else None


@dataclass
class Server:
    folder: str
    stop_cmd: list[str]
    _names: Iterator[int]
    _admin: Any = None
    _last_test: str | None = None

    def url(self, database: str = "postgres", *, password: bool = True) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"postgresql+psycopg://{USER}{secret}@/{database}?host={self.folder}"

    def admin(self, sql: str) -> None:
        import psycopg

        if self._admin is None or self._admin.closed:  # one connection: a scram login costs ~50 ms
            self._admin = psycopg.connect(host=self.folder, dbname="postgres", user=USER, password=PASSWORD,
                                          autocommit=True)
        self._admin.execute(sql)

    def fresh_url(self, *, empty: bool = False) -> str:
        """A database for this test alone, at the schema's head with no rows (or ``empty``: no tables).

        The first such database of a test is the shared work database, emptied (every row deleted, every
        id sequence restarted: ~50 ms); a second one in the same test, or an empty one, is a new database
        cloned from a template (~0.3-0.5 s)."""
        test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
        if not empty and test != self._last_test:
            self._last_test = test
            self._reset("nanocell_work")
            return self.url("nanocell_work")
        name = f"t{next(self._names)}"
        template = "template0" if empty else "nanocell_head"
        self.admin(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
        return self.url(name)

    def _reset(self, database: str) -> None:
        import psycopg

        from nanocell_daq.storage.schema import Base

        with psycopg.connect(host=self.folder, dbname=database, user=USER, password=PASSWORD) as con:
            con.execute("SET lock_timeout = '10s'")  # a connection a test left open fails it, not hangs
            for table in reversed(Base.metadata.sorted_tables):
                con.execute(f"DELETE FROM {table.name}")
            for (seq,) in con.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"):
                con.execute(f"ALTER SEQUENCE {seq} RESTART")

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
        subprocess.run(self.stop_cmd, capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


_server: Server | None = None
_failed: str | None = None


def server() -> Server:
    """The test process's server (started on first call); ``require`` when it cannot be started."""
    global _server, _failed
    if _server is not None:
        return _server
    if _failed is not None:
        require("PostgreSQL", _failed)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _failed = "the psycopg driver is not installed (pip install -e '.[test]')"
        require("PostgreSQL", _failed)
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        _failed = "initdb/pg_ctl not found (Debian postgresql; .ci/run installs it)"
        require("PostgreSQL", _failed)
    try:
        _server = _start(initdb, pg_ctl)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        _failed = f"the test server did not start: {exc}"
        require("PostgreSQL", _failed)
    atexit.register(_server.stop)
    from nanocell_daq.storage import Store

    _server.admin("CREATE DATABASE nanocell_head")
    Store.open(_server.url("nanocell_head")).close()
    _server.admin("ALTER DATABASE nanocell_head WITH IS_TEMPLATE true")
    _server.admin("CREATE DATABASE nanocell_work TEMPLATE nanocell_head STRATEGY FILE_COPY")
    return _server


def _start(initdb: str, pg_ctl: str) -> Server:
    folder = tempfile.mkdtemp(prefix="nanocell-pg-")
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the postgres user
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root and there is no postgres user to run the server as") from None
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log = os.path.join(folder, "data"), os.path.join(folder, "server.log")
    pwfile = os.path.join(folder, "pw")
    with open(pwfile, "w") as fh:
        fh.write(PASSWORD + "\n")
    if as_user:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)

    def run(*cmd: str) -> None:
        proc = subprocess.run([*as_user, *cmd], capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{os.path.basename(cmd[0])} failed: {proc.stderr[-2000:]}")

    try:
        run(initdb, "-D", data, "-U", USER, f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8",
            "--no-sync")
        os.remove(pwfile)
        options = (f"-c listen_addresses='' -c unix_socket_directories={folder} -c fsync=off "
                   "-c full_page_writes=off -c synchronous_commit=off -c max_connections=200")
        run(pg_ctl, "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    stop = [*as_user, pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"]
    return Server(folder, stop, itertools.count(1))


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    """A fresh database on the test server (kept for the older tests' module fixtures)."""
    yield server().fresh_url()
