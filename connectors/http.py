"""One HTTP client for both platforms: auth, timeouts, retries and a client-side rate limiter."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import urllib3
from promosync.connectors.transport import PooledTransport, Response, Transport, environment_proxy
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from urllib3.exceptions import ConnectTimeoutError, HTTPError, ProxyError

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
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        host = None
    if not host or parts.scheme not in {"http", "https"}:
        shown = re.sub(r"//[^/?#]*@", "//***@", url)  # a user:password part is never echoed
        raise ConfigError(
            f"{variable}={shown!r} is not an http(s) URL, e.g. https://api.voucherify.io"
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
    """A thread-safe token bucket that also obeys what the server reports about its budget.

    With no rate of its own, it paces at the per-minute budget the server announces
    (`X-Rate-Limit-Limit`): waiting for `remaining` to reach 0 instead sends the whole minute's
    budget in a burst, and the requests other threads have in flight then meet 429s.
    """

    def __init__(self, per_minute: float | None, burst: int = 5) -> None:
        self.configured = bool(per_minute)
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

    def observe(
        self, remaining: int | None, reset_in: float | None, per_minute: float | None = None
    ) -> None:
        """Align with the server: at most `remaining` more requests until `reset_in` seconds.

        `per_minute` is the budget the server announces; it sets the pace unless one was given.
        """
        with self._lock:
            if per_minute and not self.configured and self.rate != per_minute / 60:
                self.rate = per_minute / 60
                self._tokens = min(self._tokens, self.capacity)
                self._stamp = time.monotonic()
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


def _is_json(response: Response) -> bool:
    return "json" in response.headers.get("Content-Type", "")


def _kind(response: Response) -> str:
    """What a body is, for a message: its content type, and an HTML page's title."""
    kind = response.headers.get("Content-Type", "").split(";")[0].strip() or "no content type"
    title = re.search(rb"<title[^>]*>([^<]{1,80})", response.content[:4096], re.IGNORECASE)
    if title:
        kind += f" page {title.group(1).decode(errors='replace').strip()!r}"
    return kind


def _could_not_connect(exc: Exception) -> bool:
    """True when no connection was made (refused, unknown host, connect timeout), to the API or
    to the proxy in front of it."""
    if isinstance(exc, ProxyError):
        exc = exc.original_error
    return isinstance(exc, ConnectTimeoutError)  # NewConnectionError is one too


def _host(url: str) -> str:
    """host:port of a URL, never its user:password."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _ca_bundle() -> str | None:
    """`REQUESTS_CA_BUNDLE` (a CA file or folder) once checked to exist; None for certifi's."""
    path = os.environ.get("REQUESTS_CA_BUNDLE")
    if path and not os.path.exists(path):
        raise ConfigError(
            f"REQUESTS_CA_BUNDLE={path!r} does not exist; point it at a file or a folder of CA"
            " certificates, or unset it to use certifi's"
        )
    return path or None


def _dumps(value: Any) -> bytes:
    """A JSON request body, encoded as `requests` encodes `json=` (NaN refused)."""
    return json.dumps(value, allow_nan=False).encode()


