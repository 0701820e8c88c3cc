"""One HTTP client for both platforms: auth, timeouts, retries and a client-side rate limiter."""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
import urllib3
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

log = logging.getLogger(__name__)

RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


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


class UncertainOutcome(ApiError):
    """A request that must not be repeated blindly failed after the server may have acted on it."""


class RetriableError(Exception):
    """A failure worth another attempt: 429, 5xx, a dropped connection or an unreadable body.

    `uncertain` is true when the server may have acted on the request before failing (a 5xx,
    or a connection lost or a body cut after the request went out); a 429 or a connection never
    made is certain to have changed nothing.
    """

    def __init__(
        self,
        reason: str,
        status: int | None = None,
        wait: float | None = None,
        uncertain: bool = True,
    ) -> None:
        super().__init__(reason)
        self.status, self.wait, self.uncertain = status, wait, uncertain


def check_base_url(url: str, variable: str) -> str:
    """Return `url` without a trailing slash; refuse plain http to anything but loopback."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"{variable}={url!r} is not an http(s) URL, e.g. https://api.voucherify.io"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"{variable} uses plain http to {parts.hostname}; credentials would travel unencrypted."
            " Use https, or a loopback address for the local sandbox."
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RateLimiter:
    """A thread-safe token bucket that also obeys what the server reports about its budget."""

    def __init__(self, per_minute: float | None, burst: int = 5) -> None:
        self.rate = per_minute / 60 if per_minute else None
        self.capacity = float(max(1, burst))
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until one request may be sent."""
        while True:
            with self._lock:
                now = time.monotonic()
                wait = self._blocked_until - now
                if wait <= 0:
                    if self.rate is None:
                        return
                    refill = (now - self._stamp) * self.rate
                    self._tokens = min(self.capacity, self._tokens + refill)
                    self._stamp = now
                    if self._tokens >= 1:
                        self._tokens -= 1
                        return
                    wait = (1 - self._tokens) / self.rate
            time.sleep(wait)

    def observe(self, remaining: int | None, reset_in: float | None) -> None:
        """Align with the server: at most `remaining` more requests until `reset_in` seconds."""
        with self._lock:
            if remaining is not None:
                self._tokens = min(self._tokens, float(remaining))
            if reset_in is not None and (remaining is None or remaining <= 0):
                self._blocked_until = max(self._blocked_until, time.monotonic() + reset_in)


@dataclass
class RequestCounters:
    """What a client spent: requests sent, 429s met, retries made."""

    requests: int = 0
    rate_limited: int = 0
    retries: int = 0


def _header_float(headers: Mapping[str, str], name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, ValueError):
        return None


