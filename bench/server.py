"""Server benchmark: concurrent online clients into `tracker server` (SQLite, PostgreSQL) beside `mlflow server`.

    python -m bench.server [--clients 16] [--steps 10000] [--postgres URL] [--mlflow] [--reps 3]

For each backend it starts a fresh server, then N client processes at once, each logging STEPS rows of 10
scalars (built before the start signal, and the clients skip the interpreter's teardown once they have
reported: the figures count tracking, not the harness) and finishing (which waits for the upload). Figures:
metrics per second ingested (all rows of all clients, from the first client's start to the last row visible on
the server), p50/p99 latency of ingest requests (from the server's request log), time from log() to visible
through Api (probes), log() cost on the caller's thread (online amid the N clients, and one client alone
online and offline: what online mode itself costs, apart from the contention, each beside a fixed pure-Python
loop's CPU time in the same process, since this VM's speed varies with its host), whether every returned log()
reached the server, and the server's own capacity (batches encoded beforehand, posted over 4 connections: what
the server takes when client-side logging is not competing for the same 2 cores). MLflow's server gets the
same clients through `log_batch` (one call per step), scaled down when asked, on the same backends; its rate
is per metric, so the two compare directly.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

TRACKER_CLIENT = textwrap.dedent("""
    import json, os, sys, time, tracker
    mode, steps, root, run_id, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

    def reference_ms():
        # this VM's CPU speed changes with its host's load (up to 1.8x, for every process alike): a fixed
        # pure-Python loop, timed in this thread's CPU time (not slowed by the other clients), tells which
        # speed this process had, so log()'s cost can be read against it
        started, table = time.thread_time(), {}
        for i in range(200_000):
            table[i & 1023] = i * 0.5
        return (time.thread_time() - started) * 1e3

    costs = []
    clock = time.perf_counter_ns
    # the rows are built before the start: formatting them costs as much as log() itself, and is not tracking
    rows = [{f"m{k}": step * 0.001 + k for k in range(10)} for step in range(steps)]
    reference_before = reference_ms()
    with tracker.init(project="bench", id=run_id, dir=root, mode=mode,
                      settings={"upload_timeout": 600, "heartbeat_interval": 5}) as run:
        print("ready", flush=True)
        while not os.path.exists(go):  # every client starts logging at once
            time.sleep(0.001)
        cpu, calls = time.process_time(), time.thread_time()
        for row in rows:
            started = clock()
            run.log(row)
            costs.append(clock() - started)
        calls = time.thread_time() - calls  # the logging thread's own CPU (the rest: streaming, finishing)
    done, cpu = time.time(), time.process_time() - cpu
    costs.sort()
    print(json.dumps({"median_us": costs[len(costs) // 2] / 1e3, "mean_us": sum(costs) / len(costs) / 1e3,
                      "done": done, "cpu_s": cpu, "log_cpu_s": calls,
                      "reference_ms": [reference_before, reference_ms()]}), flush=True)
    os._exit(0)  # the run is finished and reported: skip the interpreter's teardown (harness CPU, not tracking)
""")

MLFLOW_CLIENT = textwrap.dedent("""
    import json, os, sys, time
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient
    steps, url, experiment, go = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    client = MlflowClient(tracking_uri=url)
    run = client.create_run(experiment)
    now = int(time.time() * 1000)
    batches = [[Metric(f"m{k}", step * 0.001 + k, now, step) for k in range(10)] for step in range(steps)]
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.001)
    for metrics in batches:
        client.log_batch(run.info.run_id, metrics=metrics)
    client.set_terminated(run.info.run_id)
    print(json.dumps({"done": time.time()}), flush=True)
    os._exit(0)  # as the tracker's clients do
