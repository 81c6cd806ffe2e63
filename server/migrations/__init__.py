"""Alembic migrations of the server's schema, run by ``tracker server`` at start (never by clients)."""
