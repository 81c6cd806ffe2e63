"""Connecting to the store (SQLite in WAL mode by default, PostgreSQL for teams) and migrating it at start."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text

import tracker

SQLITE_FILE = "tracker.db"
# Any fixed number: the PostgreSQL advisory lock that serialises migrations of servers starting at once.
_MIGRATION_LOCK = 0x7472_6163


def database_url(data_dir: str, db: str | None) -> str:
    """The SQLAlchemy URL for ``--db`` (sqlite:///path or postgresql://...), default SQLite under ``--data``."""
    if db is None:
        return f"sqlite:///{os.path.join(os.path.abspath(data_dir), SQLITE_FILE)}"
    if db.startswith("sqlite:///"):
        return db
    if db.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    if db.startswith("postgresql+psycopg://"):
        return db
    raise tracker.UsageError(f"--db {db!r} must be sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE")


class Store:
    """The engine, plus the one writer path SQLite needs: writes are serialised in this process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            path = url.removeprefix("sqlite:///")
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            self.engine: Engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # transactions by SQLAlchemy, not by the driver, so that DDL (migrations) is transactional too;
            # a write takes the write lock when it begins, so that writers in several worker processes queue
            # (busy_timeout) instead of failing to upgrade a read snapshot that another writer made stale
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            self.engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
        self._write_lock = threading.Lock()

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction (serialised for SQLite, concurrent for PostgreSQL)."""
        if self.sqlite:
            with self._write_lock, self.engine.connect() as connection:
                connection.execution_options(tracker_write=True)
                with connection.begin():
                    yield connection
        else:
            with self.engine.begin() as connection:
                yield connection

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            yield connection

    def upgrade(self) -> None:
        """Create or upgrade the schema to the newest migration (once per start; concurrent starts wait)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", os.path.join(os.path.dirname(__file__), "migrations"))
        with self.engine.begin() as connection:
            if not self.sqlite:
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get("tracker_write")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    connection.isolation_level = None  # the driver issues no BEGIN of its own (see Store)
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()