""")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_http(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def _tracker_cli() -> str:
    return str(Path(sys.executable).with_name("tracker"))


def _fresh_postgres(base: str, name: str) -> str:
    _drop_postgres(base, name)
    import psycopg

    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + "/" + name


def _drop_postgres(base: str, name: str) -> None:
    """Drop a benchmark database: one left behind keeps autovacuum busy during the next measurements."""
    import psycopg

    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a live process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    command = handle.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            found[int(entry)] = (parent, command)
    return found


def _server_side(root: int, database: str | None) -> list[int]:
    """The server's processes (``root`` and its descendants) and, for PostgreSQL, the database's: its
    backends serving ``database`` and its shared background processes (WAL writer, checkpointer...)."""
    processes = _processes()
    tree, grown = {root}, True
    while grown:
        grown = False
        for pid, (parent, _) in processes.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grown = True
    ours = sorted(tree)
    if database is not None:
        for pid, (_, command) in processes.items():
            if command.startswith("postgres: ") and (f" {database} " in command or "(" not in command):
                ours.append(-pid)  # negative: counted as the database's
    return ours


def _idle_jiffies() -> tuple[int, int]:
    """(idle, all) CPU time of the whole machine so far, in clock ticks (/proc/stat)."""
    with open("/proc/stat") as handle:
        ticks = [int(field) for field in handle.readline().split()[1:]]
    return ticks[3] + ticks[4], sum(ticks)


class CpuMeter:
    """CPU seconds of the server's processes and of PostgreSQL's over a stretch of time (processes that
    start meanwhile are counted from zero; robust to other load on the machine, unlike wall rates)."""

    def __init__(self, root: int, database: str | None) -> None:
        self.root, self.database = root, database
        self.start = {pid: _process_cpu(abs(pid)) for pid in _server_side(root, database)}
        self.idle = _idle_jiffies()

    def stop(self) -> dict[str, float]:
        """CPU seconds of the server and the database, of the whole machine (the kernel's writeback and
        everything else included), and the machine's idle share meanwhile (CPUs left unused: waits in the
        pipeline rather than work)."""
        idle, ticks = (now - before for now, before in zip(_idle_jiffies(), self.idle, strict=True))
        busy = (ticks - idle) / os.sysconf("SC_CLK_TCK")
        spent = {"server": 0.0, "database": 0.0, "machine": busy, "idle_share": idle / max(ticks, 1)}
        for pid in _server_side(self.root, self.database):
            used = _process_cpu(abs(pid)) - self.start.get(pid, 0.0)
            spent["server" if pid > 0 else "database"] += used
        return spent


class TrackerServer:
    def __init__(self, work: Path, db: str | None, workers: int = 1) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = work / "server"
        self.log = work / "server.log"
        store = ["--data", str(self.data), *(["--db", db] if db else [])]
        key = subprocess.run(
            [_tracker_cli(), "server", "user", "add", "bench", *store], capture_output=True, text=True, check=True
        )
        self.key = key.stdout.strip().splitlines()[-1]
        with open(self.log, "wb") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [_tracker_cli(), "server", "--port", str(self.port), "--workers", str(workers), *store],
                stderr=log,
                stdout=subprocess.DEVNULL,
            )
        _wait_http(f"{self.url}/api/health")

    def batches(self) -> list[tuple[float, float]]:
        """(end time, duration in ms) of every ingest request, from the server's request log."""
        import datetime as dt

        found = []
        for line in self.log.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("method") == "POST" and str(event.get("path", "")).endswith("/batches"):
                ended = dt.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()
                found.append((ended, float(event["duration_ms"])))
        return found

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _report(child: subprocess.Popen[str]) -> dict[str, Any]:
    """A client's JSON report: its last line of output (MLflow's client prints links before it)."""
    output = child.communicate()[0]
    if child.returncode != 0 or not output.strip():
        raise RuntimeError(f"a benchmark client failed (exit {child.returncode}): {output[-500:]}")
    return json.loads(output.strip().splitlines()[-1])


def _spawn(code: str, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE, text=True)


def _alone(work: Path, mode: str, steps: int, env: dict[str, str]) -> dict[str, Any]:
    """The report of one tracker client logging ``steps`` rows in ``mode`` with nothing else running."""
    go = work / f"go-{mode}-alone"
    go.touch()
    return _report(
        _spawn(TRACKER_CLIENT, mode, str(steps), str(work / f"{mode}-alone"), f"{mode}-alone", str(go), env=env)
    )


