"""Rate-limit windows the sandbox enforces, as the real APIs do."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """Outcome of one request against a budget."""

    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int  # when the window frees up again (epoch seconds)
    retry_after: int  # seconds to wait; 0 when allowed


class MinuteBudget:
    """A fixed one-minute window per key, like Voucherify's requests-per-minute plans."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str, limit: int, now: float) -> Verdict:
        """Count one request for `key`; `limit` <= 0 means unlimited."""
        if limit <= 0:
            return Verdict(True, 0, 0, 0, 0)
        start, used = self._windows.get(key, (now, 0))
        if now - start >= 60:
            start, used = now, 0
        reset = math.ceil(start + 60)
        if used >= limit:
            return Verdict(False, limit, 0, reset, max(1, math.ceil(start + 60 - now)))
        self._windows[key] = (start, used + 1)
        return Verdict(True, limit, limit - used - 1, reset, 0)

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
            return Verdict(True, 0, 0, 0, 0)
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
