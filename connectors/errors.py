"""What a connector raises: bad configuration, fatal answers, and failures worth another attempt.

`promosync.connectors.http` re-exports these; import them from either.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """Configuration a connector cannot work with; the message says what to change."""


class ApiError(RuntimeError):
    """A fatal answer (a 4xx other than 429, or retries exhausted); never carries a credential."""

    def __init__(
        self,
        platform: str,
        method: str,
        endpoint: str,
        status: int | None,
        detail: str,
        request_id: str | None = None,
    ) -> None:
        self.platform, self.method, self.endpoint = platform, method, endpoint
        self.status, self.detail, self.request_id = status, detail, request_id
        where = f"{platform} {method} {endpoint}"
        status_text = f"HTTP {status}" if status is not None else "no answer"
        suffix = f" (request_id {request_id})" if request_id else ""
        super().__init__(f"{where} failed with {status_text}: {detail}{suffix}")


class UnexpectedAnswer(ApiError):
    """A 2xx answer the connector cannot use: not JSON, a repeated page, a field of a new type."""

    def __init__(self, platform: str, method: str, endpoint: str, detail: str, status: int = 200):
        super().__init__(platform, method, endpoint, status, detail)
        self.args = (f"{platform} {method} {endpoint} answered HTTP {status}, but {detail}",)


class UncertainOutcome(ApiError):
    """A request that must not be repeated blindly failed after the server may have acted on it."""


class RetriableError(Exception):
    """A failure worth another attempt: 429, 5xx, a dropped connection or an unreadable body.

    `uncertain` is true when the server may have acted on the request before failing (a 5xx,
    or a connection lost or a body cut after the request went out); a 429 or a connection never
    made is certain to have changed nothing. `cause` is the failure's kind, counted per client
    (`RequestCounters.retry_causes`): "HTTP 503", "connection dropped", "read timeout"…
    """

    def __init__(
        self,
        reason: str,
        status: int | None = None,
        wait: float | None = None,
        uncertain: bool = True,
        cause: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.status, self.wait, self.uncertain = status, wait, uncertain
        self.cause = cause or (f"HTTP {status}" if status is not None else "request failed")


class BudgetSpent(Exception):
    """The run's request allowance (or promosync's share of the billing cycle) is spent: not a
    failure. The streams stop here, commit what they read, and leave the rest for the next run."""


class CycleBlocked(ApiError):
    """The vendor refused a request because the billing cycle's API calls are spent (a 429 of
    type `api_calls_cycle`): every request fails until the cycle resets, so the run stops now."""