def _query(params: Mapping[str, Any] | None) -> str:
    """`?a=1&b=x` from params, a list giving the key once per item, None values left out."""
    pairs = [
        (key, [v for v in value if v is not None] if isinstance(value, list | tuple) else value)
        for key, value in (params or {}).items()
        if value is not None
    ]
    text = urlencode(pairs, doseq=True)
    return f"?{text}" if text else ""


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
        base_url_name: str = "the base URL",
        credentials_name: str = "the credentials",
    ) -> None:
        self.platform = platform
        # Named in messages: what to check after a foreign answer, or after a 401/403.
        self.base_url_name, self.credentials_name = base_url_name, credentials_name
        # Credentials to scrub from any text a message quotes (a header value, and its key alone).
        secrets = {part for value in headers.values() for part in (value, *value.split()[-1:])}
        self._secrets = sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True)
        self.base_url = base_url.rstrip("/")
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.limiter = RateLimiter(requests_per_minute)
        self.counters = RequestCounters()
        self._answered = False  # has the server ever answered?
        self._reached = False  # has the API itself (not a proxy or a web page) ever answered?
        self._counter_lock = threading.Lock()
        self.headers = {
            **headers,
            "User-Agent": "promosync",
            "Accept": "*/*",
            "Accept-Encoding": "gzip, deflate",
        }
        self.proxy = environment_proxy(self.base_url)  # read once, as the client is made
        self.transport: Transport = PooledTransport(
            timeout, pool_size, proxy=self.proxy, ca_bundle=_ca_bundle()
        )

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
            self.platform, method, path, self.scrub(str(error)), state.attempt_number,
            self.max_attempts, state.upcoming_sleep,
        )  # fmt: skip

    def scrub(self, text: str) -> str:
        """`text` with every credential this client sends replaced by `***`."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def request(
        self,
        method: str,
        path: str,
        *,
        expect_json: bool = False,
        repeatable: bool = True,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: bytes | str | None = None,
        files: Mapping[str, tuple[str, bytes | str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request, retrying the retriable failures; raise ApiError on a fatal one.

        The body is `json` (encoded here), `data` (sent as given) or `files` (multipart form).

        With `expect_json`, a body that is not JSON counts as a failure too: at the first contact
        it means the base URL leads somewhere else (fatal), later a proxy's hiccup (retried).
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
        url = self.base_url + path + _query(params)
        extra = dict(headers or {})
        body: bytes | None = None
        if json is not None:
            body, extra["Content-Type"] = _dumps(json), "application/json"
        elif files is not None:
            body, extra["Content-Type"] = urllib3.encode_multipart_formdata(files)
        elif data is not None:
            body = data.encode() if isinstance(data, str) else data
        all_headers = {**self.headers, **extra} if extra else self.headers
        try:
            return retrying(self._attempt, method, path, url, body, all_headers, expect_json)
        except RetriableError as exc:
            if not repeatable and exc.uncertain:
                raise UncertainOutcome(
                    self.platform, method, path, exc.status,
                    self.scrub(f"{exc}; the server may have acted on the request"),
                ) from None  # fmt: skip
            detail = self.scrub(f"{exc} (gave up after {self.max_attempts} attempts)")
            if exc.status is not None and exc.status < 300:
                raise UnexpectedAnswer(self.platform, method, path, detail, exc.status) from None
            raise ApiError(self.platform, method, path, exc.status, detail) from None

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET `path` and return its JSON body (parsed once, while checking it arrived whole)."""
        return self.request("GET", path, expect_json=True, params=params).parsed_json

    def _attempt(
        self,
        method: str,
        path: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        expect_json: bool,
    ) -> Response:
        self.limiter.acquire()
        self._count(requests=1)
        try:
            # The body is read in full here, so a truncated one raises here too.
            response = self.transport(method, url, body, headers)
        except (HTTPError, OSError) as exc:
            never_sent = _could_not_connect(exc)  # the request cannot have been acted on
            if not self._answered and never_sent:
                # Never reached at all: a wrong base URL or proxy, not a passing fault.
                if isinstance(exc, ProxyError) and self.proxy:
                    scheme = urlsplit(self.base_url).scheme.upper()
                    where = f"the proxy {_host(self.proxy)}"
                    check = f"{scheme}_PROXY and NO_PROXY"
                else:
                    where, check = _host(self.base_url), self.base_url_name
                raise ApiError(
                    self.platform, method, path, None,
                    f"cannot connect to {where} ({type(exc).__name__}); check {check}",
                ) from None  # fmt: skip
            # Only the exception's class: its text may hold the full URL.
            raise RetriableError(
                f"connection failed ({type(exc).__name__})", uncertain=not never_sent
            ) from None
        self._answered = True
        self._observe_rate_headers(response)
        if response.status_code in RETRIABLE_STATUSES:
            if response.status_code == 429:
                self._count(rate_limited=1)
            reason = f"HTTP {response.status_code}"
            if response.content and not _is_json(response):
                reason += f" with a {_kind(response)} body, not the API's JSON (a proxy's page?)"
            raise RetriableError(
                reason,
                response.status_code,
                self._retry_after(response),
                uncertain=response.status_code != 429,
            )
        if response.status_code >= 400:
            raise self._fatal(method, path, response)
        if 300 <= response.status_code < 400:  # never followed: the credentials would go along
            try:
                target = urlsplit(response.headers.get("Location", "")).hostname or "elsewhere"
            except ValueError:  # a Location that is not a URL
                target = "elsewhere"
            raise UnexpectedAnswer(
                self.platform, method, path,
                self.scrub(f"it redirects to {target}; check {self.base_url_name}"),
                response.status_code,
            )  # fmt: skip
        if expect_json or (response.content and _is_json(response)):
            self._parse_json(method, path, response)
        self._reached = True
        return response

    def _parse_json(self, method: str, path: str, response: Response) -> None:
        """Set `response.parsed_json`; a body that is not JSON is fatal before the API answered."""
        problem = None
        if not _is_json(response):
            problem = f"the body is {_kind(response)}, not JSON"
        else:
            try:
                response.parsed_json = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                problem = "the JSON body is cut short or unparsable"
        if problem is None:
            return
        if not self._reached and not _is_json(response):
            raise UnexpectedAnswer(
                self.platform, method, path,
                self.scrub(f"{problem}: check {self.base_url_name} (a proxy, a login page or"
                           " another web site answered instead of the API)"),
                response.status_code,
            )  # fmt: skip
        raise RetriableError(problem, response.status_code)

    def _observe_rate_headers(self, response: Response) -> None:
        headers = response.headers
        remaining = _header_float(headers, "X-Rate-Limit-Remaining")
        reset_at = _header_float(headers, "X-Rate-Limit-Retry")
        reset_in = reset_at - time.time() if reset_at is not None else None
        retry_after = _header_float(headers, "Retry-After")
        if retry_after is not None:
            reset_in, remaining = retry_after, 0
        # Only the per-minute budget of ordinary calls paces requests (not a cycle's budget).
        per_minute = None
        if headers.get("X-Rate-Limit-Type", "api_calls") == "api_calls":
            per_minute = _header_float(headers, "X-Rate-Limit-Limit")
        if remaining is not None or reset_in is not None or per_minute:
            self.limiter.observe(
                None if remaining is None else int(remaining), reset_in, per_minute
            )

    @staticmethod
    def _retry_after(response: Response) -> float | None:
        retry_after = _header_float(response.headers, "Retry-After")
        if retry_after is not None:
            return retry_after
        reset_at = _header_float(response.headers, "X-Rate-Limit-Retry")
        if response.status_code == 429 and reset_at is not None:
            return max(0.0, reset_at - time.time())
        return None

    def _fatal(self, method: str, path: str, response: Response) -> ApiError:
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
        if isinstance(body.get("details"), str) and body["details"] not in message:
            message = f"{message} ({body['details']})"  # Voucherify's explanation
        detail = f"{key}: {message}" if key else str(message)
        if response.content and not _is_json(response):
            detail += f" ({_kind(response)}, not the API's JSON: check {self.base_url_name})"
        elif response.status_code in (401, 403):
            detail += f"; check {self.credentials_name} (wrong, revoked or expired?)"
        request_id = body.get("request_id")
        status = response.status_code
        return ApiError(self.platform, method, path, status, self.scrub(detail), request_id)
