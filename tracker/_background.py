"""The process's one background thread: it writes the debug logs and starts what a run defers.

init() would otherwise start up to three threads per run (the debug-log writer, the git-state lookup,
the system sampler), and ``threading.Thread.start()`` makes the caller wait until the new thread has
been scheduled and has taken the GIL (on a loaded machine, milliseconds). Here the first init() of a
process starts this thread, once, with ``_thread.start_new_thread``, which does not wait; work is queued
to it (``submit``, done in order) or timed (``call_later``: the git lookup 0.5 s after init(), the
sampler's first sample after 1 s), so a run shorter than that starts no other thread. While init()
works it ``hold()``s the thread: what it submits meanwhile (a dozen debug events) waits without waking
the thread each time, and is done in one go when ``flush()`` (or ``release()``) lets it go.

What runs here must be short: anything slow (``git status``, sampling) runs in a thread that the
deferred function starts. An exception in queued work is dropped: a full disk or a vanished file must
never stop this thread, nor training. Like a daemon thread, it does not keep the interpreter alive.
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

Work = Callable[[], object]


class Timer:
    """A function to run after a delay, unless ``cancel()`` is called first."""

    __slots__ = ("cancelled", "due", "work")

    def __init__(self, due: float, work: Work) -> None:
        self.due, self.work, self.cancelled = due, work, False

    def cancel(self) -> None:
        """Do not run it (if it is running right now, it finishes: the work itself checks what it needs)."""
        self.cancelled = True


# A hold ends by itself after this long: an init() waiting for a run's lock or a slow server must not keep
# other threads' events (a streamer's, the launcher's) unwritten, nor the timers waiting.
HOLD_LIMIT_S = 0.5

_queue: queue.SimpleQueue[Work] = queue.SimpleQueue()
_timers: list[tuple[float, int, Timer]] = []  # a heap, touched only by the background thread
_order = itertools.count()
_gates: list[threading.Event] = []  # the holds in place: the thread waits at each until it is set
_started = False
_alive = False  # false again only if the thread ever ended (it should not)
_start_lock = threading.Lock()


def start() -> None:
    """Start the thread if it is not running (init() does so first, so it starts while init() works)."""
    global _started, _alive
    if _started:
        return
    with _start_lock:
        if not _started:
            _started = _alive = True
            _thread.start_new_thread(_work_forever, ())


def hold() -> None:
    """Until ``release()`` or ``flush()`` (at most ``HOLD_LIMIT_S``), work submitted from now on waits,
    without waking the thread."""
    gate = threading.Event()
    _gates.append(gate)
    submit(lambda: gate.wait(HOLD_LIMIT_S))  # the thread stops here; what is queued behind it waits


def release() -> None:
    """Let the thread go on with what was submitted while it was held."""
    while True:
        try:  # not `while _gates`: a signal handler's flush() may take the last one between test and pop
            gate = _gates.pop()
        except IndexError:
            return
        gate.set()


def submit(work: Work) -> None:
    """Run ``work`` on the background thread, after everything submitted before it."""
    start()
    _queue.put(work)


def call_later(delay: float, work: Work) -> Timer:
    """Run ``work`` on the background thread ``delay`` seconds from now, unless the Timer is cancelled."""
    timer = Timer(time.monotonic() + delay, work)
    submit(lambda: heapq.heappush(_timers, (timer.due, next(_order), timer)))
    return timer


def flush(timeout: float = 2.0) -> bool:
    """Release any hold and wait until the work submitted so far is done; False if the thread did not
    catch up in time."""
    release()
    if not _started:
        return True
    if not _alive:  # nothing more will be done
        return False
    done = threading.Event()
    _queue.put(done.set)
    return done.wait(timeout)


def _due_timers() -> float | None:
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
        _run(timer.work)
    return None


def _run(work: Work) -> None:
    try:
        work()
    except Exception:  # see the module docstring
        return


def _work_forever() -> None:
    global _alive
    try:
        while True:
            wait = _due_timers()
            try:
                work = _queue.get(timeout=wait)
            except queue.Empty:
                continue
            _run(work)
    finally:
        _alive = False


def _reset_after_fork() -> None:
    """A forked child has no background thread; it starts its own on demand, with nothing pending."""
    global _queue, _started, _alive, _start_lock
    _queue = queue.SimpleQueue()
    _timers.clear()
    _gates.clear()
    _started = _alive = False
    _start_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)
