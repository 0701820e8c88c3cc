"""What every Talon.One endpoint shares: authentication, rate limits, parameters, error bodies."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from promosync.sandbox.asgi import JSONResponse
from promosync.sandbox.talon_one.model import parse_instant
from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from promosync.sandbox.talon_one.api import TalonOneApi

Handler = Callable[[Request], Awaitable[Response]]
INTEGRATION = "ApiKey-v1"
MANAGEMENT = "ManagementKey-v1"


class ApiError(Exception):
    """An error answered in the spec's `ErrorResponseWithStatus` shape."""

    def __init__(self, status: int, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameter = parameter


def error_body(status: int, message: str, parameter: str | None = None) -> dict[str, Any]:
    """`ErrorResponseWithStatus`: {message, errors: [APIError], StatusCode}."""
    source = {"parameter": parameter} if parameter else {}
    title = {400: "Bad request", 401: "Unauthorized", 404: "Not found", 409: "Conflict"}
    return {
        "message": message,
        "errors": [{"title": title.get(status, "Error"), "details": message, "source": source}],
        "StatusCode": status,
    }


def rate_limited(retry_after: int) -> Response:
    """429 with Retry-After; Talon.One documents no 429, so the body is a plain `ErrorResponse`."""
    message = "Too many requests hit the API too quickly."
    body = {"message": message, "errors": [{"title": "Too many requests", "source": {}}]}
    return JSONResponse(body, 429, headers={"Retry-After": str(retry_after)})


def guarded(api: TalonOneApi, scheme: str, template: str, handler: Handler) -> Handler:
    """Wrap a handler with authentication (the right key type), the rate limit and error mapping."""
    settings = api.settings

    async def endpoint(request: Request) -> Response:
        expected = (
            settings.talon_one_api_key
            if scheme == INTEGRATION
            else settings.talon_one_management_key
        )
        given = request.headers.get("authorization", "")
        if given != f"{scheme} {expected}":
            return JSONResponse(error_body(401, "Invalid or missing API key for this API"), 401)
        if scheme == INTEGRATION:
            verdict = api.minute_budget.hit(
                expected, settings.talon_one_requests_per_minute, time.monotonic()
            )
        else:
            verdict = api.per_second.hit(
                expected, template, settings.management_requests_per_second, time.monotonic()
            )
        if not verdict.allowed:
            return rate_limited(verdict.retry_after)
        try:
            return await handler(request)
        except ApiError as exc:
            return JSONResponse(error_body(exc.status, exc.message, exc.parameter), exc.status)

    return endpoint


async def json_body(request: Request) -> Any:
    """The request's JSON body, or a 400."""
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"Request body is not valid JSON: {exc}") from exc


class Query:
    """Typed access to query parameters; every bad value is a 400 naming the parameter."""

    def __init__(self, request: Request) -> None:
        self.params = request.query_params

    def integer(
        self, name: str, default: int, low: int | None = None, high: int | None = None
    ) -> int:
        """An integer within [low, high]."""
        raw = self.params.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, f"{name} must be an integer", name) from None
        if low is not None and value < low:
            raise ApiError(400, f"{name} must be at least {low}", name)
        if high is not None and value > high:
            raise ApiError(400, f"{name} must be at most {high}", name)
        return value

    def instant(self, name: str) -> int | None:
        """An RFC3339 timestamp (or a date, meaning midnight UTC) as epoch ms."""
        raw = self.params.get(name)
        if raw is None:
            return None
        try:
            return parse_instant(raw)
        except ValueError:
            raise ApiError(400, f"{name} must be an RFC3339 timestamp", name) from None

    def boolean(self, name: str, default: bool | None = False) -> bool | None:
        """true/false."""
        raw = self.params.get(name)
        if raw is None:
            return default
        if raw.lower() not in ("true", "false"):
            raise ApiError(400, f"{name} must be true or false", name)
        return raw.lower() == "true"

    def choice(self, name: str, allowed: tuple[str, ...]) -> str | None:
        """One of `allowed`."""
        raw = self.params.get(name)
        if raw is not None and raw not in allowed:
            raise ApiError(400, f"{name} must be one of {', '.join(allowed)}", name)
        return raw

    def text(self, name: str) -> str | None:
        """A free string."""
        return self.params.get(name)

    def strings(self, name: str) -> list[str]:
        """A repeated parameter (`?x=a&x=b`)."""
        return self.params.getlist(name)


def path_int(request: Request, name: str) -> int:
    """An integer path parameter, or a 400."""
    try:
        return int(request.path_params[name])
    except ValueError:
        raise ApiError(400, f"{name} must be an integer", name) from None
