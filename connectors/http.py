"""One HTTP client for both platforms: auth, limits, retries and a client-side rate limiter."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import urllib3
from promosync.connectors import stopping
from promosync.connectors.answers import error_detail, is_json, kind
from promosync.connectors.errors import (
    ApiError,
    BudgetSpent,
    ConfigError,
    CycleBlocked,
    RetriableError,
    UncertainOutcome,
    UnexpectedAnswer,
)
from promosync.connectors.failures import classify, host_of
from promosync.connectors.http_settings import (
    HttpSettings,
    ca_bundle,
    check_base_url,
    environment_proxy,
)
from promosync.connectors.ratelimit import RateLimiter, RequestCounters, SharedPace, retry_after
from promosync.connectors.secrets import refusal, remember, scrub, scrub_logs
from promosync.connectors.transport import (
    BodyUnreadable,
    LimitExceeded,
    PooledTransport,
    Response,
    Transport,
    encode_json,
    query_string,
)
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from urllib3.exceptions import HTTPError

__all__ = [
    "ApiClient",
    "ApiError",
    "BudgetSpent",
    "ConfigError",
    "CycleBlocked",
    "HttpSettings",
    "RateLimiter",
    "RequestCounters",
    "RetriableError",
    "UncertainOutcome",
    "UnexpectedAnswer",
    "check_base_url",
]

log = logging.getLogger(__name__)

RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class ApiClient:
    """Requests to one API with auth headers, limits, retries and a shared rate limiter."""

    def __init__(
        self,
        platform: str,
        base_url: str,
        headers: Mapping[str, str],
        *,
        requests_per_minute: float | None = None,
        requests_per_hour: float | None = None,
        hour: float = 3600.0,
        settings: HttpSettings | None = None,
        max_attempts: int = 8,
        max_wait: float = 60.0,
        pool_size: int = 16,
        base_url_name: str = "the base URL",
        credentials_name: str = "the credentials",
    ) -> None:
        self.platform = platform
        # Named in messages: what to check after a foreign answer, or after a 401/403.
        self.base_url_name, self.credentials_name = base_url_name, credentials_name
        for value in headers.values():
            if problem := refusal(value, spaces=True):
                raise ConfigError(f"{credentials_name}: a header value {problem}")
        # Credentials to scrub from any text a message quotes (a header value, and its key alone).
        self._secrets = [part for v in headers.values() for part in (v, *v.split()[-1:])]
        remember(*self._secrets)
        scrub_logs()
        self.base_url = base_url.rstrip("/")
        self.settings = settings or HttpSettings.from_env()
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        # One budget per API and key: processes of this host sharing it share its pace.
        identity = "\n".join([platform, self.base_url, *sorted(headers.values())])
        self.budget_identity = hashlib.sha256(identity.encode()).hexdigest()  # no key in clear
        self.limiter = RateLimiter(
            requests_per_minute, per_hour=requests_per_hour, hour=hour,
            shared=SharedPace(self.budget_identity),
        )  # fmt: skip
        self.counters = RequestCounters()
        # The request ledger (connectors/spending.py), when the API has a budget: every request
        # is counted there before it is sent, and none is sent past the run's allowance.
        self.spending: Any = None
        self._blocked: tuple[str, str] | None = None  # (method, path) the cycle block met
        self._reached = False  # has the API itself (not a proxy or a web page) ever answered?
        self._counter_lock = threading.Lock()
        self.headers = {
            **headers,
            "User-Agent": "promosync",
            "Accept": "*/*",
            "Accept-Encoding": "gzip, deflate",
        }
        # Read once, as the client is made.
        self.proxy = environment_proxy(self.base_url)
        self.transport: Transport = PooledTransport(
            self.settings, pool_size, proxy=self.proxy, ca_bundle=ca_bundle()
        )

    def _count(self, cause: str | None = None, **increments: int) -> None:
        with self._counter_lock:
            for name, value in increments.items():
                setattr(self.counters, name, getattr(self.counters, name) + value)
            if cause:
                self.counters.retry_causes[cause] += 1

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetriableError) and error.wait is not None:
            return min(self.max_wait, error.wait)
        return wait_exponential_jitter(multiplier=0.5, max=self.max_wait, jitter=0.5)(state)

    def _log_retry(self, method: str, path: str, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        self._count(getattr(error, "cause", None), retries=1)
        log.warning(
            "%s %s %s: %s; attempt %d of %d, retrying in %.1f s",
            self.platform, method, path, self.scrub(str(error)), state.attempt_number,
            self.max_attempts, state.upcoming_sleep,
        )  # fmt: skip

    def scrub(self, text: str) -> str:
        """`text` with every credential (this client's, and any read) replaced by `***`."""
        return scrub(text, self._secrets)

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
        origin: str | None = None,
    ) -> Response:
        """Send one request, retrying the retriable failures; raise ApiError on a fatal one.

        The body is `json` (encoded here), `data` (sent as given) or `files` (multipart form).
        `origin` (`https://host[:port]`) sends it to another host of the same vendor instead of
        the base URL, with the same keys, limiter and counters: the caller vouches for the host
        (Voucherify's export download hosts, connectors/voucherify/exports.py).

        With `expect_json`, a body that is not JSON counts as a failure too: at the first contact
        it means the base URL leads somewhere else (fatal), later a proxy's hiccup (retried).
        A request that is not `repeatable` (it creates something, like an async action) is
        retried only when the failure proves the server did nothing (a 429, no connection);
        otherwise `UncertainOutcome` tells the caller to find out before sending it again.
        Every wait between attempts ends at once when a stop is asked for (StopRequested).
        """

        def worth_retrying(error: BaseException) -> bool:
            if not isinstance(error, RetriableError):
                return False
            return repeatable or not error.uncertain

        retrying = Retrying(
            retry=retry_if_exception(worth_retrying),
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            sleep=stopping.sleep,
            before_sleep=lambda state: self._log_retry(method, path, state),
            reraise=True,
        )
        url = (origin or self.base_url) + path + query_string(params)
        extra = dict(headers or {})
        body: bytes | None = None
        if json is not None:
            body, extra["Content-Type"] = encode_json(json), "application/json"
        elif files is not None:
            body, extra["Content-Type"] = urllib3.encode_multipart_formdata(files)
        elif data is not None:
            body = data.encode() if isinstance(data, str) else data
        all_headers = {**self.headers, **extra} if extra else self.headers
        sent = (method, path, url, body, all_headers, expect_json, repeatable)
        try:
            return retrying(self._attempt, *sent)
        except RetriableError as exc:
            if not repeatable and exc.uncertain:
                raise UncertainOutcome(
                    self.platform, method, path, exc.status,
                    self.scrub(f"{exc}; the server may have acted on the request"),
                ) from None  # fmt: skip
            detail = f"{exc} (gave up after {self.max_attempts} attempts)"
            if not self._reached:
                detail += f"; the API never answered: check {self.base_url_name}"
            if exc.status is not None and exc.status < 300:
                raise UnexpectedAnswer(
                    self.platform, method, path, self.scrub(detail), exc.status
                ) from None
            raise ApiError(self.platform, method, path, exc.status, self.scrub(detail)) from None

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
        repeatable: bool,
    ) -> Response:
        if self._blocked is not None:  # the cycle's quota is spent: nothing more is sent
            raise self._cycle_blocked(method, path, self._blocked[1])
        self.limiter.acquire()
        if self.spending is not None:
            self.spending.spend_one()  # BudgetSpent, and nothing sent, once none is left
        self._count(requests=1)
        try:
            # The body is read in full here, within the limits, so a cut one raises here too.
            response = self.transport(method, url, body, headers)
        except (LimitExceeded, BodyUnreadable, HTTPError, OSError) as exc:
            raise self._no_answer(exc, method, path, repeatable) from None
        self.limiter.observe_headers(response.headers)
        status = response.status_code
        if status in (401, 429):
            self._not_billed()  # refused unserved
        if status == 429 and response.headers.get("X-Rate-Limit-Type") == "api_calls_cycle":
            self._count(rate_limited=1)
            self._blocked = (path, response.headers.get("X-Rate-Limit-Retry", ""))
            raise self._cycle_blocked(method, path, self._blocked[1])
        if status in RETRIABLE_STATUSES:
            if status == 429:
                self._count(rate_limited=1)
            reason = f"HTTP {status}"
            if response.content and not is_json(response):
                reason += f" with a {kind(response)} body, not the API's JSON"
                if not self._reached and status != 429:  # a web page, at the first contact
                    self._not_billed()
                    detail = (f"{reason}: check {self.base_url_name} (a proxy, a login page or"
                              " another web site answered instead of the API)")  # fmt: skip
                    raise self._stopped(method, path, status, detail, repeatable)
                reason += " (a proxy's page?)"
            elif is_json(response):
                self._reached = True
            raise RetriableError(
                reason, status, retry_after(status, response.headers), uncertain=status != 429
            )
        if status >= 400:
            raise self._fatal(method, path, response)
        if 300 <= status < 400:  # never followed: the credentials would go along
            try:
                target = urlsplit(response.headers.get("Location", "")).hostname or "elsewhere"
            except ValueError:  # a Location that is not a URL
                target = "elsewhere"
            raise UnexpectedAnswer(
                self.platform, method, path,
                self.scrub(f"it redirects to {target}; check {self.base_url_name}"), status,
            )  # fmt: skip
        if expect_json or (response.content and is_json(response)):
            self._parse_json(method, path, response)
        self._reached = True
        return response

    def _not_billed(self) -> None:
        """Uncount the request just answered from the budget's ledger: the vendor refused it
        unserved (401, 429) or another site answered it, so nobody bills it."""
        if self.spending is not None:
            self.spending.refund()

    def _cycle_blocked(self, method: str, path: str, reset: str) -> CycleBlocked:
        """The vendor's block for the rest of the billing cycle (until the epoch second `reset`):
        stop now, never wait it out."""
        until = ""
        if reset.isdigit():
            instant = datetime.fromtimestamp(int(reset), UTC)
            until = f" until {instant.isoformat(timespec='seconds')}"
        detail = (
            f"the project's API calls for this billing cycle are spent (429 api_calls_cycle), so"
            f" every request is refused{until}; promosync stopped with what it read committed."
            " Raise the plan's quota, or lower PROMOSYNC_VOUCHERIFY_SHARE so promosync leaves"
            " room for the project's own traffic"
        )
        return CycleBlocked(self.platform, method, path, 429, self.scrub(detail))

    def _no_answer(self, exc: Exception, method: str, path: str, repeatable: bool) -> Exception:
        """What to raise when the transport got no usable answer: fatal, or worth a retry."""
        if isinstance(exc, LimitExceeded):
            return self._stopped(method, path, exc.status, str(exc), repeatable)
        if isinstance(exc, BodyUnreadable):
            if exc.foreign and not self._reached:
                detail = f"{exc}: check {self.base_url_name} (a proxy answering for the API?)"
                return self._stopped(method, path, exc.status, detail, repeatable)
            return RetriableError(str(exc), exc.status, cause="body unreadable")
        proxy = None
        if self.proxy:
            scheme = urlsplit(self.base_url).scheme.upper()
            proxy = (host_of(self.proxy), f"{scheme}_PROXY and NO_PROXY")
        failure = classify(
            exc, self.settings, host=host_of(self.base_url), base_url_name=self.base_url_name,
            proxy=proxy,
        )  # fmt: skip
        if failure.foreign and not self._reached:
            # Never reached at all: a wrong base URL, proxy or CA bundle, not a passing fault.
            detail = f"{failure.reason}; check {failure.check}"
            maybe_acted = not failure.never_sent
            return self._stopped(method, path, None, detail, repeatable, maybe_acted)
        return RetriableError(failure.reason, uncertain=not failure.never_sent, cause=failure.cause)

    def _stopped(
        self,
        method: str,
        path: str,
        status: int | None,
        detail: str,
        repeatable: bool,
        maybe_acted: bool = True,
    ) -> ApiError:
        """A fatal failure; UncertainOutcome if it hit a request the server may have acted on."""
        detail = self.scrub(detail)
        if maybe_acted and not repeatable:
            return UncertainOutcome(self.platform, method, path, status, detail)
        if status is not None and status < 300:
            return UnexpectedAnswer(self.platform, method, path, detail, status)
        return ApiError(self.platform, method, path, status, detail)

    def _parse_json(self, method: str, path: str, response: Response) -> None:
        """Set `response.parsed_json`; a body that is not JSON is fatal before the API answered."""
        problem = None
        if not is_json(response):
            problem = f"the body is {kind(response)}, not JSON"
        else:
            try:
                response.parsed_json = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                problem = "the JSON body is cut short or unparsable"
        if problem is None:
            return
        if not self._reached and not is_json(response):
            self._not_billed()
            raise UnexpectedAnswer(
                self.platform, method, path,
                self.scrub(f"{problem}: check {self.base_url_name} (a proxy, a login page or"
                           " another web site answered instead of the API)"),
                response.status_code,
            )  # fmt: skip
        raise RetriableError(problem, response.status_code, cause="not JSON")

    def _fatal(self, method: str, path: str, response: Response) -> ApiError:
        detail, request_id = error_detail(response)
        if response.content and not is_json(response):
            detail += f" ({kind(response)}, not the API's JSON: check {self.base_url_name})"
        elif response.status_code in (401, 403):
            detail += f"; check {self.credentials_name} (wrong, revoked or expired?)"
        status = response.status_code
        return ApiError(self.platform, method, path, status, self.scrub(detail), request_id)