def tracker_backend(work: Path, db: str | None, clients: int, steps: int, workers: int = 1) -> dict[str, Any]:
    load = os.getloadavg()[0]  # other jobs on the machine (the figures below are only as quiet as it is)
    server = TrackerServer(work, db, workers)
    env = {**os.environ, "TRACKER_BASE_URL": server.url, "TRACKER_API_KEY": server.key, "TRACKER_SILENT": "true"}
    try:
        go = work / "go"
        children = [
            _spawn(TRACKER_CLIENT, "online", str(steps), str(work / f"c{i}"), f"client{i}", str(go), env=env)
            for i in range(clients)
        ]
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        database = db.rsplit("/", 1)[1] if db else None
        meter = CpuMeter(server.process.pid, database)
        started = time.time()
        go.touch()
        reports = [_report(child) for child in children]
        finished = max(report["done"] for report in reports)
        spent = meter.stop()
        millions = clients * steps * 10 / 1e6
        import tracker

        api = tracker.Api(base_url=server.url, api_key=server.key)
        rows = {run.id: run._run["rows"] for run in api.runs("bench")}
        complete = all(rows.get(f"client{i}") == steps for i in range(clients))
        visible = _visibility(server, env, work)
        meter = CpuMeter(server.process.pid, database)
        capacity, capacity_metrics = _capacity(server)
        capacity_spent = meter.stop()
        # one client alone in each mode: what online mode costs log() itself, apart from 16 clients and the
        # server sharing 2 cores in the run above
        offline = _alone(work, "offline", steps, env)
        online_alone = _alone(work, "online", steps, env)
        batches = server.batches()
        latencies = [duration for _, duration in batches]
        return {
            # from the moment every client starts logging to the moment the last one's upload is complete
            "metrics_per_s": clients * steps * 10 / (finished - started),
            "batch_p50_ms": _quantile(latencies, 0.5),
            "batch_p99_ms": _quantile(latencies, 0.99),
            "batches": len(latencies),
            "visible_ms": visible,
            "server_capacity_metrics_per_s": capacity,
            # CPU seconds per million metrics end to end: the clients (logging, streaming, finishing), the
            # server's processes, PostgreSQL's; and the server's and PostgreSQL's alone in the capacity phase
            "cpu_s_per_M": {
                "clients": sum(report["cpu_s"] for report in reports) / millions,
                "clients_log_calls": sum(report["log_cpu_s"] for report in reports) / millions,
                "server": spent["server"] / millions,
                "database": spent["database"] / millions,
                "total": (sum(report["cpu_s"] for report in reports) + spent["server"] + spent["database"]) / millions,
                "machine": spent["machine"] / millions,  # all processes and the kernel: the total and more
                "capacity_server": capacity_spent["server"] / (capacity_metrics / 1e6),
                "capacity_database": capacity_spent["database"] / (capacity_metrics / 1e6),
            },
            "machine_idle_share": spent["idle_share"],
            "log_online_median_us": statistics.median(report["median_us"] for report in reports),
            "log_online_mean_us": statistics.median(report["mean_us"] for report in reports),
            "log_online_alone_median_us": online_alone["median_us"],
            "log_online_alone_mean_us": online_alone["mean_us"],
            "log_offline_median_us": offline["median_us"],
            "log_offline_mean_us": offline["mean_us"],
            # the CPU reference loop (ms, before and after logging) in each client, median over them, and in the
            # lone offline client: about 21 ms when the host gives this VM its full speed, 33-42 ms when not
            "reference_ms": [statistics.median(report["reference_ms"][i] for report in reports) for i in (0, 1)],
            "reference_offline_ms": offline["reference_ms"],
            "every_row_on_server": complete,
            "load_average_before": load,
        }
    finally:
        server.stop()


