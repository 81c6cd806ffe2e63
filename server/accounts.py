"""Users, teams, entities and API keys: keys are shown once and stored as hashes, compared in constant time.

A key is ``trk_<id>_<secret>``: the id is public (it names the key in listings, logs and revocation),
the secret is 32 random bytes, stored only as its SHA-256 (a fast hash suffices for random secrets).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, select, update

import tracker
from server.schema import api_keys, entities, memberships, runs, users
from tracker import _validate

KEY_PREFIX = "trk_"


@dataclass(frozen=True)
class Viewer:
    """Who a request acts for: the user, and the entities whose runs it may read and write."""

    user_id: int
    name: str
    entity: str
    entities: frozenset[str]
    is_admin: bool
    anonymous: bool
    key_id: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _entity(connection: Connection, name: str, kind: str) -> int:
    _validate.identifier("name", name)
    existing = connection.execute(select(entities.c.id).where(entities.c.name == name)).scalar()
    if existing is not None:
        raise tracker.UsageError(f"the name {name!r} is taken (users and teams share one namespace)")
    return connection.execute(
        insert(entities).values(name=name, kind=kind, created_at=time.time()).returning(entities.c.id)
    ).scalar_one()


def add_user(connection: Connection, name: str, *, admin: bool = False, anonymous: bool = False) -> int:
    entity_id = _entity(connection, name, "anonymous" if anonymous else "user")
    return connection.execute(
        insert(users)
        .values(name=name, entity_id=entity_id, is_admin=admin, anonymous=anonymous, created_at=time.time())
        .returning(users.c.id)
    ).scalar_one()


def user_id(connection: Connection, name: str) -> int:
    found = connection.execute(select(users.c.id).where(users.c.name == name)).scalar()
    if found is None:
        raise tracker.UsageError(f"no user {name!r}")
    return found


def add_key(connection: Connection, user: int) -> str:
    """A new key for the user; the only time its secret exists outside the client."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    connection.execute(
        insert(api_keys).values(id=key_id, user_id=user, secret_hash=_hash(secret), created_at=time.time())
    )
    return f"{KEY_PREFIX}{key_id}_{secret}"


def revoke_key(connection: Connection, key_id: str) -> None:
    result = connection.execute(
        update(api_keys)
        .where(and_(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)))
        .values(revoked_at=time.time())
    )
    if result.rowcount == 0:
        raise tracker.UsageError(f"no active key {key_id!r}")


def add_team(connection: Connection, name: str, members: list[str]) -> None:
    team = _entity(connection, name, "team")
    for member in members:
        connection.execute(insert(memberships).values(team_id=team, user_id=user_id(connection, member)))


def _team_id(connection: Connection, team: str) -> int | None:
    return connection.execute(
        select(entities.c.id).where(and_(entities.c.name == team, entities.c.kind == "team"))
    ).scalar()


def team_exists(connection: Connection, team: str) -> bool:
    return _team_id(connection, team) is not None


def add_member(connection: Connection, team: str, member: str) -> None:
    team_id = _team_id(connection, team)
    if team_id is None:
        raise tracker.UsageError(f"no team {team!r}")
    connection.execute(insert(memberships).values(team_id=team_id, user_id=user_id(connection, member)))


def entity_id(connection: Connection, name: str) -> int:
    found = connection.execute(_ENTITY_ID, {"b_name": name}).scalar()
    if found is None:
        raise tracker.UsageError(f"no entity {name!r}")
    return found


def key_id_of(key: str) -> str | None:
    """The public id inside a presented key, or None if it is not shaped like one of ours."""
    if not key.startswith(KEY_PREFIX):
        return None
    key_id, _, secret = key[len(KEY_PREFIX) :].partition("_")
    return key_id if key_id and secret else None


# the statements of every request, built once (building and keying one costs more than running it)
_ENTITY_ID = select(entities.c.id).where(entities.c.name == bindparam("b_name"))
_KEY_ROW = (
    select(
        api_keys.c.secret_hash,
        api_keys.c.revoked_at,
        users.c.id,
        users.c.name,
        users.c.is_admin,
        users.c.anonymous,
        entities.c.name.label("entity"),
    )
    .join(users, users.c.id == api_keys.c.user_id)
    .join(entities, entities.c.id == users.c.entity_id)
    .where(api_keys.c.id == bindparam("b_key"))
)
_TEAMS = (
    select(entities.c.name)
    .join(memberships, memberships.c.team_id == entities.c.id)
    .where(memberships.c.user_id == bindparam("b_user"))
)


def _key_row(connection: Connection, key_id: str) -> Any:
    return connection.execute(_KEY_ROW, {"b_key": key_id}).first()


def _viewer(connection: Connection, row: Any, key_id: str) -> Viewer:
    teams = connection.execute(_TEAMS, {"b_user": row.id}).scalars()
    return Viewer(
        user_id=row.id,
        name=row.name,
        entity=row.entity,
        entities=frozenset([row.entity, *teams]),
        is_admin=row.is_admin,
        anonymous=row.anonymous,
        key_id=key_id,
    )


def authenticate(connection: Connection, key: str) -> Viewer | None:
    """The viewer a key acts for, or None for an unknown, malformed or revoked key."""
    key_id = key_id_of(key)
    if key_id is None:
        return None
    row = _key_row(connection, key_id)
    secret = key[len(KEY_PREFIX) + len(key_id) + 1 :]
    expected = row.secret_hash if row is not None else _hash("")
    if not hmac.compare_digest(_hash(secret), expected) or row is None or row.revoked_at is not None:
        return None
    return _viewer(connection, row, key_id)


def viewer_of_key(connection: Connection, key_id: str) -> Viewer | None:
    """The viewer of a key already checked once (a dashboard session names it), None once it is revoked."""
    row = _key_row(connection, key_id)
    if row is None or row.revoked_at is not None:
        return None
    return _viewer(connection, row, key_id)


def add_anonymous(connection: Connection) -> tuple[str, str]:
    """A new anonymous account and its key: (entity name, key)."""
    name = f"anonymous-{secrets.token_hex(4)}"
    user = add_user(connection, name, anonymous=True)
    return name, add_key(connection, user)


def claim_anonymous(connection: Connection, anonymous_entity: str, user: str) -> int:
    """Move an anonymous account's runs to a real user's entity; returns how many runs moved."""
    source = connection.execute(
        select(entities.c.id).where(and_(entities.c.name == anonymous_entity, entities.c.kind == "anonymous"))
    ).scalar()
    if source is None:
        raise tracker.UsageError(f"no anonymous account {anonymous_entity!r}")
    target = connection.execute(select(users.c.entity_id).where(users.c.name == user)).scalar()
    if target is None:
        raise tracker.UsageError(f"no user {user!r}")
    moved = connection.execute(update(runs).where(runs.c.entity_id == source).values(entity_id=target)).rowcount
    connection.execute(
        update(api_keys)
        .where(api_keys.c.user_id.in_(select(users.c.id).where(users.c.entity_id == source)))
        .values(revoked_at=time.time())
    )
    return moved
