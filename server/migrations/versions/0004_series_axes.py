"""One step and time axis per batch (series_axes) and per key only its values, with the block summaries beside
them in series_chunks (series_summaries goes): a batch's keys no longer each store the same steps and times.

Existing chunks are rebuilt from the history chunks, one run in memory at a time, with the ingest code itself,
so that data ingested before this revision reads back exactly as data ingested after it.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_OLD = "series_chunks_0003"
_NEW = "series_chunks_0004"


def _key_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sa.String(256), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("first_step", sa.BigInteger, nullable=False),
    ]


def _set_aside(name: str, to: str) -> None:
    """Rename a table out of the way (and, on PostgreSQL, its primary key's index, whose name is schema-wide)."""
    op.rename_table(name, to)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER INDEX {name}_pkey RENAME TO {to}_pkey")


def _uncompressed(table: str, *columns: str) -> None:
    """PostgreSQL would try to compress packed numbers (pglz, on the writer's path) for little gain."""
    if op.get_bind().dialect.name == "postgresql":
        for column in columns:
            op.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" SET STORAGE EXTERNAL')


def _fast_compression() -> None:
    """History rows (JSON) compress well: with lz4 where the PostgreSQL server has it (pglz costs more than
    all the rest of a batch's ingest)."""
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    query = "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
    if connection.exec_driver_sql(query).first() is not None:
        op.execute('ALTER TABLE history_chunks ALTER COLUMN "rows" SET COMPRESSION lz4')


def upgrade() -> None:
    import orjson

    from server import ingest

    _set_aside("series_chunks", _OLD)
    op.create_table(
        "series_axes",
        sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("steps", sa.LargeBinary, nullable=False),
        sa.Column("timestamps", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "series_chunks",
        *_key_columns(),
        sa.Column("last_step", sa.BigInteger, nullable=False),
        sa.Column("blocks", sa.LargeBinary, nullable=False),
        sa.Column("rows", sa.LargeBinary, nullable=True),
        sa.Column("values", sa.LargeBinary, nullable=False),
    )
    _uncompressed("series_axes", "steps", "timestamps")
    _uncompressed("series_chunks", "blocks", "rows", "values")
    _fast_compression()
    connection = op.get_bind()
    history = sa.table("history_chunks", sa.column("run_pk"), sa.column("seq"), sa.column("rows", sa.LargeBinary))
    for (run_pk,) in connection.execute(sa.select(history.c.run_pk).distinct()).all():
        chunks = connection.execute(sa.select(history).where(history.c.run_pk == run_pk)).all()
        for chunk in chunks:
            rows, _, by_key = ingest.columns(orjson.loads(chunk.rows))
            if rows:
                ingest.store_series(connection, run_pk, chunk.seq, ingest.series(by_key))
    op.drop_table(_OLD)
    op.drop_table("series_summaries")


def downgrade() -> None:
    import numpy as np

    from server import series_blocks

    _set_aside("series_chunks", _NEW)
    old = op.create_table(
        "series_chunks",
        *_key_columns(),
        sa.Column("last_step", sa.BigInteger, nullable=False),
        sa.Column("steps", sa.LargeBinary, nullable=False),
        sa.Column("timestamps", sa.LargeBinary, nullable=False),
        sa.Column("values", sa.LargeBinary, nullable=False),
    )
    summaries = op.create_table(
        "series_summaries", *_key_columns(), sa.Column("blocks", sa.LargeBinary, nullable=False)
    )
    connection = op.get_bind()
    new = sa.table(
        _NEW,
        *(sa.column(name) for name in ("run_pk", "key", "seq", "count", "first_step", "last_step")),
        sa.column("rows", sa.LargeBinary),
        sa.column("values", sa.LargeBinary),
    )
    axes = sa.table("series_axes", sa.column("run_pk"), sa.column("seq"), sa.column("steps"), sa.column("timestamps"))
    joined = new.join(axes, sa.and_(axes.c.run_pk == new.c.run_pk, axes.c.seq == new.c.seq))
    for (run_pk,) in connection.execute(sa.select(new.c.run_pk).distinct()).all():
        query = sa.select(new, axes.c.steps, axes.c.timestamps).select_from(joined).where(new.c.run_pk == run_pk)
        chunks, blocks = [], []
        for row in connection.execute(query).all():
            picked = slice(None) if row.rows is None else np.frombuffer(row.rows, "<u4")
            steps = np.frombuffer(row.steps, "<i8")[picked]
            values = np.frombuffer(row.values, "<f8")
            key = {"run_pk": run_pk, "key": row.key, "seq": row.seq, "count": row.count, "first_step": row.first_step}
            stamps = np.frombuffer(row.timestamps, "<f8")[picked].tobytes()
            chunks.append(
                {
                    **key,
                    "last_step": row.last_step,
                    "steps": steps.tobytes(),
                    "timestamps": stamps,
                    "values": row.values,
                }
            )
            blocks.append({**key, "blocks": series_blocks.summarise(steps, values[np.newaxis])[0]})
        if chunks:
            connection.execute(old.insert(), chunks)
            connection.execute(summaries.insert(), blocks)
    op.drop_table(_NEW)
    op.drop_table("series_axes")
