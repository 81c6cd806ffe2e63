"""``tracker server``: run the tracking server, and administer its users, teams and keys.

Joins the ``tracker`` command through the ``tracker.commands`` entry point. The schema is migrated here,
once, before uvicorn starts its workers; clients never migrate anything.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import click

import tracker
from server.db import Store, database_url
from tracker import console
from tracker.cli._common import CommandError

DEFAULT_DATA = "tracker-server"
# how `tracker server` hands its settings to the app factory in each uvicorn worker
_ENVIRONMENT = "TRACKER_SERVER_CONFIG"


def _store_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--db", help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB (default: SQLite in --data)."
    )(command)
    return click.option(
        "--data", type=click.Path(file_okay=False), help=f"Server data directory (default ./{DEFAULT_DATA})."
    )(command)


def _open_store(ctx: click.Context, data: str | None, db: str | None) -> Store:
    """The store named here, else by the `tracker server` options, migrated to the newest schema."""
    parent = ctx.find_object(dict) or {}
    data = data or parent.get("data") or DEFAULT_DATA
    try:
        store = Store(database_url(data, db or parent.get("db")))
        store.upgrade()
    except tracker.Error:
        raise
    except Exception as error:  # a database that cannot be reached: one line, not a traceback
        raise CommandError(f"cannot open the server's database: {type(error).__name__}: {error}") from None
    return store


def _admin(action: Callable[..., Any]) -> Callable[..., Any]:
    """An admin command: its own --data/--db, a migrated store, tracker errors as one line."""

    @_store_options
    @click.pass_context
    @functools.wraps(action)
    def command(ctx: click.Context, data: str | None, db: str | None, **kwargs: Any) -> None:
        store = _open_store(ctx, data, db)
        try:
            with store.writing() as connection:
                action(connection, **kwargs)
        except tracker.UsageError as error:
            raise CommandError(str(error)) from None
        finally:
            store.dispose()

    return command


@click.group("server", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0 for all).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@_store_options
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--allow-anonymous", is_flag=True, help="Let clients without a key create anonymous accounts.")
@click.option(
    "--max-body-mb",
    default=64,
    show_default=True,
    type=click.IntRange(1, 4096),
    help="Largest request body (else 413).",
)
@click.option(
    "--heartbeat-timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(1),
    help="Seconds of silence after which a running run reads crashed.",
)
@click.pass_context
def server(
    ctx: click.Context,
    host: str,
    port: int,
    data: str | None,
    db: str | None,
    workers: int,
    allow_anonymous: bool,
    max_body_mb: int,
    heartbeat_timeout: float,
) -> None:
    """Run the tracking server (or administer it: user, key, team, claim)."""
    ctx.obj = {**(ctx.obj or {}), "data": data, "db": db}
    if ctx.invoked_subcommand is not None:
        return
    store = _open_store(ctx, data, db)
    url = store.url
    store.dispose()
    files_dir = os.path.join(os.path.abspath(data or DEFAULT_DATA), "files")
    import orjson
    import uvicorn

    os.environ[_ENVIRONMENT] = orjson.dumps(
        {
            "url": url,
            "files_dir": files_dir,
            "allow_anonymous": allow_anonymous,
            "heartbeat_timeout": heartbeat_timeout,
            "max_body": max_body_mb * 1024 * 1024,
        }
    ).decode()
    console.note(f"tracker server on http://{host}:{port} ({'PostgreSQL' if 'postgresql' in url else url})")
    uvicorn.run(
        "server.cli:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        timeout_graceful_shutdown=30,
    )


def app_from_environment() -> Any:
    """The app of one uvicorn worker, built from what `tracker server` put in the environment."""
    import orjson

    from server.app import ServerSettings, create_app

    config = orjson.loads(os.environ[_ENVIRONMENT])
    return create_app(
        Store(config["url"]),
        ServerSettings(
            files_dir=config["files_dir"],
            allow_anonymous=config["allow_anonymous"],
            heartbeat_timeout=config["heartbeat_timeout"],
            max_body=config["max_body"],
        ),
    )


@server.group("user")
def user() -> None:
    """Users: each has an entity of its own name."""


@user.command("add")
@click.argument("name")
@click.option(
    "--team", "teams", multiple=True, help="Add the user to this team, created if it is new (repeat for several)."
)
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@_admin
def user_add(connection: Any, name: str, teams: tuple[str, ...], admin: bool) -> None:
    """Create a user and print its first API key (alone, as the last line of stdout)."""
    from server import accounts

    user_id = accounts.add_user(connection, name, admin=admin)
    for team in teams:
        if not accounts.team_exists(connection, team):
            accounts.add_team(connection, team, [])
            console.note(f"team {team!r} created")
        accounts.add_member(connection, team, name)
    console.note(f"user {name!r} created; its key is printed once and only its hash is kept")
    console.out(accounts.add_key(connection, user_id))


@server.group("key")
def key() -> None:
    """API keys: several per user, each revocable."""


@key.command("add")
@click.argument("name")
@_admin
def key_add(connection: Any, name: str) -> None:
    """Print a new API key for user NAME."""
    from server import accounts

    console.out(accounts.add_key(connection, accounts.user_id(connection, name)))


@key.command("revoke")
@click.argument("key_id")
@_admin
def key_revoke(connection: Any, key_id: str) -> None:
    """Revoke a key by its id (the part after trk_ and before the next _), or by the whole key."""
    from server import accounts

    accounts.revoke_key(connection, accounts.key_id_of(key_id) or key_id)
    console.note(f"key {key_id.split('_')[1] if key_id.startswith('trk_') else key_id} revoked")


@server.group("team")
def team() -> None:
    """Teams: entities whose runs all their members see."""


@team.command("add")
@click.argument("name")
@click.option("--member", "members", multiple=True, help="A user to add (repeat for several).")
@_admin
def team_add(connection: Any, name: str, members: tuple[str, ...]) -> None:
    """Create a team."""
    from server import accounts

    accounts.add_team(connection, name, list(members))
    console.note(f"team {name!r} created with {len(members)} member(s)")


@server.command("claim")
@click.argument("anonymous_entity")
@click.argument("user_name")
@_admin
def claim(connection: Any, anonymous_entity: str, user_name: str) -> None:
    """Give an anonymous account's runs to a user (the anonymous key stops working)."""
    from server import accounts

    moved = accounts.claim_anonymous(connection, anonymous_entity, user_name)
    console.note(f"{moved} run(s) of {anonymous_entity} now belong to {user_name}")
