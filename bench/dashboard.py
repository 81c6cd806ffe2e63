"""Dashboard timings in a real headless Chromium: navigation to the first painted runs table, and to the first
drawn chart, with the bytes transferred, against a real `tracker server`.

    .venv/bin/python -m bench.dashboard [--runs 10000] [--chart-runs 10] [--steps 100000] [--repeat 3]

The server's database is filled directly through its ingest path (the same one clients use over HTTP).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

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


def measure(url: str, key: str, fragment: str, ready: str, repeat: int) -> tuple[list[float], int]:
    """(ms from navigation to ``ready`` for each repeat, bytes transferred on the last)."""
    from playwright.sync_api import sync_playwright

    timings, transferred = [], 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"))
        for _ in range(repeat):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.request.post(
                url + "/api/ui/session",
                data=orjson.dumps({"key": key}).decode(),
                headers={"Content-Type": "application/json"},
            )
            page = context.new_page()
            page.goto(url + "/#" + fragment)
            page.wait_for_function(f"() => window.__tracker && {ready} >= 0", timeout=120_000)
            timings.append(page.evaluate(f"() => {ready}"))
            transferred = page.evaluate(_TRANSFERRED)
            context.close()
        browser.close()
    return timings, transferred


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--chart-runs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    data = tempfile.mkdtemp(prefix="tracker-bench-ui-")
    process = None
    try:
        started = time.perf_counter()
        key = fill(data, options.runs, options.chart_runs, options.steps)
        print(f"filled in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        tracker = os.path.join(os.path.dirname(sys.executable), "tracker")
        process = subprocess.Popen([tracker, "server", "--data", data, "--port", str(port)], stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url + "/api/health", timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        table, table_bytes = measure(url, key, "project=table", "window.__tracker.table.firstPaint", options.repeat)
        selection = "&".join(f"sel=bench/chart/c{index}" for index in range(options.chart_runs))
        chart, chart_bytes = measure(
            url, key, f"project=chart&{selection}", "window.__tracker.firstChart", options.repeat
        )
        static = os.path.join(os.path.dirname(__file__), "..", "server", "static")
        bundle = sum(os.path.getsize(os.path.join(static, name)) for name in ("app.js", "app.css", "index.html"))
        print("| measure | median | all | bytes transferred |")
        print("|---|---|---|---|")
        print(
            f"| runs table, {options.runs} runs: navigation to first paint | {statistics.median(table):.0f} ms | "
            f"{', '.join(f'{t:.0f}' for t in table)} | {table_bytes} |"
        )
        print(
            f"| chart, {options.chart_runs} runs x {options.steps} steps: navigation to first drawn chart | "
            f"{statistics.median(chart):.0f} ms | {', '.join(f'{t:.0f}' for t in chart)} | {chart_bytes} |"
        )
        print(f"| bundle (app.js + app.css + index.html, uncompressed) | {bundle} bytes | | |")
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=60)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
