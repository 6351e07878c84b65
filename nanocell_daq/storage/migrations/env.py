"""Alembic environment: migrations run on the connection that nanocell_daq.storage hands over."""

from __future__ import annotations

from alembic import context

from nanocell_daq.storage.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through nanocell_daq.storage (`nanocell db upgrade --db PATH`)")

# Batch mode lets later migrations alter SQLite tables (copy-and-move) and is a no-op on PostgreSQL.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