def _could_not_connect(exc: Exception) -> bool:
    """True when no connection was made (refused, unknown host, connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


class ApiClient:
    """Requests to one API with auth headers, timeouts, retries and a shared rate limiter."""

    def __init__(
        self,
        platform: str,
        base_url: str,
        headers: Mapping[str, str],
        *,
        requests_per_minute: float | None = None,
        timeout: tuple[float, float] = (5.0, 60.0),
        max_attempts: int = 8,
        max_wait: float = 60.0,
        pool_size: int = 16,
    ) -> None:
        self.platform = platform
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.limiter = RateLimiter(requests_per_minute)
        self.counters = RequestCounters()
        self._reached = False  # has the server ever answered?
        self._counter_lock = threading.Lock()
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(headers)
        self.session.headers["User-Agent"] = "promosync"

    def _count(self, **increments: int) -> None:
        with self._counter_lock:
            for name, value in increments.items():
                setattr(self.counters, name, getattr(self.counters, name) + value)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetriableError) and error.wait is not None:
            return min(self.max_wait, error.wait)
        return wait_exponential_jitter(multiplier=0.5, max=self.max_wait, jitter=0.5)(state)

    def _log_retry(self, method: str, path: str, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        self._count(retries=1)
        log.warning(
            "%s %s %s: %s; attempt %d of %d, retrying in %.1f s",
            self.platform, method, path, error, state.attempt_number, self.max_attempts,
            state.upcoming_sleep,
        )  # fmt: skip

    def request(
        self, method: str, path: str, *, repeatable: bool = True, **kwargs: Any
    ) -> requests.Response:
        """Send one request, retrying the retriable failures; raise ApiError on a fatal one.

        A request that is not `repeatable` (it creates something, like an async action) is
        retried only when the failure proves the server did nothing (a 429, no connection);
        otherwise `UncertainOutcome` tells the caller to find out before sending it again.
        """

        def worth_retrying(error: BaseException) -> bool:
            if not isinstance(error, RetriableError):
                return False
            return repeatable or not error.uncertain

        retrying = Retrying(
            retry=retry_if_exception(worth_retrying),
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            before_sleep=lambda state: self._log_retry(method, path, state),
            reraise=True,
        )
        try:
            return retrying(self._attempt, method, path, kwargs)
        except RetriableError as exc:
            if not repeatable and exc.uncertain:
                raise UncertainOutcome(
                    self.platform, method, path, exc.status,
                    f"{exc}; the server may have acted on the request",
                ) from None  # fmt: skip
            raise ApiError(
                self.platform, method, path, exc.status,
                f"{exc} (gave up after {self.max_attempts} attempts)",
            ) from None  # fmt: skip

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET `path` and return its JSON body (parsed once, while checking it arrived whole)."""
        response = self.request("GET", path, params=params)
        if hasattr(response, "parsed_json"):
            return response.parsed_json
        return response.json()

    def _attempt(self, method: str, path: str, kwargs: dict[str, Any]) -> requests.Response:
        self.limiter.acquire()
        self._count(requests=1)
        try:
            # The body is read in full here, so a truncated one raises here too.
            response = self.session.request(
                method, self.base_url + path, timeout=self.timeout, **kwargs
            )
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            if not self._reached and _could_not_connect(exc):
                # Never reached at all: a wrong base URL, not a passing fault.
                host = urlsplit(self.base_url).netloc
                raise ApiError(
                    self.platform, method, path, None,
                    f"cannot connect to {host} ({type(exc).__name__}); check the base URL",
                ) from None  # fmt: skip
            # Only the exception's class: its text may hold the full URL.
            raise RetriableError(
                f"connection failed ({type(exc).__name__})", uncertain=not _could_not_connect(exc)
            ) from None
        self._reached = True
        self._observe_rate_headers(response)
        if response.status_code in RETRIABLE_STATUSES:
            if response.status_code == 429:
                self._count(rate_limited=1)
            raise RetriableError(
                f"HTTP {response.status_code}",
                response.status_code,
                self._retry_after(response),
                uncertain=response.status_code != 429,
            )
        if response.status_code >= 400:
            raise self._fatal(method, path, response)
        if response.content and "json" in response.headers.get("Content-Type", ""):
            try:
                response.parsed_json = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                raise RetriableError("unparsable JSON body") from None
        return response

    def _observe_rate_headers(self, response: requests.Response) -> None:
        headers = response.headers
        remaining = _header_float(headers, "X-Rate-Limit-Remaining")
        reset_at = _header_float(headers, "X-Rate-Limit-Retry")
        reset_in = reset_at - time.time() if reset_at is not None else None
        retry_after = _header_float(headers, "Retry-After")
        if retry_after is not None:
            reset_in, remaining = retry_after, 0
        if remaining is not None or reset_in is not None:
            self.limiter.observe(None if remaining is None else int(remaining), reset_in)

    @staticmethod
    def _retry_after(response: requests.Response) -> float | None:
        retry_after = _header_float(response.headers, "Retry-After")
        if retry_after is not None:
            return retry_after
        reset_at = _header_float(response.headers, "X-Rate-Limit-Retry")
        if response.status_code == 429 and reset_at is not None:
            return max(0.0, reset_at - time.time())
        return None

    def _fatal(self, method: str, path: str, response: requests.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        key = body.get("key")
        message = body.get("message") or body.get("title") or response.reason or "error"
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            message = f"{message}: {first.get('title', '')} {first.get('details', '')}".strip()
        detail = f"{key}: {message}" if key else str(message)
        request_id = body.get("request_id")
        return ApiError(self.platform, method, path, response.status_code, detail, request_id)
