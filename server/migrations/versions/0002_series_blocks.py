"""Block summaries of each series chunk (server.series_blocks), so long series chart without reading every point.

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
    # chunks stored before this revision have none and are charted from their points
    op.add_column("series_chunks", sa.Column("blocks", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("series_chunks") as table:
        table.drop_column("blocks")
