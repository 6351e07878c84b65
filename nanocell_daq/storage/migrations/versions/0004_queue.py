"""The run queue: protocols waiting to run on a station's devices (``queue_entries``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("added", sa.DateTime(), nullable=False),
        sa.Column("added_by", sa.String(200), nullable=True),
        sa.Column("protocol", sa.String(500), nullable=False),
        sa.Column("protocol_text", sa.Text(), nullable=False),
        sa.Column("station", sa.String(1000), nullable=True),
        sa.Column("device", sa.String(200), nullable=True),
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.Column("stop_on_failure", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("runner_host", sa.String(255), nullable=True),
        sa.Column("runner_pid", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("started", sa.DateTime(), nullable=True),
        sa.Column("ended", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_queue_entries_state", "queue_entries", ["state"])


def downgrade() -> None:
    op.drop_index("ix_queue_entries_state", table_name="queue_entries")
    op.drop_table("queue_entries")
