"""``tracker artifact ls|get``: the artifacts of a project, their versions and aliases, and a download."""

from __future__ import annotations

from typing import Any

import click

from tracker import _validate, console
from tracker.cli._common import CommandError, api, global_options, to_json, wants_json
from tracker.console import format_value

_COLUMNS = ("name", "version", "type", "aliases", "files", "size", "created_at", "logged_by")


def _describe(artifact: Any) -> dict[str, Any]:
    return {
        "name": artifact.name,
        "version": artifact.version,
        "type": artifact.type,
        "aliases": artifact.aliases,
        "files": len(artifact.manifest),
        "size": artifact.size,
        "created_at": artifact.created_at,
        "logged_by": artifact.logged_by,
        "digest": artifact.digest,
    }


@click.group("artifact")
@global_options("dir", "server")
def artifact() -> None:
    """List and download artifacts (tracker.Artifact) of a project (from a tracking server with --server)."""


@artifact.command("ls")
@click.argument("where", metavar="PROJECT[/NAME]")
@global_options("dir", "server", "json")
@click.pass_context
def ls(ctx: click.Context, where: str) -> None:
    """Every version of every artifact of a project, or of one artifact."""
    project, _, name = where.partition("/")
    _validate.identifier("project", project)
    reader = api(ctx)
    names = [name] if name else reader.artifact_names(project)
    found = [_describe(version) for each in names for version in reader.artifact_versions(project, each)]
    if name and not found:
        raise CommandError(f"no artifact {project}/{name}")
    if wants_json(ctx):
        console.out(to_json(found))
        return
    rows = [[format_value(", ".join(row[c]) if c == "aliases" else row[c]) for c in _COLUMNS] for row in found]
    placeholder = [["(none)"] + [""] * (len(_COLUMNS) - 1)]
    console.table(f"artifacts of {project}", list(_COLUMNS), rows or placeholder, stdout=True)


@artifact.command("get")
@click.argument("reference", metavar="PROJECT/NAME[:ALIAS]")
@click.option("--root", type=click.Path(file_okay=False), help="Where to put the files (default ./artifacts/NAME:V).")
@global_options("dir", "server")
@click.pass_context
def get(ctx: click.Context, reference: str, root: str | None) -> None:
    """Download one artifact version (latest by default), checking every file's digest."""
    chosen = api(ctx).artifact(reference)
    target = chosen.download(root)
    console.note(f"{chosen.qualified_name}: {len(chosen.manifest)} file(s) in {target}")
