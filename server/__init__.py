"""The tracking server: one HTTP API over one SQL store (SQLite or PostgreSQL) for every client's runs.

Clients stream their run journals in (``POST .../batches``, idempotent by journal id and offset) and
read runs back (lists, rows, downsampled series). ``tracker server`` runs it; see ``server.cli``.
"""
