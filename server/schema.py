"""The server's tables (SQLAlchemy Core): accounts and keys, runs, ingest cursors, history and series chunks,
and each run's define_metric() rules.

History arrives in batches; each batch is stored as one chunk of rows (for exact reads), its step and time
axis once, and per numeric key one packed array of values (for charts), so ingesting 10,000 rows costs a
handful of inserts and every key's points cost 8 bytes each, not 24.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

entities = Table(
    "entities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # user, team or anonymous
    Column("created_at", Float, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("entity_id", ForeignKey("entities.id"), nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("anonymous", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("team_id", ForeignKey("entities.id"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),  # the public part of a key, safe to show and log
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("entity_id", ForeignKey("entities.id"), nullable=False),
    Column("project", String(128), nullable=False),
    Column("run_id", String(128), nullable=False),
    Column("name", Text, nullable=False),
    Column("group_name", Text, nullable=True),
    Column("job_type", String(64), nullable=True),
    Column("tags", JSON, nullable=False),
    Column("notes", Text, nullable=True),
    Column("state", String(16), nullable=False),
    Column("exit_code", Integer, nullable=True),
    Column("preempting", Boolean, nullable=False, default=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("config", JSON, nullable=False),
    Column("summary", JSON, nullable=False),
    Column("run_metadata", JSON, nullable=False),
    Column("last_step", BigInteger, nullable=True),
    Column("rows", BigInteger, nullable=False, default=0),
    UniqueConstraint("entity_id", "project", "run_id", name="uq_runs_entity_project_run"),
)
Index("ix_runs_project", runs.c.entity_id, runs.c.project, runs.c.created_at)

journal_cursors = Table(
    "journal_cursors",
    metadata,
    Column("run_pk", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("journal_id", String(64), primary_key=True),
    Column("end_offset", BigInteger, nullable=False),
)

history_chunks = Table(
    "history_chunks",
    metadata,
    Column("run_pk", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("first_step", BigInteger, nullable=False),
    Column("last_step", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
    Column("rows", LargeBinary, nullable=False),  # orjson list of row records, in order
)

# The step and time axis of a batch's rows (those with a _step, in order), shared by its series chunks
series_axes = Table(
    "series_axes",
    metadata,
    Column("run_pk", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),  # that of the batch's history chunk
    Column("steps", LargeBinary, nullable=False),  # int64 little-endian
    Column("timestamps", LargeBinary, nullable=False),  # float64 little-endian (NaN: the row had none)
)

# Per batch and numeric key: its values and their block summaries (server.series_blocks). The summary comes
# before the points: SQLite keeps a row's columns in order, so a chart drawn from summaries skips the points.
series_chunks = Table(
    "series_chunks",
    metadata,
    Column("run_pk", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("seq", Integer, primary_key=True),  # the batch's: its axis is series_axes' row of that seq
    Column("count", Integer, nullable=False),
    Column("first_step", BigInteger, nullable=False),
    Column("last_step", BigInteger, nullable=False),
    Column("blocks", LargeBinary, nullable=False),
    Column("rows", LargeBinary, nullable=True),  # uint32 little-endian indexes into the axis; NULL: every row
    Column("values", LargeBinary, nullable=False),  # float64 little-endian (NaN kept), one per index
)

# define_metric() rules, the newest per run and name: charts read step_metric (an x axis), sweeps read goal
metric_rules = Table(
    "metric_rules",
    metadata,
    Column("run_pk", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(256), primary_key=True),  # a metric or a trailing-* glob of them
    Column("step_metric", String(256), nullable=True),
    Column("goal", String(16), nullable=True),  # minimize or maximize
    Column("summary", JSON, nullable=False),
    Column("hidden", Boolean, nullable=False),
)
