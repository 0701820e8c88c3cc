"""A stop asked for by a signal: waits end early and work ends at its next safe point.

The CLI turns the first SIGINT/SIGTERM into `request_stop`; code that loops (paging, fan-out,
pushes) calls `check()` where everything before it is committed, and every wait of the HTTP
client (pacing, retries, rate-limit blocks) sleeps through `sleep()`, which wakes at once.
"""

from __future__ import annotations

import signal
import threading

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
