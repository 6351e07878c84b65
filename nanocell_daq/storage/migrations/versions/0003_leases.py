"""Leases: one engine per station and per run (holder, host, pid, heartbeat, fencing token).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("station", sa.String(200), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("holder", sa.String(64), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("heartbeat", sa.DateTime(), nullable=True),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=True),
    )
    op.create_index("ix_leases_run_id", "leases", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_leases_run_id", table_name="leases")
    op.drop_table("leases")
