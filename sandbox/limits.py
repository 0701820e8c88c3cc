"""Rate-limit windows the sandbox enforces, as the real APIs do."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from typing import NamedTuple


class Verdict(NamedTuple):
    """Outcome of one request against a budget (a tuple: built on every request, so cheap)."""

    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int  # when the window frees up again (epoch seconds)
    retry_after: int  # seconds to wait; 0 when allowed
    kind: str = "api_calls"  # the budget it describes (Voucherify's `X-Rate-Limit-Type`)


UNLIMITED = Verdict(True, 0, 0, 0, 0)


class FixedWindow:
    """Requests per key in fixed windows of a given length, each opened by its first request.

    Voucherify's per-minute and per-hour budgets behave this way; the length is passed on every
    call so that a compressed clock can shorten it at run time.
    """

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    def verdict(
        self, key: str, limit: int, now: float, seconds: float, kind: str = "api_calls"
    ) -> Verdict:
        """Whether one more request fits (`remaining` as if it were taken), without taking it."""
        if limit <= 0:
            return UNLIMITED
        start, used = self._windows.get(key, (now, 0))
        if now - start >= seconds:
            start, used = now, 0
        end = start + seconds
        if used >= limit:
            return Verdict(False, limit, 0, math.ceil(end), max(1, math.ceil(end - now)), kind)
        return Verdict(True, limit, limit - used - 1, math.ceil(end), 0, kind)

    def take(self, key: str, now: float, seconds: float) -> None:
        """Count one request for `key`."""
        start, used = self._windows.get(key, (now, 0))
        if now - start >= seconds:
            start, used = now, 0
        self._windows[key] = (start, used + 1)

    def hit(self, key: str, limit: int, now: float, seconds: float = 60.0) -> Verdict:
        """Count one request for `key` if it fits; `limit` <= 0 means unlimited."""
        verdict = self.verdict(key, limit, now, seconds)
        if verdict.allowed and limit > 0:
            self.take(key, now, seconds)
        return verdict

    def clear(self) -> None:
        """Forget every window."""
        self._windows.clear()


class PerSecondLimit:
    """A sliding one-second window per (key, endpoint), like Talon.One's Management API."""

    def __init__(self) -> None:
        self._hits: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def hit(self, key: str, endpoint: str, limit: int, now: float) -> Verdict:
        """Count one request for `key` on `endpoint`; `limit` <= 0 means unlimited."""
        if limit <= 0:
            return UNLIMITED
        hits = self._hits[(key, endpoint)]
        while hits and now - hits[0] >= 1.0:
            hits.popleft()
        if len(hits) >= limit:
            return Verdict(False, limit, 0, math.ceil(hits[0] + 1), 1)
        hits.append(now)
        return Verdict(True, limit, limit - len(hits), math.ceil(now + 1), 0)

    def clear(self) -> None:
        """Forget every window."""
        self._hits.clear()
