"""Schema versions with Alembic (scripts inside the package): check, create at head, upgrade."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection

from nanocell_daq.errors import UserError

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at our migration scripts; ``connection`` is handed to env.py."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The schema revision this code writes."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision stamped in the database (None for an empty database)."""
    return MigrationContext.configure(connection).get_current_revision()


def check_revision(connection: Connection, shown: str) -> None:
    """UserError unless the database is exactly at our head revision."""
    rev = current_revision(connection)
    head = head_revision()
    if rev == head:
        return
    script = ScriptDirectory.from_config(alembic_config())
    try:
        known = rev is not None and script.get_revision(rev) is not None
    except CommandError:
        known = False
    if not known:
        raise UserError(
            f"{shown}: the database schema (revision {rev}) is newer than this nanocell-daq "
            f"(knows up to {head}); upgrade nanocell-daq to open it"
        )
    raise UserError(
        f"{shown}: the database schema is older (revision {rev}, this nanocell-daq uses {head}); "
        f"run `nanocell db upgrade --db {shown}`"
    )


def upgrade_to_head(connection: Connection) -> None:
    """Migrate (or create) the schema on ``connection`` up to head; the caller commits."""
    command.upgrade(alembic_config(connection), "head")


def upgrade_database(url_or_path: str | os.PathLike[str]) -> tuple[str | None, str]:
    """Create or upgrade a store to head; returns (revision before, revision after)."""
    from nanocell_daq.storage.store import Store

    return Store.upgrade(url_or_path)
