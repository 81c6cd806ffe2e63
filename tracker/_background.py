"""The process's one timer thread: it starts what a run defers (the metadata lookups, the system sampler).

init() would otherwise start a thread per deferred job (the git-state lookup 0.5 s after init(), the
sampler's first sample after 1 s), and ``threading.Thread.start()`` makes the caller wait until the
new thread has been scheduled and has taken the GIL: on a loaded machine, milliseconds. Here the first
``call_later`` of a process starts this thread, once, with ``_thread.start_new_thread``, which does not
wait; a run that ends before its timers are due starts no other thread at all.

What runs here must be short: anything slow (``git status``, sampling) runs in a thread that the timed
function starts. An exception in timed work is dropped: it must never stop this thread, nor training.
Like a daemon thread, this one does not keep the interpreter alive.
"""

from __future__ import annotations

import _thread
import heapq
import itertools
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Protocol

Work = Callable[[], object]


class Timer:
    """A function to run after a delay, unless ``cancel()`` is called first."""

    __slots__ = ("cancelled", "due", "work")

    def __init__(self, due: float, work: Work) -> None:
        self.due, self.work, self.cancelled = due, work, False

    def cancel(self) -> None:
        """Do not run it (if it is running right now, it finishes: the work itself checks what it needs)."""
        self.cancelled = True


THREAD_NAME = "tracker-timer"
_new: queue.SimpleQueue[Timer] = queue.SimpleQueue()  # timers handed to the thread
_timers: list[tuple[float, int, Timer]] = []  # a heap, touched only by the thread
_order = itertools.count()
_started = False
_start_lock = threading.Lock()


def call_later(delay: float, work: Work) -> Timer:
    """Run ``work`` on the timer thread ``delay`` seconds from now, unless the Timer is cancelled."""
    timer = Timer(time.monotonic() + delay, work)
    _start()
    _new.put(timer)
    return timer


class Service(Protocol):
    def stop(self) -> None: ...


class Deferred:
    """A service built on the timer thread ``delay`` seconds from now, unless stopped first.

    ``stop()`` stops it whether or not it was built yet; none is built after ``stop()`` returns. What
    builds it runs on the timer thread, so its module is imported there, not on init()'s path.
    """

    __slots__ = ("_build", "_lock", "_service", "_stopped", "_timer")

    def __init__(self, delay: float, build: Callable[[], Service]) -> None:
        self._build, self._stopped = build, False
        self._service: Service | None = None
        self._lock = threading.Lock()
        self._timer = call_later(delay, self._begin)

    def _begin(self) -> None:
        with self._lock:
            if not self._stopped:
                self._service = self._build()

    def stop(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._stopped = True
            service = self._service
        if service is not None:
            service.stop()


def _start() -> None:
    global _started
    if _started:
        return
    with _start_lock:
        if not _started:
            _started = True
            _thread.start_new_thread(_run_forever, ())


def _run_due() -> float | None:
    """Run the timers that are due; the seconds until the next one, None when there is none."""
    while _timers:
        due, _order_key, timer = _timers[0]
        if timer.cancelled:
            heapq.heappop(_timers)
            continue
        wait = due - time.monotonic()
        if wait > 0:
            return wait
        heapq.heappop(_timers)
        # a name for threading.enumerate() and py-spy (a _thread thread has none), given when there is work
        # rather than at the thread's start, when making its threading object would hold the GIL in init()
        threading.current_thread().name = THREAD_NAME
        try:
            timer.work()
        except Exception:  # see the module docstring
            continue
    return None


def _run_forever() -> None:
    while True:
        try:
            timer = _new.get(timeout=_run_due())
        except queue.Empty:
            continue
        heapq.heappush(_timers, (timer.due, next(_order), timer))


def _reset_after_fork() -> None:
    """A forked child has no timer thread; it starts its own on demand, with none of the parent's timers."""
    global _new, _started, _start_lock
    _new = queue.SimpleQueue()
    _timers.clear()
    _started = False
    _start_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)