def _capacity(
    server: TrackerServer, runs: int = 16, batches: int = 10, rows: int = 1000, connections: int = 4
) -> tuple[float, int]:
    """(metrics per second, metrics) the server ingests from batches encoded beforehand (no client logging in
    the way): ``runs`` runs of ``batches`` batches of ``rows`` rows of 10 scalars, over ``connections``
    connections."""
    import http.client
    import threading

    import orjson

    def body(run: int, batch: int) -> bytes:
        first = batch * rows
        records = [
            {
                "_step": step,
                "_runtime": step * 0.01,
                "_timestamp": 1.8e9 + step,
                **{f"m{k}": step + k * 0.5 for k in range(10)},
            }
            for step in range(first, first + rows)
        ]
        return orjson.dumps({"journal_id": f"capacity{run}", "offset": batch, "end": batch + 1, "records": records})

    work = [(run, [body(run, batch) for batch in range(batches)]) for run in range(runs)]
    headers = {"Authorization": f"Bearer {server.key}", "Content-Type": "application/json"}
    failures: list[str] = []

    def send(assigned: list[tuple[int, list[bytes]]]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
        for run, bodies in assigned:
            for data in bodies:
                connection.request("POST", f"/api/runs/bench/capacity/run{run}/batches", data, headers)
                answer = connection.getresponse()
                answer.read()
                if answer.status != 200:
                    failures.append(f"{answer.status}")
        connection.close()

    threads = [threading.Thread(target=send, args=(work[index::connections],)) for index in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"the capacity phase got non-200 answers: {failures[:5]}")
    metrics = runs * batches * rows * 10
    return metrics / elapsed, metrics


PROBE = textwrap.dedent("""
    import json, sys, time, tracker
    root = sys.argv[1]
    api = tracker.Api(base_url=None)
    delays = []
    with tracker.init(project="probe", id="probe", dir=root, mode="online",
                      settings={"heartbeat_interval": 5}) as run:
        for step in range(20):
            run.log({"marker": step})
            logged = time.perf_counter()
            while True:
                try:
                    rows = api.run(f"{run.entity}/probe/probe").history(keys=["marker"])
                except tracker.Error:  # the run is not on the server yet
                    rows = []
                if rows and rows[-1]["marker"] == step:
                    break
                time.sleep(0.005)
            delays.append((time.perf_counter() - logged) * 1000)
    print(json.dumps(sorted(delays)[len(delays) // 2]))
""")


def _visibility(server: TrackerServer, env: dict[str, str], work: Path) -> float:
    """Median ms from a log() returning to its row being readable through Api from the server."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(work / "probe")], env=env, capture_output=True, text=True, check=True
    )
    return float(result.stdout)


def mlflow_backend(work: Path, db: str, clients: int, steps: int) -> dict[str, Any]:
    port = _free_port()
    command = [str(Path(sys.executable).with_name("mlflow")), "server", "--backend-store-uri", db, "--port", str(port)]
    command += ["--host", "127.0.0.1", "--workers", "2", "--default-artifact-root", str(work / "artifacts")]
    with open(work / "mlflow.log", "wb") as log:
        server = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
        )
    try:
        _wait_http(f"http://127.0.0.1:{port}/health", timeout=300)
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
        from mlflow.tracking import MlflowClient

        url = f"http://127.0.0.1:{port}"
        experiment = MlflowClient(tracking_uri=url).create_experiment("bench")
        go = work / "go-mlflow"
        children = [_spawn(MLFLOW_CLIENT, str(steps), url, experiment, str(go), env=env) for _ in range(clients)]
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        started = time.time()
        go.touch()
        reports = [_report(child) for child in children]
        return {"metrics_per_s": clients * steps * 10 / (max(r["done"] for r in reports) - started)}
    finally:
        server.terminate()
        server.wait(timeout=60)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.server", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--mlflow-steps", type=int, default=500, help="steps per MLflow client (it is slow)")
    parser.add_argument("--postgres", help="a PostgreSQL URL (a fresh database is made in that server)")
    parser.add_argument("--mlflow", action="store_true", help="also run mlflow server on the same backends")
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="tracker server --workers (uvicorn processes)")
    parser.add_argument("--output", type=Path, help="write the JSON result here")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "clients": args.clients,
        "steps": args.steps,
        "workers": args.workers,
        "tracker": {},
        "mlflow": {},
    }
    backends = [("sqlite", None)] + ([("postgres", args.postgres)] if args.postgres else [])
    for name, base in backends:
        runs = []
        for rep in range(args.reps):
            work = Path(tempfile.mkdtemp(prefix=f"bench-server-{name}-"))
            databases = {tool: f"bench_{tool}_{rep}" for tool in ("tracker", "mlflow")}  # PostgreSQL's, dropped after
            try:
                db = _fresh_postgres(base, databases["tracker"]) if base else None
                runs.append(tracker_backend(work, db, args.clients, args.steps, args.workers))
                if args.mlflow:
                    mlflow_db = (
                        _fresh_postgres(base, databases["mlflow"]).replace("postgresql://", "postgresql+psycopg://")
                        if base
                        else f"sqlite:///{work / 'mlflow.db'}"
                    )
                    results["mlflow"].setdefault(name, []).append(
                        mlflow_backend(work, mlflow_db, args.clients, args.mlflow_steps)
                    )
            finally:
                shutil.rmtree(work, ignore_errors=True)
                for database in databases.values() if base else ():
                    _drop_postgres(base, database)
        results["tracker"][name] = runs
        print(json.dumps({name: runs, "mlflow": results["mlflow"].get(name)}, indent=1), flush=True)
    if args.output:
        args.output.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
