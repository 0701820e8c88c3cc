"""Progress of the running pull steps, as one line per stream: rows, requests, 429s, retries.

A pull step registers what it counts (`running`); the CLI's `ProgressPrinter` reads it from the
main thread while the run executes in another, and prints a line per stream per interval when
stderr is not a terminal (cron, CI), or keeps one status line up to date on a terminal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from promosync.connectors.http import RequestCounters


class _Counted(Protocol):
    counters: RequestCounters


@dataclass
class StreamProgress:
    """What one running stream has done so far."""

    stream: str
    clients: list[_Counted] = field(default_factory=list)
    inserted: int = 0
    updated: int = 0
    message: str = ""  # the connector's latest progress message
    failure: str = ""  # why the stream ended early, if it did

    def totals(self) -> dict[str, Any]:
        """Requests, 429s and retries (with their causes, when the clients count them)."""
        total = RequestCounters.combined(client.counters for client in self.clients)
        return {
            "requests": total.requests,
            "rate_limited": total.rate_limited,
            "retries": total.retries,
            "retry_causes": total.retry_causes,
        }

    def line(self) -> str:
        """The progress line a person reads."""
        if self.failure:
            return f"{self.stream}: {self.failure}"
        totals = self.totals()
        parts = [f"{self.inserted} inserted, {self.updated} updated"]
        parts.append(f"requests {totals['requests']}, 429s {totals['rate_limited']}")
        retries = f"retries {totals['retries']}"
        if totals["retry_causes"]:
            retries += f" ({causes_text(totals['retry_causes'])})"
        parts.append(retries)
        latest = f" — {self.message}" if self.message else ""
        return f"{self.stream}: {'; '.join(parts)}{latest}"


def causes_text(causes: Counter[str]) -> str:
    """Retry causes, most frequent first: `HTTP 503: 4, connection dropped: 1`."""
    return ", ".join(f"{cause}: {count}" for cause, count in causes.most_common())


_lock = threading.Lock()
_running: dict[str, StreamProgress] = {}
_finished: list[StreamProgress] = []


@contextmanager
def running(progress: StreamProgress) -> Iterator[StreamProgress]:
    """Show `progress` while the block runs, and once more when it ends (failed, if it did)."""
    with _lock:
        _running[progress.stream] = progress
    try:
        yield progress
    except BaseException as error:
        text = (getattr(error, "description", None) or str(error)).splitlines() or [""]
        why = text[0].removeprefix(f"{progress.stream}: ")
        progress.failure = why if why.startswith("stopped by") else f"failed: {why}"
        raise
    finally:
        with _lock:
            _running.pop(progress.stream, None)
            _finished.append(progress)


class ProgressPrinter(logging.Handler):
    """Prints the running streams' progress; feed it the connectors' log records and `tick()`.

    Off a terminal it prints a stream's line at most once per `interval` seconds; on a terminal
    `show` (a status spinner's update) gets the latest line. Either way a last line is printed as
    each stream ends. A repair made at the start of a run is printed as it comes; other warnings
    (each retry) only when `verbose`.
    """

    def __init__(
        self, write: Callable[[str], None], show: Callable[[str], None] | None,
        interval: float, verbose: bool,
    ) -> None:  # fmt: skip
        super().__init__(logging.DEBUG if verbose else logging.INFO)
        self.write, self.show, self.interval, self.verbose = write, show, interval, verbose
        self._printed: dict[str, float] = {}
        with _lock:
            _finished.clear()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.WARNING and (
            self.verbose or record.name.endswith("preflight")
        ):
            self.write(message)
        with _lock:
            streams = list(_running.values())
        for progress in streams:
            if message.startswith(f"{progress.stream}: "):
                progress.message = message.removeprefix(f"{progress.stream}: ")

    def tick(self) -> None:
        """Print (or show) what is due now; call it often from the main thread."""
        now = time.monotonic()
        with _lock:
            streams, ended = list(_running.values()), list(_finished)
            _finished.clear()
        for progress in ended:
            self.write(progress.line())
        for progress in streams:
            if self.show is not None:
                self.show(progress.line())
            elif now - self._printed.setdefault(progress.stream, now) >= self.interval:
                self._printed[progress.stream] = now
                self.write(progress.line())
