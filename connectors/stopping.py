"""A stop asked for by a signal: waits end early and work ends at its next safe point.

The CLI turns the first SIGINT/SIGTERM into `request_stop`; code that loops (paging, fan-out,
pushes) calls `check()` where everything before it is committed, and every wait of the HTTP
client (pacing, retries, rate-limit blocks) sleeps through `sleep()`, which wakes at once.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_requested = threading.Event()
_signal_name: list[str] = []


class StopRequested(Exception):
    """Work stopped at a safe point because a signal asked for it; what was committed stays."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"stopped by {signal_name}: what was committed before it is kept")
        self.signal_name = signal_name


def request_stop(signum: int = signal.SIGINT) -> None:
    """Ask every loop to stop at its next safe point (the first signal's name is kept)."""
    if not _signal_name:
        _signal_name.append(signal.Signals(signum).name)
    _requested.set()


def stop_requested() -> bool:
    """Whether a stop was asked for."""
    return _requested.is_set()


def check() -> None:
    """Raise StopRequested if a stop was asked for; call it where stopping loses nothing."""
    if _requested.is_set():
        raise StopRequested(_signal_name[0] if _signal_name else "SIGINT")


def sleep(seconds: float) -> None:
    """Wait `seconds`, or less: a stop asked for meanwhile ends the wait with StopRequested."""
    if seconds > 0:
        _requested.wait(seconds)
    check()


def reset() -> None:
    """Forget an earlier stop (a new run in the same process, tests)."""
    _requested.clear()
    _signal_name.clear()


@contextmanager
def on_signals() -> Iterator[None]:
    """The first SIGINT/SIGTERM asks for a stop at the next safe point; a second ends at once.

    Install it in the main thread around a command's work; the previous handlers come back after.
    """
    signals = (signal.SIGINT, signal.SIGTERM)

    def handle(signum: int, _frame: object) -> None:
        if stop_requested():  # the second signal: the default action, now
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        request_stop(signum)

    previous = {signum: signal.signal(signum, handle) for signum in signals}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
