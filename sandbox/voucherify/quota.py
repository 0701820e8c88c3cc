"""Voucherify's request budgets: per minute, per hour, per billing cycle, and for bulk calls.

The documented plans (`guides/limits.mdx`): Business 100 a minute and 100,000 a cycle,
Organization 2,000 a minute and 300,000 a cycle, a Sandbox project 100 an hour ("fixed"). "You
cannot exceed the number of API calls (both hourly and monthly) defined in your pricing plan.
Exceeding this limit will block your access to the API immediately."

Every request the API serves is charged against every budget; a refused one is not. A billing
cycle lasts `voucherify_cycle_seconds` of real time from `voucherify_cycle_start` (default: when
the quota was created or cleared), cycles following one another; once its quota is spent, every
request is refused with `X-Rate-Limit-Type: api_calls_cycle` until the cycle ends. Changing the
cycle's length or start at run time begins a new cycle. With `voucherify_compress_windows` the
minute and hour shrink in the same proportion as the cycle (30 days into the cycle's seconds).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from promosync.sandbox.limits import UNLIMITED, FixedWindow, Verdict
from promosync.sandbox.settings import THIRTY_DAYS, SandboxSettings

# Per minute, per hour, per cycle (0: no such budget).
PLAN_LIMITS = {
    "custom": (2000, 0, 0),
    "business": (100, 0, 100_000),
    "organization": (2000, 0, 300_000),
    "sandbox": (0, 100, 0),
    "unlimited": (0, 0, 0),
}
KINDS = ("api_calls", "bulk_api_calls", "api_calls_cycle")
PAST_CYCLES_KEPT = 1000


class Limits(NamedTuple):
    """The budgets in force: the plan's, overridden by explicit numbers."""

    per_minute: int
    per_hour: int
    per_cycle: int
    bulk_per_minute: int

    @classmethod
    def of(cls, settings: SandboxSettings) -> Limits:
        """The limits `settings` describe."""
        planned = PLAN_LIMITS[settings.voucherify_plan]
        explicit = (
            settings.voucherify_requests_per_minute,
            settings.voucherify_requests_per_hour,
            settings.voucherify_requests_per_cycle,
        )
        chosen = [p if e is None else e for e, p in zip(explicit, planned, strict=True)]
        return cls(*chosen, settings.voucherify_bulk_requests_per_minute)


@dataclass
class Cycle:
    """One billing cycle of one app id: its bounds (epoch seconds), spend and refusals."""

    number: int
    start: float
    end: float
    count: int = 0
    blocked: Counter[str] = field(default_factory=Counter)

    def public(self, limit: int | None = None) -> dict[str, Any]:
        """JSON-ready; with `limit`, also the quota and what is left of it."""
        body: dict[str, Any] = {
            "number": self.number,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "count": self.count,
            "blocked": {kind: self.blocked[kind] for kind in KINDS},
        }
        if limit is not None:
            body["limit"] = limit
            body["remaining"] = max(0, limit - self.count) if limit else None
        return body


