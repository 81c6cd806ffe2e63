"""``tracker show`` and ``tracker history``: one run's details, and its metric history in four formats."""

from __future__ import annotations

import csv
import io
import os
from typing import Any

import click

from tracker import console
from tracker._layout import MEDIA_DIR
from tracker._output import OUTPUT_FILE, tail
from tracker.cli._common import CommandError, api, resolve_run, split_list, to_json
from tracker.console import format_value

HISTORY_FORMATS = ("table", "csv", "json", "parquet")


def _files(root: str) -> list[str]:
    found = []
    for directory, _, names in os.walk(root):
        found.extend(os.path.relpath(os.path.join(directory, name), root) for name in names)
    return sorted(found)


def _media_counts(run_directory: str) -> dict[str, int]:
    """Stored media files by extension, from the directory listing (the history is not read)."""
    counts: dict[str, int] = {}
    for name in _files(os.path.join(run_directory, MEDIA_DIR)):
        extension = name.split(".", 1)[1] if "." in name else ""
        counts[extension] = counts.get(extension, 0) + 1
    return dict(sorted(counts.items()))


def _lineage(run: Any) -> list[dict[str, Any]]:
    """The artifact versions a local run logged and used (a server's runs have none yet)."""
    from tracker._artifacts import lineage

    return lineage(run.path) if isinstance(run.path, str) and os.path.isdir(run.path) else []


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dicts as dotted keys, for the key/value tables; media references stay one cell."""
    if isinstance(value, dict) and value and "_type" not in value:
        items = []
        for key, item in value.items():
            items.extend(_flatten(item, f"{prefix}{key}."))
        return items
    return [(prefix.rstrip("."), value)]


@click.command("show")
@click.argument("run_ref", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_context
def show(ctx: click.Context, run_ref: str, as_json: bool) -> None:
    """Identity, state, tags, notes, config, summary, metadata and files of one run."""
    run = resolve_run(api(ctx), run_ref)
    details = {
        "id": run.id,
        "name": run.name,
        "project": run.project,
        "entity": run.entity,
        "group": run.group,
        "job_type": run.job_type,
        "state": run.state,
        "exit_code": run.exit_code,
        "tags": list(run.tags),
        "notes": run.notes,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "path": run.path,
    }
    sections = {"config": run.config, "summary": run.summary, "metadata": run.metadata}
    files = _files(run.files_dir)
    media = _media_counts(run.path)
    artifacts = _lineage(run)
    # the end of the console output says why a run failed or crashed
    output = tail(os.path.join(run.path, OUTPUT_FILE)) if run.state in ("failed", "crashed") else []
    if as_json:
        console.out(
            to_json(
                {**details, **sections, "files": files, "media": media, "artifacts": artifacts, "output_tail": output}
            )
        )
        return
    console.table(
        f"run {run.project}/{run.id}",
        ["field", "value"],
        [[key, format_value(", ".join(value) if isinstance(value, list) else value)] for key, value in details.items()],
        stdout=True,
    )
    for title, section in sections.items():
        console.table(
            title, ["key", "value"], [[key, format_value(value)] for key, value in _flatten(section)], stdout=True
        )
    console.table("files", ["file"], [[name] for name in files] or [["(none)"]], stdout=True)
    media_rows = [[extension, str(count)] for extension, count in media.items()]
    console.table("media", ["type", "files"], media_rows or [["(none)", "0"]], stdout=True)
    artifact_rows = [[row["use"], f"{row['project']}/{row['name']}:{row['version']}", row["type"]] for row in artifacts]
    console.table("artifacts", ["use", "artifact", "type"], artifact_rows or [["(none)", "", ""]], stdout=True)
    if output:
        console.out(f"last lines of {OUTPUT_FILE}:\n" + "\n".join(output))


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    columns: dict[str, None] = {"_step": None}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)


def _write_parquet(rows: list[dict[str, Any]], output: str) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise CommandError("parquet output needs pyarrow: pip install 'tracker[parquet]'") from None
    columns = _columns(rows)
    table = pa.table({column: [row.get(column) for row in rows] for column in columns})
    pq.write_table(table, output)


@click.command("history")
@click.argument("run_ref", metavar="RUN")
@click.option("--keys", "-k", help="Only rows holding all of these metrics, cut to them (k1,k2).")
@click.option("--format", "-f", "output_format", type=click.Choice(HISTORY_FORMATS), default="table", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write to this file.")
@click.pass_context
def history(ctx: click.Context, run_ref: str, keys: str | None, output_format: str, output: str | None) -> None:
    """A run's metric history, one row per step."""
    run = resolve_run(api(ctx), run_ref)
    rows = run.history(keys=split_list(keys) or None)
    if output_format == "parquet":
        if output is None:
            raise CommandError("--format parquet needs --output FILE (parquet is a binary format)")
        _write_parquet(rows, output)
        console.note(f"wrote {len(rows)} rows to {output}")
        return
    columns = _columns(rows)
    if output_format == "table":
        if output is not None:
            raise CommandError("--output goes with --format csv, json or parquet")
        console.table(
            f"history of {run.project}/{run.id}",
            columns,
            [[format_value(row.get(column)) for column in columns] for row in rows],
            stdout=True,
        )
        return
    if output_format == "json":
        text = to_json(rows)
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    if output is None:
        console.out(text)
    else:
        with open(output, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        console.note(f"wrote {len(rows)} rows to {output}")
