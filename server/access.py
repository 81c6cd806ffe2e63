"""Who a request acts for, and the 404 of what its key may not see: one answer for every route and the ingest lane."""

from __future__ import annotations

from fastapi import HTTPException

from server import accounts
from server.db import Store

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def viewer_of(store: Store, key: str | None) -> accounts.Viewer:
    """Who a key acts for; 401 without a valid key (never saying which part was wrong)."""
    if key is None:
        raise HTTPException(401, "an API key is needed (Authorization: Bearer <key>)", _CHALLENGE)
    with store.reading() as connection:
        found = accounts.authenticate(connection, key)
    if found is None:
        raise HTTPException(401, "this API key is not valid (unknown or revoked)", _CHALLENGE)
    return found


def not_found(entity: str, project: str, run_id: str) -> HTTPException:
    """The 404 of a run the key may not see, whether or not it exists (existence must not leak)."""
    return HTTPException(404, f"no run {entity}/{project}/{run_id} for this key")
