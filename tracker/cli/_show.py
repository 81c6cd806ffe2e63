"""``tracker show`` and ``tracker history``: one run's details, and its metric history in four formats."""

from __future__ import annotations

import csv
import io
import os
import time
from typing import Any

import click
import orjson

from tracker import console
from tracker._layout import MEDIA_DIR
from tracker._output import OUTPUT_FILE, tail
from tracker.atomic import write_atomic
from tracker.cli._common import (
    CommandError,
    api,
    cell,
    flatten,
    global_options,
    resolve_run,
    split_list,
    to_json,
    unknown,
    wants_json,
)

HISTORY_FORMATS = ("table", "csv", "json", "jsonl", "parquet")
_EXTENSIONS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".parquet": "parquet"}
FOLLOW_POLL_SECONDS = 1.0


def _files(root: str) -> list[str]:
    found: list[str] = []
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


def _lineage(directory: str | None) -> list[dict[str, Any]]:
    """The artifact versions a local run logged and used (a server's runs have none yet)."""
    from tracker._artifacts import lineage

    return lineage(directory) if directory is not None else []


@click.command("show")
@click.argument("run_ref", metavar="RUN")
@global_options("dir", "server", "json")
@click.pass_context
def show(ctx: click.Context, run_ref: str) -> None:
    """Identity, state, tags, notes, config, summary, metadata and files of one run."""
    run = resolve_run(api(ctx), run_ref)
    directory = getattr(run, "directory", None)  # where a local run is stored (None for a server's run)
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
        "directory": directory,
    }
    sections = {"config": run.config, "summary": run.summary, "metadata": run.metadata}
    files = _files(run.files_dir) if directory is not None else []
    media = _media_counts(directory) if directory is not None else {}
    artifacts = _lineage(directory)
    # the end of the console output says why a run failed or crashed
    failed = run.state in ("failed", "crashed")
    output = tail(os.path.join(directory, OUTPUT_FILE)) if failed and directory is not None else []
    if wants_json(ctx):
        document = {**details, **sections, "files": files, "media": media, "artifacts": artifacts}
        console.out(to_json({**document, "output_tail": output}))
        return
    console.table(
        f"run {run.project}/{run.id}",
        ["field", "value"],
        [[key, cell(key, ", ".join(value) if isinstance(value, list) else value)] for key, value in details.items()],
        stdout=True,
    )
    for title, section in sections.items():
        console.table(
            title, ["key", "value"], [[key, cell(key, value)] for key, value in flatten(section).items()], stdout=True
        )
    console.table("files", ["file"], [[name] for name in files] or [["(none)"]], stdout=True)
    media_rows = [[extension, str(count)] for extension, count in media.items()]
    console.table("media", ["type", "files"], media_rows or [["(none)", "0"]], stdout=True)
    artifact_rows = [[row["use"], f"{row['project']}/{row['name']}:{row['version']}", row["type"]] for row in artifacts]
    console.table("artifacts", ["use", "artifact", "type"], artifact_rows or [["(none)", "", ""]], stdout=True)
    if output:
        console.out(f"last lines of {OUTPUT_FILE}:\n" + "\n".join(output))


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """Every key of the rows, ``_run`` (when present) and ``_step`` first."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    first = ["_run", "_step"] if "_run" in columns else ["_step"]
    return first + [column for column in columns if column not in first]


def _output_format(explicit: str | None, output: str | None, as_json: bool) -> str:
    """--format, else --json, else the extension of --output, else a table."""
    if explicit is not None:
        return explicit
    if as_json:
        return "json"
    if output is None:
        return "table"
    extension = os.path.splitext(output)[1].lower()
    if extension not in _EXTENSIONS:
        raise CommandError(
            f"--output {output!r}: cannot tell the format from {extension or 'a name without extension'!r}; "
            f"name it {', '.join(_EXTENSIONS)} or pass --format"
        )
    return _EXTENSIONS[extension]


def _parquet(rows: list[dict[str, Any]]) -> bytes:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise CommandError("parquet output needs pyarrow: pip install 'tracker[parquet]'") from None
    columns = _columns(rows)
    try:
        table = pa.table({column: [row.get(column) for row in rows] for column in columns})
    except pa.ArrowException as error:  # a key holding numbers in some rows and text in others
        raise CommandError(f"these rows do not fit a parquet table ({error}); use csv, json or jsonl") from None
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def _jsonl(row: dict[str, Any]) -> str:
    return orjson.dumps(row, default=str, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _encode(rows: list[dict[str, Any]], output_format: str) -> bytes:
    """The rows as a file of ``output_format`` (csv, json, jsonl or parquet)."""
    if output_format == "parquet":
        return _parquet(rows)
    if output_format == "json":
        return to_json(rows).encode() + b"\n"
    if output_format == "jsonl":
        return "".join(_jsonl(row) + "\n" for row in rows).encode()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _write(output: str, data: bytes) -> None:
    try:
        write_atomic(output, data)
    except OSError as error:
        raise CommandError(f"cannot write --output {output!r}: {error.strerror or error}") from None


def _rows(runs: list[Any], keys: list[str], last: int | None) -> list[dict[str, Any]]:
    """The runs' rows (with ``_run`` first when there are several); a key no run has logged is an error."""
    rows: list[dict[str, Any]] = []
    for run in runs:
        found = run.history(keys=keys or None)
        found = found[-last:] if last else found
        if len(runs) > 1:
            found = [{"_run": f"{run.project}/{run.id}", **row} for row in found]
        rows.extend(found)
    if keys and not rows:
        logged = {key for run in runs for row in run.history() for key in row}
        for key in keys:
            if key not in logged:
                raise unknown("--keys", key, "metric in the history", logged)
    return rows


