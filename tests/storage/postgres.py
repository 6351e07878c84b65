"""A throwaway PostgreSQL server for the tests: its own cluster in a temporary folder, reached only through a
Unix socket in that folder (no TCP port, nothing shared with another test or process)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

from tests.parts import require


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))  # Debian keeps them off PATH
    return candidates[-1] if candidates else None


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    """Start a PostgreSQL cluster; yield its SQLAlchemy URL; stop and delete it. Calls ``require`` (fail in
    CI, skip elsewhere) when the server or the psycopg driver is missing."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        require("PostgreSQL", "initdb/pg_ctl not found (Debian postgresql; .ci/run installs it)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        require("PostgreSQL", "the psycopg driver is not installed (pip install -e '.[test]')")
    folder = tempfile.mkdtemp(prefix="nanocell-pg-")
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the postgres user
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            require("PostgreSQL", "running as root and there is no postgres user to run the server as")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log = os.path.join(folder, "data"), os.path.join(folder, "server.log")

    def run(*cmd: str) -> None:
        proc = subprocess.run([*as_user, *cmd], capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")

    try:
        run(initdb, "-D", data, "-U", "nanocell", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-c listen_addresses='' -c unix_socket_directories={folder} -c fsync=off"
        run(pg_ctl, "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start")
        try:
            yield f"postgresql+psycopg://nanocell@/postgres?host={folder}"
        finally:
            run(pg_ctl, "-D", data, "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
