"""Pacing and spending: a token bucket per client, aligned with what the server's headers say
of its budget, and the counts of what a client spent."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock
from promosync.connectors import stopping

MAX_BLOCK = 120.0  # longest a rate-limit block is slept through at once; a longer one is retried
MINUTE, HOUR = 60.0, 3600.0


def pace_dir() -> Path:
    """Where the shared paces live: PROMOSYNC_STATE_DIR/pace, else a folder of this user's in
    the temporary directory (shared by every process of the host)."""
    state = os.environ.get("PROMOSYNC_STATE_DIR", "").strip()
    if state:
        return Path(state) / "pace"
    return Path(tempfile.gettempdir()) / f"promosync-pace-{os.getuid()}"


class SharedPace:
    """The next free sending slot of one budget (an API key, an endpoint), kept in a file under
    a file lock so that every process of the host spaces its requests with the others'.

    One number per budget, read and moved on under `filelock` (already a dependency, used across
    platforms): a process takes the next slot and sleeps until it. The name is a hash of what
    identifies the budget (never a credential in clear).
    """

    def __init__(self, identity: str) -> None:
        folder = pace_dir()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = hashlib.sha256(identity.encode()).hexdigest()[:32]
        self.path = folder / name
        self.lock = FileLock(str(folder / f"{name}.lock"))

    def reserve(self, interval: float) -> float:
        """Take the next slot, `interval` seconds after the last one taken; seconds to wait."""
        with self.lock:
            try:
                last = float(self.path.read_text() or 0)
            except (OSError, ValueError):
                last = 0.0
            now = time.time()
            slot = max(now, last)
            self.path.write_text(repr(slot + interval))
        return slot - now


class RateLimiter:
    """A thread-safe token bucket that also obeys what the server reports about its budget.

    With no rate of its own, it paces at the budget the server announces (`X-Rate-Limit-Limit`,
    "in a period (an hour or a minute)"): waiting for `remaining` to reach 0 instead sends the
    whole period's budget in a burst, and the requests other threads have in flight then meet
    429s. The period is an hour when the window the server announces (`X-Rate-Limit-Retry`)
    ends more than a minute away, or when `per_hour` is configured (a Voucherify Sandbox
    project: 100 calls an hour); `hour` is the server's hour in seconds (shorter on a
    compressed test clock). A block the server asks for is slept at most MAX_BLOCK at once, and
    every wait ends at once when a stop is asked for (`stopping.sleep`).
    """

    def __init__(
        self,
        per_minute: float | None,
        burst: int = 5,
        *,
        per_hour: float | None = None,
        hour: float = HOUR,
        shared: SharedPace | None = None,
    ) -> None:
        self.configured = bool(per_minute or per_hour)
        self.hour, self.shared = hour, shared
        rates = [r for r in (per_minute and per_minute / MINUTE, hourly(per_hour, hour)) if r]
        self.rate = min(rates) if rates else None
        self.capacity = float(max(1, burst if not per_hour else 1))
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until one request may be sent (StopRequested if a stop is asked meanwhile).

        With a `shared` pace, the request takes the next slot of every process of the host
        sharing the budget, spaced at the rate, and waits for it (no burst)."""
        while True:
            with self._lock:
                now = time.monotonic()
                wait = self._blocked_until - now
                if wait <= 0:
                    if self.rate is None:
                        return
                    if self.shared is not None:
                        slot = self.shared.reserve(1 / self.rate)
                        break
                    refill = (now - self._stamp) * self.rate
                    self._tokens = min(self.capacity, self._tokens + refill)
                    self._stamp = now
                    if self._tokens >= 1:
                        self._tokens -= 1
                        return
                    wait = (1 - self._tokens) / self.rate
            stopping.sleep(wait)
        stopping.sleep(slot)

    def observe(
        self,
        remaining: int | None,
        reset_in: float | None,
        per_minute: float | None = None,
        per_hour: float | None = None,
    ) -> None:
        """Align with the server: at most `remaining` more requests until `reset_in` seconds.

        `per_minute` or `per_hour` is the budget the server announces; it sets the pace unless
        one was configured.
        """
        announced = (per_minute or 0) / MINUTE or hourly(per_hour, self.hour)
        with self._lock:
            if announced and not self.configured and self.rate != announced:
                self.rate = announced
                if per_hour:
                    self.capacity = 1.0  # an hour's budget is small: no burst
                self._tokens = min(self._tokens, self.capacity)
                self._stamp = time.monotonic()
            if remaining is not None:
                self._tokens = min(self._tokens, float(remaining))
            if reset_in is not None and (remaining is None or remaining <= 0):
                until = time.monotonic() + min(reset_in, MAX_BLOCK)
                self._blocked_until = max(self._blocked_until, until)

    def observe_headers(self, headers: Mapping[str, str]) -> None:
        """Align with an answer's `X-Rate-Limit-*` and `Retry-After` headers, if it has any."""
        kind = headers.get("X-Rate-Limit-Type", "api_calls")
        if kind == "api_calls_cycle":
            return  # the cycle's quota is spent: the client stops the run (CycleBlocked)
        remaining = header_float(headers, "X-Rate-Limit-Remaining")
        reset_at = header_float(headers, "X-Rate-Limit-Retry")
        reset_in = reset_at - time.time() if reset_at is not None else None
        # Only the budget of ordinary calls paces requests (not a cycle's, nor bulk calls').
        per_minute = per_hour = None
        if kind == "api_calls":
            limit = header_float(headers, "X-Rate-Limit-Limit")
            if reset_in is not None and reset_in > MINUTE + 1:  # the window is an hour
                per_hour = limit
            else:
                per_minute = limit
        retry_after = header_float(headers, "Retry-After")
        if retry_after is not None:
            reset_in, remaining = retry_after, 0
        if remaining is not None or reset_in is not None or per_minute or per_hour:
            remaining_count = None if remaining is None else int(remaining)
            self.observe(remaining_count, reset_in, per_minute, per_hour)


def hourly(per_hour: float | None, hour: float) -> float | None:
    """The pace of an hour's budget, two requests under it: the vendor's hour is a fixed window
    opened by the first request, so a bucket paced at the full budget could fit one more."""
    return max(1.0, per_hour - 2) / hour if per_hour else None


def header_float(headers: Mapping[str, str], name: str) -> float | None:
    """A header's value as a number, or None if it is missing or not one."""
    try:
        return float(headers[name])
    except (KeyError, ValueError):
        return None


def retry_after(status: int, headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks to wait before the next attempt (`Retry-After`, or a 429's
    `X-Rate-Limit-Retry` instant), or None."""
    seconds = header_float(headers, "Retry-After")
    if seconds is not None:
        return seconds
    reset_at = header_float(headers, "X-Rate-Limit-Retry")
    if status == 429 and reset_at is not None:
        return max(0.0, reset_at - time.time())
    return None


@dataclass
class RequestCounters:
    """What a client spent: requests sent, 429s met, retries made and what caused them."""

    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    retry_causes: Counter[str] = field(default_factory=Counter)  # "HTTP 503": 4, …

    @classmethod
    def combined(cls, counters: Iterable[RequestCounters]) -> RequestCounters:
        """The sum of several clients' counters."""
        total = cls()
        for each in counters:
            total.requests += each.requests
            total.rate_limited += each.rate_limited
            total.retries += each.retries
            total.retry_causes.update(each.retry_causes)
        return total
