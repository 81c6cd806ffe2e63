"""Process-wide run lifecycle: the live runs, the current one (``tracker.run``), and the hooks that finish runs.

Runs end at interpreter exit with the real exit code (failed after an uncaught exception), and on
a preemption signal. Every hook chains to what was installed before it (sys.exit, signal handlers),
and the user's sys.excepthook is never touched, so nothing of the user's is swallowed or replaced.

A signal handler runs in the main thread between any two bytecodes, so it could finish a run while
that same thread is half-way through writing one of its records. Writers mark such stretches with
``critical()`` (log() inlines the same steps): a preemption signal that arrives inside one is
recorded and handled the moment the stretch ends.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, Protocol


class Hooked(Protocol):
    """What the process hooks need of a run: this module knows runs only through it."""

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None: ...

    def mark_preempting(self) -> None: ...


# what a later init() returning a live run applies to it (launcher/nested.py: a script's own init() in a job)
ScriptInit = Callable[[dict[str, Any], dict[str, Any]], None]

_live: list[Hooked] = []
_current: Hooked | None = None  # tracker.run
_script_inits: dict[int, ScriptInit] = {}  # by id() of a live run; dropped when it leaves _live
_exit_code: int | None = None
_installed = False
_previous_handlers: dict[int, Any] = {}
MAIN_THREAD = threading.main_thread().ident
PID = os.getpid()  # this process's id, kept current across fork: log() compares it without a system call


class Deferral:
    """How deep the main thread is in critical sections, and the signals that arrived meanwhile."""

    __slots__ = ("depth", "pending")

    def __init__(self) -> None:
        self.depth = 0
        self.pending: list[tuple[int, FrameType | None]] = []

    def leave(self) -> None:
        """End one critical section; at the outermost, handle the signals that waited for it."""
        self.depth -= 1
        while not self.depth and self.pending:
            _handle_preemption(*self.pending.pop(0))


DEFERRAL = Deferral()


@contextlib.contextmanager
def critical() -> Iterator[None]:
    """A stretch of writing that a preemption signal must not cut in two (a no-op off the main thread)."""
    if threading.get_ident() != MAIN_THREAD:
        yield
        return
    DEFERRAL.depth += 1
    try:
        yield
    finally:
        DEFERRAL.leave()


def live_runs() -> list[Hooked]:
    return list(_live)


def current() -> Hooked | None:
    """The current run (``tracker.run``): set by init(), cleared by its finish()."""
    return _current


def make_current(run: Hooked) -> None:
    """``tracker.run`` becomes this run unless another run is current."""
    global _current
    if _current is None:
        _current = run


def register(run: Hooked, *, make_current: bool, signals: tuple[str, ...]) -> None:
    global _current
    _live.append(run)
    if make_current or _current is None:
        _current = run
    _install(signals)


def on_returned(run: Hooked, script_init: ScriptInit) -> None:
    """While ``run`` is live, an init() that returns it (``reinit="return_previous"``) passes its keywords
    and config to ``script_init``."""
    _script_inits[id(run)] = script_init


def returned(run: Hooked, keywords: dict[str, Any], config: dict[str, Any]) -> None:
    """init() returns the live ``run``: what was registered with ``on_returned`` applies its arguments."""
    script_init = _script_inits.get(id(run))
    if script_init is not None:
        script_init(keywords, config)


def unregister(run: Hooked) -> None:
    global _current
    _script_inits.pop(id(run), None)
    if run in _live:
        _live.remove(run)
    if _current is run:
        _current = None


def finish_all(exit_code: int | None) -> None:
    for run in reversed(live_runs()):
        run.finish(exit_code=exit_code)


def _install(signals: tuple[str, ...]) -> None:
    global _installed
    if not _installed:
        _installed = True
        atexit.register(_at_exit)
        sys.exit = _chain_exit(sys.exit)
    if threading.current_thread() is threading.main_thread():
        for name in signals:
            number = getattr(signal, name)
            if signal.getsignal(number) is not _on_preemption_signal:
                _previous_handlers[number] = signal.signal(number, _on_preemption_signal)


def _chain_exit(previous: Callable[..., Any]) -> Callable[..., Any]:
    def exit(status: Any = None) -> None:
        global _exit_code
        _exit_code = exit_code_of(SystemExit(status))
        previous(status)

    return exit


def _uncaught_exception() -> BaseException | None:
    """The exception that is ending the interpreter, whoever's excepthook printed it.

    CPython stores it in sys.last_value before calling sys.excepthook, so no hook of ours is needed.
    In an interactive session that value is just the last error shown, so it is not used there.
    """
    if hasattr(sys, "ps1"):
        return None
    return getattr(sys, "last_value", None)


def _at_exit() -> None:
    from tracker import _logs

    exception = _uncaught_exception()
    if exception is not None:
        _logs.run_event("error", "run.uncaught_exception", exception=f"{type(exception).__name__}: {exception}")
        code, source = 1, "uncaught exception"
    elif _exit_code is not None:
        code, source = _exit_code, "sys.exit()"
    else:
        code, source = 0, "the interpreter ended normally"
    _logs.run_event("info", "exit.code", exit_code=code, source=source)
    finish_all(code)


def _on_preemption_signal(number: int, frame: FrameType | None) -> None:
    if DEFERRAL.depth:
        DEFERRAL.pending.append((number, frame))
        return
    _handle_preemption(number, frame)


def _handle_preemption(number: int, frame: FrameType | None) -> None:
    from tracker import _logs

    previous = _previous_handlers.get(number)
    if callable(previous):
        action = f"runs marked preempting; the handler installed before ({_name_of(previous)}) called"
    elif previous != signal.SIG_IGN:
        action = "runs marked preempting and finished; the process dies of the signal"
    else:
        action = "runs marked preempting; the signal was ignored before, so the process goes on"
    _logs.run_event("warning", "signal.received", signal=signal.Signals(number).name, action=action)
    for run in live_runs():
        run.mark_preempting()
    if callable(previous):
        previous(number, frame)
    elif previous != signal.SIG_IGN:
        # The default action ends the process: finish every run first, then die of the same signal
        # so the parent (Slurm, a shell) sees what really happened.
        _logs.run_event("info", "exit.code", exit_code=128 + number, source=f"signal {signal.Signals(number).name}")
        finish_all(128 + number)
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)


def _name_of(handler: Callable[..., Any]) -> str:
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', type(handler).__name__)}"


def exit_code_of(exception: BaseException | None) -> int:
    """The process exit code an exception stands for (SystemExit carries its own)."""
    if exception is None:
        return 0
    if isinstance(exception, SystemExit):
        code = exception.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    return 1


def _forget_runs_after_fork() -> None:
    """A forked child must not finish its parent's runs (their writers let go of their files themselves)."""
    global MAIN_THREAD, DEFERRAL, PID, _current
    MAIN_THREAD = threading.get_ident()  # the forking thread is the child's main thread
    PID = os.getpid()
    DEFERRAL = Deferral()
    _live.clear()
    _script_inits.clear()
    _current = None  # the child's init() starts its own run


os.register_at_fork(after_in_child=_forget_runs_after_fork)
