"""The process's background thread: queued work in order, timers, cancellation, failures, fork."""

from __future__ import annotations

import os
import threading

from tracker import _background

DEADLINE_S = 30.0


def test_work_runs_in_submission_order() -> None:
    seen: list[int] = []
    for number in range(50):
        _background.submit(lambda number=number: seen.append(number))
    assert _background.flush(DEADLINE_S)
    assert seen == list(range(50))


def test_timers_run_in_due_order_and_a_cancelled_one_never_runs() -> None:
    seen: list[str] = []
    release, done = threading.Event(), threading.Event()
    _background.submit(lambda: release.wait(DEADLINE_S))  # the timers below are taken in only after release
    _background.call_later(0.0, lambda: seen.append("first"))
    cancelled = _background.call_later(0.0, lambda: seen.append("cancelled"))
    _background.call_later(0.1, lambda: seen.append("second"))
    _background.call_later(0.2, done.set)  # due after every other one (each delay counts from a later call)
    cancelled.cancel()
    release.set()
    assert done.wait(DEADLINE_S)
    assert seen == ["first", "second"]


def test_a_failing_piece_of_work_does_not_stop_the_thread() -> None:
    def fail() -> None:
        raise OSError("no space left on device")

    ran = threading.Event()
    _background.submit(fail)
    _background.call_later(0.0, fail)
    _background.submit(ran.set)
    assert ran.wait(DEADLINE_S) and _background.flush(DEADLINE_S)


def test_a_forked_child_starts_its_own_thread_without_the_parents_pending_timers() -> None:
    release = threading.Event()
    _background.call_later(0.0, lambda: release.wait(DEADLINE_S))  # the parent's thread is busy meanwhile
    _background.call_later(3600, lambda: None)  # a timer pending in the parent
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own thread does its work, with no timer inherited
        try:
            ran = threading.Event()
            _background.submit(ran.set)
            ok = ran.wait(DEADLINE_S) and _background.flush(DEADLINE_S) and not _background._timers
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


def test_work_submitted_while_held_waits_until_released_and_flush_releases(monkeypatch) -> None:
    monkeypatch.setattr(_background, "HOLD_LIMIT_S", 3600.0)  # only release() or flush() end these holds
    ran = threading.Event()
    _background.hold()
    _background.submit(ran.set)
    assert not ran.is_set()  # held: the thread stops at the hold, whatever its timing
    _background.release()
    assert ran.wait(DEADLINE_S)
    seen: list[str] = []
    _background.hold()
    _background.submit(lambda: seen.append("held"))
    assert _background.flush(DEADLINE_S) and seen == ["held"]  # flush lets a hold go, then waits


def test_a_hold_nobody_releases_ends_by_itself() -> None:
    ran = threading.Event()
    _background.hold()  # an init() waiting long for a lock: the events of other threads still get written
    _background.submit(ran.set)
    assert ran.wait(DEADLINE_S)
    _background.release()
