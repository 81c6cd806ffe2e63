"""Dashboard timings in a real headless Chromium: navigation to the first painted runs table, and to the first
drawn chart, with the bytes transferred, against a real `tracker server`.

    .venv/bin/python -m bench.dashboard [--runs 10000] [--chart-runs 10] [--steps 100000] [--repeat 3]

The server's database is filled directly through its ingest path (the same one clients use over HTTP).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson

_TRANSFERRED = """() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
    .reduce((sum, entry) => sum + (entry.transferSize || entry.encodedBodySize || 0), 0)"""


def fill(data: str, runs: int, chart_runs: int, steps: int) -> str:
    """A server store with ``runs`` small runs in project ``table`` and ``chart_runs`` long ones in ``chart``."""
    from server import accounts, ingest
    from server.db import Store, database_url

    store = Store(database_url(data, None))
    store.upgrade()
    with store.writing() as connection:
        key = accounts.add_key(connection, accounts.add_user(connection, "bench"))
        entity = accounts.entity_id(connection, "bench")
        for index in range(runs):
            records = [
                {"_step": step, "_timestamp": 1.7e9 + step, "loss": 1.0 / (step + 1 + index)} for step in range(5)
            ]
            batch = {
                "journal_id": "j",
                "offset": 0,
                "end": 1,
                "records": records,
                "run": {"name": f"run-{index:05d}", "group": f"g{index % 20}", "tags": [f"t{index % 7}"]},
                "config": {"lr": 10 ** -(index % 5), "seed": index % 3},
                "summary": {"loss": records[-1]["loss"]},
            }
            ingest.apply(connection, entity, "table", f"r{index:05d}", ingest.parse(orjson.dumps(batch)))
    for index in range(chart_runs):
        records = [
            {"_step": step, "_timestamp": 1.7e9 + step, "loss": 1.0 / (step + 1) + index} for step in range(steps)
        ]
        batch = {"journal_id": "j", "offset": 0, "end": 1, "records": records, "run": {"name": f"long-{index}"}}
        with store.writing() as connection:
            ingest.apply(connection, entity, "chart", f"c{index}", ingest.parse(orjson.dumps(batch)))
    store.dispose()
    return key


def fill_mlflow(mlflow: str, database: str, runs: int, chart_runs: int, steps: int) -> tuple[str, str, list[str]]:
    """The same runs in an MLflow store (its schema by `mlflow db upgrade`, rows written straight into SQLite:
    MLflow's own client takes minutes per 100,000 steps). Returns the table's and the chart's experiment ids,
    and the chart runs' ids.

    Config becomes params, group and tags become tags, the last loss the run's latest metric.
    """
    import sqlite3

    subprocess.run(
        [mlflow, "db", "upgrade", f"sqlite:///{database}"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA synchronous=OFF")
    # the metric indexes are built after the rows: far faster than growing them row by row
    indexes = connection.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'metrics' AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        connection.execute(f'DROP INDEX "{name}"')
    artifacts = os.path.join(os.path.dirname(database), "mlartifacts")
    now = int(time.time() * 1000)
    for experiment, name in ((1, "table"), (2, "chart")):
        connection.execute(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time,"
            " last_update_time, workspace) VALUES (?, ?, ?, 'active', ?, ?, 'default')",
            (experiment, name, f"{artifacts}/{experiment}", now, now),
        )

    def add_run(experiment: int, run_uuid: str, name: str, started: int, tags: dict[str, str]) -> None:
        connection.execute(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time,"
            " end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) VALUES"
            " (?, ?, 'LOCAL', '', '', 'bench', 'FINISHED', ?, ?, '', 'active', ?, ?)",
            (run_uuid, name, started, started + 5000, f"{artifacts}/{experiment}/{run_uuid}/artifacts", experiment),
        )
        connection.executemany(
            "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
            [(key, value, run_uuid) for key, value in {"mlflow.runName": name, **tags}.items()],
        )

    def add_metrics(run_uuid: str, losses: list[float]) -> None:
        connection.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES ('loss', ?, ?, ?, ?, 0)",
            ((loss, 1_700_000_000_000 + step * 1000, run_uuid, step) for step, loss in enumerate(losses)),
        )
        connection.execute(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES ('loss', ?, ?, ?, 0, ?)",
            (losses[-1], 1_700_000_000_000 + (len(losses) - 1) * 1000, len(losses) - 1, run_uuid),
        )

    for index in range(runs):
        run_uuid = f"{index:032x}"
        add_run(1, run_uuid, f"run-{index:05d}", now + index, {"group": f"g{index % 20}", f"t{index % 7}": ""})
        connection.executemany(
            "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
            [("lr", str(10 ** -(index % 5)), run_uuid), ("seed", str(index % 3), run_uuid)],
        )
        add_metrics(run_uuid, [1.0 / (step + 1 + index) for step in range(5)])
    chart = []
    for index in range(chart_runs):
        run_uuid = f"c{index:031x}"
        add_run(2, run_uuid, f"long-{index}", now + index, {})
        add_metrics(run_uuid, [1.0 / (step + 1) + index for step in range(steps)])
        chart.append(run_uuid)
        connection.commit()
    for _, sql in indexes:
        connection.execute(sql)
    connection.commit()
    connection.close()
    return "1", "2", chart


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def measure(url: str, setup: Any, ready: str, repeat: int, timeout: float) -> tuple[list[float], list[int]]:
    """(ms from navigation start to ``ready`` returning a number, bytes transferred) for each repeat.

    ``ready`` is a JavaScript function body polled on every animation frame; it returns the moment (ms
    since navigation start, ``performance.now()``) the page counts as drawn, or false. Every repeat is a
    fresh browser context (empty cache). A page not drawn within ``timeout`` seconds counts as infinite.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    timings, transferred = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"))
        for _ in range(repeat):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.add_init_script("performance.setResourceTimingBufferSize(100000)")
            setup(context)
            page = context.new_page()
            page.goto(url, wait_until="commit", timeout=600_000)
            try:
                handle = page.wait_for_function(f"() => {{ {ready} }}", timeout=timeout * 1000, polling="raf")
                timings.append(float(handle.json_value()))
            except PlaywrightTimeout:
                timings.append(math.inf)  # not drawn within the timeout: reported as such
            transferred.append(int(page.evaluate(_TRANSFERRED)))
            context.close()
        browser.close()
    return timings, transferred


# what each page counts as drawn (the moment is taken on the first animation frame where it holds)
TRACKER_TABLE = "const t = window.__tracker; return t && t.table.firstPaint >= 0 && t.table.firstPaint;"
TRACKER_CHART = "const t = window.__tracker; return t && t.firstChart >= 0 && t.firstChart;"
# MLflow's runs table (ag-grid): a rendered row holding a run's name
MLFLOW_TABLE = (
    "return [...document.querySelectorAll('.ag-row')]"
    ".some((row) => row.textContent.includes('run-')) && performance.now();"
)
# MLflow's metric page (Plotly): a drawn line in as many traces as runs were selected
MLFLOW_CHART = (
    "const traces = [...document.querySelectorAll('.js-plotly-plot .scatterlayer .trace')].filter((trace) =>"
    " [...trace.querySelectorAll('path.js-line')].some((path) => (path.getAttribute('d') || '').length > 1));"
    "return traces.length >= RUNS && performance.now();"
)


def _summary(values: list[float]) -> str:
    if math.isinf(max(values)):
        drawn = [value for value in values if not math.isinf(value)]
        return f"{len(values) - len(drawn)} of {len(values)} not drawn in the timeout" + (
            f"; drawn: {', '.join(f'{value:.0f}' for value in drawn)}" if drawn else ""
        )
    return f"{statistics.median(values):.0f} [{min(values):.0f}, {max(values):.0f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--chart-runs", type=int, default=100)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--mlflow",
        default=shutil.which("mlflow", path=os.path.dirname(sys.executable)) or "",
        help="the mlflow executable (default: next to this Python; empty: tracker only)",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds a page may take to draw")
    parser.add_argument("--workdir", help="keep the filled stores here and reuse them on the next call (same sizes)")
    parser.add_argument("--fill-only", action="store_true", help="fill --workdir and stop")
    options = parser.parse_args()
    work = options.workdir or tempfile.mkdtemp(prefix="tracker-bench-ui-")
    os.makedirs(work, exist_ok=True)
    filled = os.path.join(work, "filled.json")
    sizes = {"runs": options.runs, "chart_runs": options.chart_runs, "steps": options.steps}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        state = orjson.loads(Path(filled).read_bytes()) if os.path.exists(filled) else {}
        if state.get("sizes") != sizes:
            started = time.perf_counter()
            data = os.path.join(work, "tracker")
            shutil.rmtree(data, ignore_errors=True)
            os.makedirs(data)
            state = {"sizes": sizes, "key": fill(data, options.runs, options.chart_runs, options.steps)}
            print(f"tracker store filled in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            if options.mlflow:
                started = time.perf_counter()
                database = os.path.join(work, "mlflow", "mlflow.db")
                shutil.rmtree(os.path.dirname(database), ignore_errors=True)
                os.makedirs(os.path.dirname(database))
                table_id, chart_id, chart_runs = fill_mlflow(
                    options.mlflow, database, options.runs, options.chart_runs, options.steps
                )
                state["mlflow"] = {"table": table_id, "chart": chart_id, "runs": chart_runs}
                print(f"mlflow store filled in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            with open(filled, "wb") as handle:
                handle.write(orjson.dumps(state))
        if options.fill_only:
            return
        rows = []
        port = _free_port()
        tracker = os.path.join(os.path.dirname(sys.executable), "tracker")
        command = [tracker, "server", "--data", os.path.join(work, "tracker"), "--port", str(port)]
        processes.append(subprocess.Popen(command, stderr=subprocess.DEVNULL))
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url + "/api/health", processes[-1])

        def signed_in(context: Any) -> None:
            context.request.post(
                url + "/api/ui/session",
                data=orjson.dumps({"key": state["key"]}).decode(),
                headers={"Content-Type": "application/json"},
            )

        selection = "&".join(f"sel=bench/chart/c{index}" for index in range(options.chart_runs))
        rows.append(
            (
                "tracker",
                "table",
                *measure(url + "/#project=table", signed_in, TRACKER_TABLE, options.repeat, options.timeout),
            )
        )
        chart = measure(url + f"/#project=chart&{selection}", signed_in, TRACKER_CHART, options.repeat, options.timeout)
        rows.append(("tracker", "chart", *chart))
        if options.mlflow and "mlflow" in state:
            mlflow = state["mlflow"]
            port = _free_port()
            database = os.path.join(work, "mlflow", "mlflow.db")
            command = [options.mlflow, "server", "--backend-store-uri", f"sqlite:///{database}", "--host", "127.0.0.1"]
            command += ["--port", str(port), "--default-artifact-root", os.path.join(work, "mlflow", "artifacts")]
            environment = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
            processes.append(
                subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)
            )
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url + "/health", processes[-1])
            table_url = f"{url}/#/experiments/{mlflow['table']}/runs"
            rows.append(
                ("mlflow", "table", *measure(table_url, lambda _: None, MLFLOW_TABLE, options.repeat, options.timeout))
            )
            runs = urllib.parse.quote(orjson.dumps(mlflow["runs"]).decode())
            experiments = urllib.parse.quote(orjson.dumps([mlflow["chart"]]).decode())
            keys = urllib.parse.quote('["loss"]')
            chart_url = f"{url}/#/metric?runs={runs}&metric=%22loss%22&experiments={experiments}"
            chart_url += f"&plot_metric_keys={keys}&x_axis=step"
            ready = MLFLOW_CHART.replace("RUNS", str(options.chart_runs))
            rows.append(
                ("mlflow", "chart", *measure(chart_url, lambda _: None, ready, options.repeat, options.timeout))
            )
        print(f"| page | tool | ms to drawn, median [min, max] of {options.repeat} | MB transferred, median |")
        print("|---|---|---|---|")
        names = {
            "table": f"runs table, {options.runs} runs",
            "chart": f"chart, {options.chart_runs} runs x {options.steps} steps",
        }
        for tool, page, timings, transferred in rows:
            print(f"| {names[page]} | {tool} | {_summary(timings)} | {statistics.median(transferred) / 1e6:.2f} |")
        every = {
            f"{tool} {page}": [t if math.isinf(t) else round(t) for t in timings] for tool, page, timings, _ in rows
        }
        print(f"all (ms, first = cold): {every}")
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=60)
        if not options.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
