"""Voucherify's rate-limit response headers, as both of its hosts send them."""

from __future__ import annotations

from promosync.sandbox.limits import Verdict


def rate_headers(verdict: Verdict) -> dict[str, str]:
    """The X-Rate-Limit-* headers of a budget verdict (none when the budget is unlimited)."""
    if not verdict.limit:
        return {}
    return {
        "X-Rate-Limit-Limit": str(verdict.limit),
        "X-Rate-Limit-Remaining": str(verdict.remaining),
        "X-Rate-Limit-Retry": str(verdict.reset_epoch),
    }
