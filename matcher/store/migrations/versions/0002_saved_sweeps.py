"""Saved sweeps: a run has a kind (solve or sweep); a sweep keeps its options, its summary and its draws.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 20:10:00
"""

# mypy: ignore-errors
# (Alembic operations; sqlmodel.sql.sqltypes is untyped)

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # server_default: the runs saved before this revision are single solves
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), server_default="solve", nullable=False)
        )

    op.create_table(
        "run_sweep",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("output_json", sa.Text(), nullable=False),
        sa.Column("executor", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("workers", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_table(
        "run_draw",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("point", sa.Integer(), nullable=False),
        sa.Column("draws_json", sa.Text(), nullable=False),
        sa.Column("pledges_json", sa.Text(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("coverage", sa.Float(), nullable=True),
        sa.Column("placed", sa.Integer(), nullable=False),
        sa.Column("grants", sa.Integer(), nullable=False),
        sa.Column("outcome_json", sa.Text(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "position"),
    )
    with op.batch_alter_table("run_draw", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_draw_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("run_draw", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_draw_run_id"))
    op.drop_table("run_draw")
    op.drop_table("run_sweep")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("kind")