def _reload(store: Any, run: Any) -> Any:
    """A fresh view of ``run`` (its state and history as they are now)."""
    return store.run("/".join(part for part in (run.entity, run.project, run.id) if part))


def _follow(store: Any, run: Any, keys: list[str], last: int | None) -> None:
    """Print the run's rows as JSON lines as its steps complete, until it is no longer running.

    A running run's newest step may still grow (``log(commit=False)``), so it is printed once the next
    step has started or the run has ended.
    """
    printed: Any = None
    first = True
    while True:
        running = run.state == "running"
        rows = run.history(keys=keys or None)
        complete = rows[:-1] if running else rows
        if first and last:
            complete = complete[-last:]
        first = False
        for row in complete:
            if printed is None or row["_step"] > printed:
                console.out(_jsonl(row))
                printed = row["_step"]
        if not running:
            return
        time.sleep(FOLLOW_POLL_SECONDS)
        run = _reload(store, run)


@click.command("history")
@click.argument("run_refs", metavar="RUN...", nargs=-1, required=True)
@click.option("--keys", "-k", help="Only rows holding all of these metrics, cut to them (k1,k2).")
@click.option("--last", "-n", type=click.IntRange(min=1), help="Only the last N rows of each run.")
@click.option(
    "--follow", "-F", is_flag=True, help="Print rows as JSON lines while the run logs them; stops when it ends."
)
@click.option(
    "--format",
    "-f",
    "output_format",
    type=click.Choice(HISTORY_FORMATS),
    help="Default: from --output's extension (.csv, .json, .jsonl, .parquet), else a table.",
)
@click.option("--output", "-o", help="Write to this file (replaced atomically).")
@global_options("dir", "server", "json")
@click.pass_context
def history(
    ctx: click.Context,
    run_refs: tuple[str, ...],
    keys: str | None,
    last: int | None,
    follow: bool,
    output_format: str | None,
    output: str | None,
) -> None:
    """The metric history of runs, one row per step (a _run column tells several runs apart)."""
    store = api(ctx)
    runs = list({run.path: run for run in (resolve_run(store, reference) for reference in run_refs)}.values())
    wanted = split_list(keys)
    if follow:
        if len(runs) > 1 or output is not None or output_format not in (None, "jsonl"):
            raise CommandError("--follow prints one run's rows as JSON lines: give one RUN, no --output or --format")
        _follow(store, runs[0], wanted, last)
        return
    chosen = _output_format(output_format, output, wants_json(ctx))
    rows = _rows(runs, wanted, last)
    if chosen == "table":
        if output is not None:
            raise CommandError("--output goes with --format csv, json, jsonl or parquet")
        columns = _columns(rows)
        title = f"history of {', '.join(f'{run.project}/{run.id}' for run in runs)}"
        body = [[cell(column, row.get(column)) for column in columns] for row in rows]
        console.table(title, columns, body, stdout=True)
        return
    if output is None:
        if chosen == "parquet":
            raise CommandError("--format parquet needs --output FILE (parquet is a binary format)")
        console.out(_encode(rows, chosen).decode())
        return
    _write(output, _encode(rows, chosen))
    console.note(f"wrote {len(rows)} rows to {output}")
