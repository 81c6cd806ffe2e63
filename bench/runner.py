"""Parent side: probes the tools, schedules baseline/peer pairs and runs each workload in child processes."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import procs
from bench.adapters import BASELINE, get_adapter
from bench.catalog import FULL, Scale
from bench.stats import Sample

Values = dict[str, Any]
Notes = dict[str, list[str]]  # metric key, or "*" for every metric of the workload -> notes
Measured = tuple[Values, Notes]


@dataclass
class ToolStatus:
    name: str
    available: bool
    version: str | None = None
    reason: str | None = None


class Runner:
    def __init__(self, tools: list[str], scale: Scale, workdir: Path, keep: bool, say: Callable[[str], None]) -> None:
        self.tools = tools
        self.scale = scale
        self.workdir = workdir
        self.keep = keep
        self.say = say
        self.status: dict[str, ToolStatus] = {}
        self._fixtures: dict[tuple[str, str], Values] = {}
        self._seq = 0

    # -- plumbing -----------------------------------------------------------------------------------
    def _scratch(self, tag: str) -> Path:
        self._seq += 1
        root = self.workdir / f"{self._seq:04d}-{tag}" / "root"
        root.mkdir(parents=True)
        return root

    def _discard(self, root: Path) -> None:
        if not self.keep:
            shutil.rmtree(root.parent, ignore_errors=True)

    def _env(self, tool: str, root: Path) -> dict[str, str]:
        return procs.child_env(get_adapter(tool).env(root))

    def _spawn(self, tool: str, script: str, root: Path, name: str, **params: Any) -> tuple[procs.Child, Path]:
        result = root.parent / f"{name}.json"
        spec = {"script": script, "tool": tool, "root": str(root), "result": str(result), **params}
        fds = (params["marker_fd"],) if "marker_fd" in params else ()
        child = procs.spawn(procs.workload_argv(spec), self._env(tool, root), root, root.parent / f"{name}.log", fds)
        return child, result

    def _collect(self, child: procs.Child, result: Path) -> Values:
        """Wait for a child, let its helpers leave, and return its result."""
        wall = child.wait(self.scale.child_timeout_s)
        procs.settle_group(child.pid, 5.0)
        if child.proc.returncode != 0 or not result.exists():
            raise procs.ChildFailed(child.failure())
        values: Values = json.loads(result.read_text())
        values["process_s"] = wall
        return values

    def _script(self, tool: str, script: str, root: Path, **params: Any) -> Values:
        return self._collect(*self._spawn(tool, script, root, script, **params))

    # -- tools --------------------------------------------------------------------------------------
    def probe(self) -> dict[str, ToolStatus]:
        for tool in self.tools:
            root = self._scratch(f"probe-{tool}")
            try:
                version = self._script(tool, "probe", root)["version"]
                self.status[tool] = ToolStatus(tool, True, version=version)
            except procs.ChildFailed as exc:
                reason = str(exc).split(": ", 1)[-1].removeprefix("ModuleNotFoundError: ")
                self.status[tool] = ToolStatus(tool, False, reason=reason)
            finally:
                self._discard(root)
            st = self.status[tool]
            self.say(f"{tool}: {st.version}" if st.available else f"{tool}: not installed: {st.reason}")
        return self.status

    def schedule(self) -> Iterator[tuple[str, tuple[int, str] | None]]:
        """(tool, pair key) in run order. Samples with the same pair key ran back to back.

        Full runs: baseline and each peer alternate as pairs, B P1 B P2 ... then P1 B P2 B ... on the
        next repetition. --quick: one baseline run per repetition shared by all peers, B P1 P2 ...
        """
        ready = [t for t in self.tools if self.status[t].available]
        peers = [t for t in ready if t != BASELINE]
        for rep in range(self.scale.reps):
            if BASELINE not in ready:
                for tool in peers:
                    yield tool, None
            elif not peers or not self.scale.pair_each_peer:
                order = [BASELINE, *peers]
                for tool in order if rep % 2 == 0 else reversed(order):
                    yield tool, (rep, "*")
            else:
                for peer in peers:
                    for tool in (BASELINE, peer) if rep % 2 == 0 else (peer, BASELINE):
                        yield tool, (rep, peer)

    def run(self, workload: str) -> list[Sample]:
        measure: Callable[[str, Path], Measured] = getattr(self, f"_w_{workload}")
        samples = []
        for tool, pair in self.schedule():
            root = self._scratch(f"{workload}-{tool}")
            t0 = time.perf_counter()
            try:
                values, notes = measure(tool, root)
                sample = Sample(tool, pair, values, notes)
            except procs.ChildFailed as exc:
                sample = Sample(tool, pair, error=str(exc))
            finally:
                self._discard(root)
            self.say(
                f"  {workload:<10} {tool:<8} {time.perf_counter() - t0:6.1f} s"
                + (f"  ERROR {sample.error}" if sample.error else "")
            )
            samples.append(sample)
        return samples

    # -- workloads: each returns (values, notes) for one tool in one fresh root ---------------------
    def _w_import(self, tool: str, root: Path) -> Measured:
        env = self._env(tool, root)

        def wall(code: str) -> float:
            t0 = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", code],
                env=env,
                cwd=root,
                capture_output=True,
                timeout=self.scale.child_timeout_s,
                check=False,
            )
            if done.returncode != 0:
                lines = done.stderr.decode(errors="replace").strip().splitlines() or ["no output"]
                raise procs.ChildFailed(f"exit {done.returncode}: {lines[-1][:160]}")
            return time.perf_counter() - t0

        before = wall("pass")
        with_import = wall(f"import {get_adapter(tool).import_name}")
        after = wall("pass")
        return {"import_s": with_import - (before + after) / 2, "process_s": with_import}, {}

    def _w_init(self, tool: str, root: Path) -> Measured:
        values = self._script(tool, "init_finish", root)
        values["process_over_bare_s"] = values["process_s"] - self._script(tool, "bare", root)["process_s"]
        return values, {}

    def _w_log(self, tool: str, root: Path) -> Measured:
        s = self.scale
        values = self._script(tool, "log_steps", root, steps=s.log_steps, keys=s.log_keys, cap_s=s.log_cap_s)
        values["disk_bytes"] = procs.disk_bytes(root)
        notes: Notes = {}
        if values["steps"] < s.log_steps:
            notes["*"] = [f"{values['steps']:,}/{s.log_steps:,} steps (capped at {s.log_cap_s:g} s)"]
        return values, notes

    def _w_durability(self, tool: str, root: Path) -> Measured:
        s = self.scale
        read_fd, write_fd = os.pipe()
        try:
            child, _ = self._spawn(
                tool,
                "durability",
                root,
                "durability",
                steps=s.durability_steps,
                keys=s.log_keys,
                marker_fd=write_fd,
            )
        finally:
            os.close(write_fd)
        try:
            run_id = self._await_marker(child, read_fd)
        finally:
            os.close(read_fd)
        procs.settle_group(child.pid, s.kill_grace_s)
        values = self._script(tool, "readback", root, run_id=run_id)
        return values, {"*": [f"of {s.durability_steps:,} logged"]}

    def _await_marker(self, child: procs.Child, fd: int) -> str:
        """Read the child's marker pipe; SIGKILL it the moment `done` arrives. Returns the run id."""
        deadline = time.monotonic() + self.scale.child_timeout_s
        buf, run_id = b"", ""
        while True:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                procs.kill_group(child.pid)
                child.proc.wait()
                raise procs.ChildFailed("timed out before the last log() returned")
            chunk = os.read(fd, 4096)
            if not chunk:  # the child died on its own
                child.proc.wait()
                raise procs.ChildFailed(child.failure())
            buf += chunk
            lines = buf.decode().split("\n")
            if "done" in lines:
                os.kill(child.pid, signal.SIGKILL)
                child.proc.wait()
                for line in lines:
                    if line.startswith("id "):
                        run_id = line[3:]
                return run_id

    def _w_sweep(self, tool: str, root: Path) -> Measured:
        s = self.scale
        pending = list(range(s.sweep_runs))
        running: list[tuple[procs.Child, Path]] = []
        failures: list[str] = []
        # One untimed run first, so the sweep lands in an existing store: with a brand-new root two
        # processes racing to create it can fail (mlflow's sqlite schema migration does).
        self._script(tool, "log_steps", root, steps=1, keys=s.log_keys)
        t0 = time.perf_counter()
        deadline = time.monotonic() + s.child_timeout_s
        while pending or running:
            while pending and len(running) < s.sweep_parallel:
                i = pending.pop(0)
                running.append(self._spawn(tool, "log_steps", root, f"sweep-{i}", steps=s.sweep_steps, keys=s.log_keys))
            time.sleep(0.005)
            for entry in [e for e in running if e[0].proc.poll() is not None]:
                running.remove(entry)
                child, result = entry
                if child.proc.returncode != 0 or not result.exists():
                    failures.append(child.failure())
            if time.monotonic() > deadline:
                for child, _ in running:
                    procs.kill_group(child.pid)
                raise procs.ChildFailed("sweep timed out")
        wall = time.perf_counter() - t0
        if failures:
            raise procs.ChildFailed(f"{len(failures)} of {s.sweep_runs} runs failed: {failures[0]}")
        scaled = s.sweep_runs != FULL.sweep_runs
        notes = {"*": [f"{s.sweep_runs} runs, not {FULL.sweep_runs} (quick)"]} if scaled else {}
        return {"sweep_s": wall, "runs": s.sweep_runs}, notes

    def _w_media(self, tool: str, root: Path) -> Measured:
        s = self.scale
        values = self._script(tool, "media", root, images=s.media_images, artifact_mb=s.artifact_mb)
        values["media_disk_bytes"] = procs.disk_bytes(root)
        note = values.pop("artifact_download_note", None)
        return values, {"artifact_download_s": [note]} if note else {}

    def _fixture(self, tool: str, kind: str) -> Values:
        """Build (once per tool and benchmark run) the data the reading workload reads back."""
        key = (tool, kind)
        if key not in self._fixtures:
            s = self.scale
            root = self.workdir / "fixtures" / tool / kind
            root.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            try:
                if kind == "history":
                    made = self._script(
                        tool, "history_fixture", root, steps=s.history_steps, keys=s.log_keys, cap_s=s.fixture_cap_s
                    )
                else:
                    made = self._script(tool, "runs_fixture", root, count=s.list_runs, cap_s=s.fixture_cap_s)
                made["root"] = str(root)
            except procs.ChildFailed as exc:
                made = {"error": f"building the fixture failed: {exc}"}
            self.say(f"  fixture    {tool:<8} {kind:<8} {time.perf_counter() - t0:6.1f} s  {made}")
            self._fixtures[key] = made
        return self._fixtures[key]

    def _w_read(self, tool: str, root: Path) -> Measured:
        s = self.scale
        values: Values = {}
        notes: Notes = {"history_s": [], "list_s": []}
        errors: list[str] = []
        history = self._fixture(tool, "history")
        if "error" in history:
            errors.append(history["error"])
        else:
            try:
                values.update(self._script(tool, "read_history", Path(history["root"]), run_id=history["run_id"]))
                if values["history_rows"] < s.history_steps:
                    notes["history_s"].append(f"{values['history_rows']:,}/{s.history_steps:,} steps (scaled down)")
            except procs.ChildFailed as exc:
                errors.append(str(exc))
        runs = self._fixture(tool, "runs")
        if "error" in runs:
            errors.append(runs["error"])
        else:
            try:
                values.update(self._script(tool, "list_runs", Path(runs["root"])))
                if values["listed_runs"] < s.list_runs:
                    notes["list_s"].append(f"{values['listed_runs']:,}/{s.list_runs:,} runs (scaled down)")
            except procs.ChildFailed as exc:
                errors.append(str(exc))
        if errors and not values:
            raise procs.ChildFailed("; ".join(errors))
        notes["*"] = [f"error: {e}" for e in errors]
        return values, notes

    def close(self) -> None:
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
