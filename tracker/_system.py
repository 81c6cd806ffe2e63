"""System metrics: a background thread samples the process tree (psutil) and NVIDIA GPUs (nvidia-ml-py, if present).

Samples go to the run's ``system.jsonl``, apart from the user's history, one os.write per sample, under
``system/...`` keys. The thread never touches log()'s path; without psutil there is simply no sampler.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson

SYSTEM_FILE = "system.jsonl"


def _gpu_sampler() -> Any:
    """A function returning the GPUs' readings, or None where nvidia-ml-py or an NVIDIA driver is missing."""
    try:
        import pynvml

        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(index) for index in range(pynvml.nvmlDeviceGetCount())]
    except Exception:  # no package, no driver, no device: GPU metrics are simply absent
        return None
    if not handles:
        return None

    def sample() -> dict[str, float]:
        readings: dict[str, float] = {}
        for index, handle in enumerate(handles):
            prefix = f"system/gpu.{index}."
            with contextlib.suppress(pynvml.NVMLError):
                readings[prefix + "gpu_percent"] = pynvml.nvmlDeviceGetUtilizationRates(handle).gpu
                memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
                readings[prefix + "memory_allocated_percent"] = 100 * memory.used / memory.total
                temperature = pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)
                readings[prefix + "temperature_c"] = temperature
                readings[prefix + "power_watts"] = pynvml.nvmlDeviceGetPowerUsage(handle) / 1000
        return readings

    return sample


class Sampler:
    """Samples every ``interval`` seconds, from a thread started at once, until ``stop()``.

    A run builds its sampler only after a delay (``tracker._run.FIRST_SAMPLE_DELAY_S``, on the timer
    thread), so neither this module nor psutil is imported on init()'s path. ``stop()`` does not wait
    for the thread (which may still be importing psutil or reading /proc): it only waits for a write in
    progress, and no sample is written after it returns, so the file keeps one writer even when another
    process resumes the run at once.
    """

    def __init__(self, run_directory: str, interval: float, started: float) -> None:
        self._path = os.path.join(run_directory, SYSTEM_FILE)
        self._directory = run_directory
        self._interval = interval
        self._started = started
        self._stopping = threading.Event()
        self._writing = threading.Lock()
        threading.Thread(target=self._loop, name="tracker-system-metrics", daemon=True).start()

    def _loop(self) -> None:
        try:
            import psutil
        except ImportError:
            return
        process = psutil.Process()
        gpus = _gpu_sampler()
        network = psutil.net_io_counters()
        fd: int | None = None
        try:
            while not self._stopping.is_set():
                record = self._sample(psutil, process, network)
                if gpus is not None:
                    record.update(gpus())
                with self._writing:
                    if self._stopping.is_set():
                        return
                    with contextlib.suppress(OSError):  # a full disk must not kill the thread or the job
                        if fd is None:
                            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
                        os.write(fd, orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
                if self._stopping.wait(self._interval):
                    return
        finally:
            if fd is not None:
                os.close(fd)

    def _sample(self, psutil: Any, process: Any, network: Any) -> dict[str, Any]:
        now = time.time()
        tree = [process]
        with contextlib.suppress(psutil.Error):
            tree += process.children(recursive=True)
        cpu = rss = 0.0
        for member in tree:
            with contextlib.suppress(psutil.Error):
                cpu += member.cpu_percent()
                rss += member.memory_info().rss
        counters = psutil.net_io_counters()
        return {
            "_timestamp": now,
            "_runtime": now - self._started,
            "system/cpu_percent": cpu,
            "system/proc.memory.rss_mb": rss / 2**20,
            "system/memory_percent": psutil.virtual_memory().percent,
            "system/disk_percent": psutil.disk_usage(self._directory).percent,
            "system/network.sent_bytes": counters.bytes_sent - network.bytes_sent,
            "system/network.recv_bytes": counters.bytes_recv - network.bytes_recv,
        }

    def stop(self) -> None:
        """No sample is written once this returns (a write in progress is waited for, nothing else)."""
        with self._writing:
            self._stopping.set()


def read_samples(run_directory: str) -> Iterator[dict[str, Any]]:
    """The samples of a run; a torn or damaged line (a kill mid-write) is skipped."""
    try:
        with open(os.path.join(run_directory, SYSTEM_FILE), "rb") as file:
            for line in file:
                with contextlib.suppress(orjson.JSONDecodeError):
                    record = orjson.loads(line)
                    if isinstance(record, dict):
                        yield record
    except FileNotFoundError:
        return
