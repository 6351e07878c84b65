"""Provenance of each run session (start, resumes): software, host, operator, station and protocol texts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provenance",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("session", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("recorded", sa.DateTime(), nullable=False),
        sa.Column("software_version", sa.String(64), nullable=False),
        sa.Column("git_commit", sa.String(64), nullable=True),
        sa.Column("git_dirty", sa.Boolean(), nullable=True),
        sa.Column("python", sa.String(200), nullable=False),
        sa.Column("libraries", sa.JSON(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("operator", sa.String(200), nullable=True),
        sa.Column("station_path", sa.Text(), nullable=True),
        sa.Column("station_text", sa.Text(), nullable=False),
        sa.Column("device", sa.String(200), nullable=True),
        sa.Column("protocol_name", sa.String(200), nullable=False),
        sa.Column("protocol_path", sa.Text(), nullable=True),
        sa.Column("protocol_text", sa.Text(), nullable=False),
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.UniqueConstraint("run_id", "session", name="uq_provenance_run_session"),
    )
    op.create_index("ix_provenance_run_id", "provenance", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_provenance_run_id", table_name="provenance")
    op.drop_table("provenance")
