"""What each workload reports (metric names, units, direction) and the full and --quick scales."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str  # "s", "us", "MB", "bytes", "per_s", "steps"
    better: str  # "lower" or "higher"
    per: str | None = None  # sample key counting the work done; ratios compare value/per when set
    ratio: bool = True  # False: a ratio against tracker would mean nothing (e.g. a count of survivors)


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    metrics: tuple[Metric, ...]


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "import",
            "1. import cost",
            (Metric("import_s", "python -c 'import X' minus python -c pass", "s", "lower"),),
        ),
        Workload(
            "init",
            "2. empty run",
            (
                Metric("init_s", "init() alone", "s", "lower"),
                Metric("init_finish_s", "init() to finish(), nothing logged", "s", "lower"),
                Metric("process_s", "whole process, spawn to exit", "s", "lower"),
                Metric("process_over_bare_s", "whole process minus the harness doing nothing", "s", "lower"),
            ),
        ),
        Workload(
            "log",
            "3. 10,000 steps x 10 scalars",
            (
                Metric("log_us", "log() on caller's thread, median", "us", "lower"),
                Metric("log_mean_us", "log() on caller's thread, mean", "us", "lower"),
                Metric("e2e_s", "init to finish incl. final flush", "s", "lower", per="steps"),
                Metric("metrics_per_s", "metrics per second, end to end", "per_s", "higher"),
                Metric("peak_rss_mb", "peak RSS of the process", "MB", "lower"),
                Metric("helper_rss_mb", "peak RSS of helper processes", "MB", "lower", ratio=False),
                Metric("disk_bytes", "bytes on disk of the run directory", "bytes", "lower", per="steps"),
            ),
        ),
        Workload(
            "durability",
            "4. SIGKILL after the 1,000th log()",
            (Metric("survived", "steps read back after SIGKILL", "steps", "higher", ratio=False),),
        ),
        Workload(
            "sweep",
            "5. sweep: runs of 500 steps, 2 at a time, one root",
            (Metric("sweep_s", "total wall time", "s", "lower", per="runs"),),
        ),
        Workload(
            "read",
            "6. reading back",
            (
                Metric("history_s", "history() of a 100,000-step run", "s", "lower", per="history_rows"),
                Metric("list_s", "list 10,000 runs", "s", "lower", per="listed_runs"),
            ),
        ),
        Workload(
            "media",
            "7. rich data: 1,000 log() with a 64x64 image; a 100 MB artifact",
            (
                Metric("image_log_us", "Image(array) + log(), median", "us", "lower"),
                Metric("image_e2e_s", "init to finish of the image run", "s", "lower", per="images"),
                Metric("media_disk_bytes", "bytes on disk of the root (both runs + artifact)", "bytes", "lower"),
                Metric("artifact_log_s", "log_artifact() call, 100 MB file", "s", "lower"),
                Metric("artifact_finish_s", "log_artifact() through finish()", "s", "lower"),
                Metric("artifact_download_s", "download() of that version", "s", "lower"),
            ),
        ),
    )
}


@dataclass(frozen=True)
class Scale:
    """How big each workload is, and how long anything may take."""

    reps: int = 3
    log_steps: int = 10_000
    log_keys: int = 10
    log_cap_s: float | None = None  # --log-cap (4 s with --quick): stop logging after this long and say so
    durability_steps: int = 1000
    kill_grace_s: float = 1.0  # after the SIGKILL, time left to helper processes before they are killed too
    sweep_runs: int = 16
    sweep_parallel: int = 2
    sweep_steps: int = 500
    history_steps: int = 100_000
    list_runs: int = 10_000
    media_images: int = 1000
    artifact_mb: int = 100
    fixture_cap_s: float | None = None  # --quick: stop building a reading fixture after this long
    child_timeout_s: float = 3600.0
    pair_each_peer: bool = True  # False: one baseline run per repetition shared by every peer
    notes: tuple[str, ...] = field(default_factory=tuple)


FULL = Scale()
QUICK = Scale(
    reps=1,
    log_cap_s=4.0,
    sweep_runs=4,
    fixture_cap_s=3.0,
    child_timeout_s=60.0,
    pair_each_peer=False,
    notes=(
        "--quick: 1 repetition, one tracker run shared by all peers; logging stops after 4 s and "
        "reading fixtures after 3 s of writing; the sweep has 4 runs instead of 16 "
        "(cells say where a tool was scaled down)",
    ),
)