class VoucherifyQuota:
    """Every budget of every app id; `charge` is the one entry point for a request."""

    def __init__(self, settings: SandboxSettings, now: float) -> None:
        self.settings = settings
        self.minute, self.hour, self.bulk = FixedWindow(), FixedWindow(), FixedWindow()
        self.clear(now)

    def clear(self, now: float) -> None:
        """Forget every window and cycle; an unanchored cycle starts at `now`."""
        self.created = now
        for window in (self.minute, self.hour, self.bulk):
            window.clear()
        self.cycles: dict[str, Cycle] = {}
        self.past: dict[str, list[Cycle]] = {}

    def charge(self, app_id: str, now: float, bulk: bool = False) -> Verdict:
        """Charge one request of `app_id` at `now` (epoch seconds) if every budget allows it.

        The verdict describes the budget that refused it, or else the window closest to its
        limit (`X-Rate-Limit-*` headers: see `rate_headers`); `bulk` marks a bulk call.
        """
        limits = Limits.of(self.settings)
        cycle = self.cycle(app_id, now)
        if limits.per_cycle and cycle.count >= limits.per_cycle:
            wait = max(1, math.ceil(cycle.end - now))
            refused = Verdict(False, limits.per_cycle, 0, math.ceil(cycle.end), wait, KINDS[2])
            cycle.blocked[refused.kind] += 1
            return refused
        windows = [
            (window, limit, seconds, kind)
            for window, limit, seconds, kind in (
                (self.minute, limits.per_minute, 60.0, "api_calls"),
                (self.hour, limits.per_hour, 3600.0, "api_calls"),
                (self.bulk, limits.bulk_per_minute if bulk else 0, 60.0, "bulk_api_calls"),
            )
            if limit > 0
        ]
        if not windows:
            cycle.count += 1
            return UNLIMITED
        scale = self._scale()
        verdicts = []
        for window, limit, seconds, kind in windows:
            verdict = window.verdict(app_id, limit, now, seconds / scale, kind)
            if not verdict.allowed:
                cycle.blocked[kind] += 1
                return verdict
            verdicts.append(verdict)
        for window, _, seconds, _ in windows:
            window.take(app_id, now, seconds / scale)
        cycle.count += 1
        return min(verdicts, key=lambda v: v.remaining)

    def cycle(self, app_id: str, now: float) -> Cycle:
        """The cycle `app_id` is in at `now`, the one before archived once it has ended."""
        current = self.cycles.get(app_id)
        # Computed each time, not kept: a cycle length or start changed at run time (PUT
        # /_sandbox/config) starts a new cycle at once.
        length = self.settings.voucherify_cycle_seconds
        anchor = self._anchor()
        number = math.floor((now - anchor) / length)
        start = anchor + number * length
        if current is not None and (current.start, current.end) == (start, start + length):
            return current
        if current is not None:
            archive = self.past.setdefault(app_id, [])
            archive.append(current)
            del archive[:-PAST_CYCLES_KEPT]
        fresh = self.cycles[app_id] = Cycle(number, start, start + length)
        return fresh

    def public(self, app_ids: list[str], now: float) -> dict[str, Any]:
        """Limits in force, and for each app id the current cycle's spend and the past cycles'."""
        limits = Limits.of(self.settings)
        every = dict.fromkeys([*app_ids, *self.cycles])
        return {
            "plan": self.settings.voucherify_plan,
            "limits": limits._asdict(),
            "cycle_seconds": self.settings.voucherify_cycle_seconds,
            "window_scale": self._scale(),
            "by_app_id": {
                app_id: {
                    "cycle": self.cycle(app_id, now).public(limits.per_cycle),
                    "past_cycles": [c.public() for c in self.past.get(app_id, [])],
                }
                for app_id in every
            },
        }

    def _scale(self) -> float:
        if not self.settings.voucherify_compress_windows:
            return 1.0
        return THIRTY_DAYS / self.settings.voucherify_cycle_seconds

    def _anchor(self) -> float:
        start = self.settings.voucherify_cycle_start
        return datetime.fromisoformat(start).timestamp() if start else self.created


def rate_headers(verdict: Verdict) -> dict[str, str]:
    """The `X-Rate-Limit-*` headers of a verdict (none when no budget applies).

    `Retry-After` and `X-Rate-Limit-Type` ("type of API limit that was reached") come only with
    a refusal.
    """
    if not verdict.limit:
        return {}
    headers = {
        "X-Rate-Limit-Limit": str(verdict.limit),
        "X-Rate-Limit-Remaining": str(verdict.remaining),
        "X-Rate-Limit-Retry": str(verdict.reset_epoch),
    }
    if not verdict.allowed:
        headers["Retry-After"] = str(verdict.retry_after)
        headers["X-Rate-Limit-Type"] = verdict.kind
    return headers


REFUSALS = {
    "api_calls": "Too many requests hit the API too quickly.",
    "bulk_api_calls": "Too many bulk requests hit the API too quickly.",
    "api_calls_cycle": "The API calls limit of the billing cycle was reached;"
    " access is blocked until the cycle resets.",
}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
