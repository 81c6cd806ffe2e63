"""Block summaries of each series chunk (server.series_blocks), so long series chart without reading every point;
chunks stored before this revision are summarised here.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    import numpy as np

    from server import series_blocks

    summaries = op.create_table(
        "series_summaries",
        sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sa.String(256), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("first_step", sa.BigInteger, nullable=False),
        sa.Column("blocks", sa.LargeBinary, nullable=False),
    )
    connection = op.get_bind()
    chunks = sa.table(
        "series_chunks",
        *(sa.column(name) for name in ("run_pk", "key", "seq", "count", "first_step")),
        sa.column("steps", sa.LargeBinary),
        sa.column("values", sa.LargeBinary),
    )
    for (run_pk,) in connection.execute(sa.select(chunks.c.run_pk).distinct()).all():  # one run in memory at a time
        rows = connection.execute(sa.select(chunks).where(chunks.c.run_pk == run_pk)).all()
        if rows:
            connection.execute(
                summaries.insert(),
                [
                    {
                        "run_pk": row.run_pk,
                        "key": row.key,
                        "seq": row.seq,
                        "count": row.count,
                        "first_step": row.first_step,
                        "blocks": series_blocks.summarise(
                            np.frombuffer(row.steps, "<i8"), np.frombuffer(row.values, "<f8")[np.newaxis]
                        )[0],
                    }
                    for row in rows
                ],
            )


def downgrade() -> None:
    op.drop_table("series_summaries")
