"""The first schema: devices, runs, steps, data tables, derived results, events, control.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chip", sa.String(200), nullable=False),
        sa.Column("wire", sa.String(200), nullable=False),
        sa.Column("materials", sa.JSON(), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("device_id", sa.Integer(), sa.ForeignKey("devices.id"), nullable=True),
        sa.Column("protocol_name", sa.String(200), nullable=False),
        sa.Column("protocol_text", sa.Text(), nullable=False),
        sa.Column("station", sa.JSON(), nullable=False),
        sa.Column("software_version", sa.String(64), nullable=False),
        sa.Column("operator", sa.String(200), nullable=True),
        sa.Column("started", sa.DateTime(), nullable=False),
        sa.Column("ended", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_runs_device_id", "runs", ["device_id"])
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_table(
        "steps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("started", sa.DateTime(), nullable=True),
        sa.Column("ended", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(200), nullable=True),
        sa.UniqueConstraint("run_id", "index", name="uq_steps_run_index"),
    )
    op.create_index("ix_steps_run_id", "steps", ["run_id"])
    op.create_table(
        "cycling_blocks",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("step_id", sa.Integer(), sa.ForeignKey("steps.id"), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("t_first_s", sa.Double(), nullable=False),
        sa.Column("t_last_s", sa.Double(), nullable=False),
        sa.Column("t_s", sa.LargeBinary(), nullable=False),
        sa.Column("e_v", sa.LargeBinary(), nullable=False),
        sa.Column("i_a", sa.LargeBinary(), nullable=False),
        sa.Column("q_c", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_cycling_blocks_run_id", "cycling_blocks", ["run_id"])
    op.create_index("ix_cycling_blocks_step_id", "cycling_blocks", ["step_id"])
    op.create_table(
        "iv_points",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("step_id", sa.Integer(), sa.ForeignKey("steps.id"), nullable=False),
        sa.Column("v_v", sa.Double(), nullable=False),
        sa.Column("i_a", sa.Double(), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("pair", sa.String(32), nullable=False),
        sa.Column("t_s", sa.Double(), nullable=True),
    )
    op.create_index("ix_iv_points_run_id", "iv_points", ["run_id"])
    op.create_index("ix_iv_points_step_id", "iv_points", ["step_id"])
    op.create_table(
        "wavenumber_axes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("values", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "map_grids",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("step_id", sa.Integer(), sa.ForeignKey("steps.id"), nullable=True),
        sa.Column("x0_um", sa.Double(), nullable=False),
        sa.Column("y0_um", sa.Double(), nullable=False),
        sa.Column("z_um", sa.Double(), nullable=False),
        sa.Column("dx_um", sa.Double(), nullable=False),
        sa.Column("dy_um", sa.Double(), nullable=False),
        sa.Column("nx", sa.Integer(), nullable=False),
        sa.Column("ny", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
    )
    op.create_index("ix_map_grids_run_id", "map_grids", ["run_id"])
    op.create_table(
        "spectra",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("step_id", sa.Integer(), sa.ForeignKey("steps.id"), nullable=False),
        sa.Column("x_um", sa.Double(), nullable=False),
        sa.Column("y_um", sa.Double(), nullable=False),
        sa.Column("z_um", sa.Double(), nullable=False),
        sa.Column("exposure_s", sa.Double(), nullable=False),
        sa.Column("counts", sa.LargeBinary(), nullable=False),
        sa.Column("axis_id", sa.Integer(), sa.ForeignKey("wavenumber_axes.id"), nullable=False),
        sa.Column("grid_id", sa.Integer(), sa.ForeignKey("map_grids.id"), nullable=True),
        sa.Column("pixel", sa.Integer(), nullable=True),
        sa.Column("t_s", sa.Double(), nullable=True),
    )
    op.create_index("ix_spectra_run_id", "spectra", ["run_id"])
    op.create_index("ix_spectra_step_id", "spectra", ["step_id"])
    op.create_table(
        "derived_results",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("params_hash", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("software_version", sa.String(64), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("run_id", "kind", "params_hash", name="uq_derived_key"),
    )
    op.create_table(
        "events",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("step_id", sa.Integer(), sa.ForeignKey("steps.id"), nullable=True),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
    )
    op.create_index("ix_events_run_id", "events", ["run_id"])
    op.create_table(
        "control",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=True),
        sa.Column("requested", sa.DateTime(), nullable=False),
        sa.Column("acknowledged", sa.DateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_control_run_id", "control", ["run_id"])


def downgrade() -> None:
    for table in (
        "control",
        "events",
        "derived_results",
        "spectra",
        "map_grids",
        "wavenumber_axes",
        "iv_points",
        "cycling_blocks",
        "steps",
        "runs",
        "devices",
    ):
        op.drop_table(table)
