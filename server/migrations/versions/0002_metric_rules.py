"""Each run's define_metric() rules (step metric for the x axis, goal for sweeps).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_rules",
        sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("step_metric", sa.String(256), nullable=True),
        sa.Column("goal", sa.String(16), nullable=True),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("hidden", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("metric_rules")
