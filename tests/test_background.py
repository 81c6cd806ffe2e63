"""The process's timer thread: timers in due order, cancellation, failures, fork."""

from __future__ import annotations

import os
import threading

from tracker import _background

DEADLINE_S = 30.0


def test_timers_run_in_due_order() -> None:
    seen: list[str] = []
    done = threading.Event()
    _background.call_later(0.1, lambda: seen.append("second"))
    _background.call_later(0.0, lambda: seen.append("first"))
    _background.call_later(0.2, done.set)  # due after the others (each delay counts from a later call)
    assert done.wait(DEADLINE_S)
    assert seen == ["first", "second"]


def test_the_timer_thread_has_a_name() -> None:
    names: list[str] = []
    done = threading.Event()
    _background.call_later(0.0, lambda: (names.append(threading.current_thread().name), done.set()))
    assert done.wait(DEADLINE_S)
    assert names == [_background.THREAD_NAME]
    assert _background.THREAD_NAME in {thread.name for thread in threading.enumerate()}


def test_a_cancelled_timer_that_was_due_is_skipped() -> None:
    seen: list[str] = []
    release, done = threading.Event(), threading.Event()
    _background.call_later(0.0, lambda: release.wait(DEADLINE_S))  # keeps the thread busy meanwhile
    skipped = _background.call_later(0.0, lambda: seen.append("skipped"))
    skipped.cancel()  # before the thread is free to run it, whatever the timing
    _background.call_later(0.0, done.set)
    release.set()
    assert done.wait(DEADLINE_S)
    assert seen == []


def test_failing_work_does_not_stop_the_thread() -> None:
    def fail() -> None:
        raise OSError("no space left on device")

    ran = threading.Event()
    _background.call_later(0.0, fail)
    _background.call_later(0.0, ran.set)
    assert ran.wait(DEADLINE_S)


def test_a_forked_child_starts_its_own_thread_without_the_parents_timers() -> None:
    release = threading.Event()
    _background.call_later(0.0, lambda: release.wait(DEADLINE_S))  # the parent's thread is busy meanwhile
    _background.call_later(3600, lambda: None)  # a timer pending in the parent
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own thread runs its timers, none inherited
        try:
            ran = threading.Event()
            _background.call_later(0.0, ran.set)
            ok = ran.wait(DEADLINE_S) and len(_background._timers) == 0
            os.write(write_end, b"ok" if ok else b"no")
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        assert os.read(read_end, 2) == b"ok"
    finally:
        release.set()
        os.close(read_end)
        os.waitpid(pid, 0)


class _Service:
    def __init__(self, built_on: list[str]) -> None:
        built_on.append(threading.current_thread().name or "")
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()


def test_a_deferred_service_stopped_before_it_is_due_is_never_built() -> None:
    built: list[str] = []
    release, done = threading.Event(), threading.Event()
    _background.call_later(0.0, lambda: release.wait(DEADLINE_S))  # holds the thread until stop() returned
    deferred = _background.Deferred(0.0, lambda: _Service(built))
    deferred.stop()
    _background.call_later(0.0, done.set)
    release.set()
    assert done.wait(DEADLINE_S)
    assert built == []


def test_a_deferred_service_is_built_on_the_timer_thread_and_stopped_with_it() -> None:
    services: list[_Service] = []
    built_on: list[str] = []
    built = threading.Event()

    def build() -> _Service:
        services.append(_Service(built_on))
        built.set()
        return services[-1]

    deferred = _background.Deferred(0.0, build)
    assert built.wait(DEADLINE_S)
    assert built_on != [threading.current_thread().name]
    deferred.stop()
    assert services[0].stopped.is_set()
    deferred.stop()  # twice is harmless (finish() after a preemption handler's finish)
