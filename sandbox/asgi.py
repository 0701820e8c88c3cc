"""Starlette plumbing shared by both simulated APIs: JSON, faults, statistics and the admin API."""

from __future__ import annotations

import asyncio
import ipaddress
from abc import ABC, abstractmethod
from collections import Counter
from typing import Any

import orjson
from promosync.sandbox import malformed
from promosync.sandbox.faults import FaultConfig, FaultInjector
from promosync.sandbox.settings import SandboxSettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Message, Receive, Scope, Send

ABORT_EXTENSION = "promosync.abort"  # set by sandbox.server's protocol: closes the socket at once


class JSONResponse(Response):
    """A JSON response rendered with orjson (the sandbox must never be a benchmark's bottleneck)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content)


class RequestStats:
    """Requests served, by method, route template and status."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, int | str]] = Counter()

    def record(self, method: str, route: str, status: int | str) -> None:
        self.counts[(method, route, status)] += 1

    def public(self) -> dict[str, Any]:
        """Totals, counts per status and per route, as JSON-ready data."""
        by_status: Counter[str] = Counter()
        for (_, _, status), count in self.counts.items():
            by_status[str(status)] += count
        return {
            "total": sum(self.counts.values()),
            "by_status": dict(by_status),
            "routes": [
                {"method": method, "route": route, "status": status, "count": count}
                for (method, route, status), count in sorted(
                    self.counts.items(), key=lambda item: (item[0][1], item[0][0], str(item[0][2]))
                )
            ],
        }


class AdminError(ValueError):
    """A bad admin request; answered 400 with the message."""


class SandboxApi(ABC):
    """One simulated API: its data, routes, error shape, ground truth and mutations."""

    name: str

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.faults = FaultInjector(settings.seed)
        self.malformed: list[malformed.Malformation] = []  # deliberately invalid answers
        self.stats = RequestStats()

    @abstractmethod
    def routes(self) -> list[BaseRoute]:
        """The API's routes (async endpoints only: state is mutated on the event loop)."""

    @abstractmethod
    def error_response(
        self, status: int, key: str, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        """An error in the platform's own documented shape."""

    @abstractmethod
    def truth(self, collection: str) -> list[dict[str, Any]]:
        """Ground truth of a collection; KeyError for an unknown one."""

    @abstractmethod
    def mutate(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Apply admin mutations; raise AdminError for bad input."""

    @abstractmethod
    def regenerate(self) -> None:
        """Rebuild the dataset from the settings (seed, customers) and clear rate-limit windows."""

    def extra_stats(self) -> dict[str, Any]:
        """What this API adds to `GET /_sandbox/stats` (Voucherify: quota, download host)."""
        return {}

    def reset(self) -> None:
        """Fresh data from the seed, no faults, no statistics."""
        self.regenerate()
        self.faults.reset(self.settings.seed)
        self.malformed = []
        self.stats = RequestStats()


def _is_loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return True  # in-process test client
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return client[0] in {"localhost", "testclient"}


class FaultsAndStats:
    """ASGI middleware: counts every API request and injects the configured faults."""

    def __init__(self, app: Starlette, api: SandboxApi) -> None:
        self.app = app
        self.api = api

    def _route_of(self, scope: Scope) -> str:
        for route in self.app.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return getattr(route, "path", "?")
        return "<unmatched>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith("/_sandbox/"):
            if not _is_loopback(scope):
                await JSONResponse({"error": "the admin API answers loopback only"}, 403)(
                    scope, receive, send
                )
                return
            await self.app(scope, receive, send)
            return

        api = self.api
        status: list[int | str] = ["none"]

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        fault = api.faults.draw()
        if api.faults.config.latency_ms:
            await asyncio.sleep(api.faults.config.latency_ms / 1000)
        if fault == "server_error":
            code = (500, 502, 503)[api.faults.injected["server_error"] % 3]
            response = api.error_response(code, "sandbox_fault", "Injected server error")
            await response(scope, receive, counting_send)
        elif fault == "rate_limited":
            wait = api.faults.config.retry_after_seconds
            response = api.error_response(
                429,
                "too_many_requests",
                "Too many requests hit the API too quickly.",
                {"Retry-After": str(wait)},
            )
            await response(scope, receive, counting_send)
        elif fault == "dropped_connection":
            await _abort(scope)
            status[0] = "dropped"
        elif fault == "truncated_body":
            await self._truncated(scope, receive, send)
            status[0] = "truncated"
        elif api.malformed:
            await self._malformed(scope, receive, counting_send)
        else:
            await self.app(scope, receive, counting_send)
        api.stats.record(scope["method"], self._route_of(scope), status[0])

    async def _malformed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The answer with the deliberately malformed records the admin asked for."""
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        start = messages[0]
        body = b"".join(m.get("body", b"") for m in messages[1:])
        if 200 <= start["status"] < 300:
            body = malformed.rewrite(self.api.malformed, scope["path"], body)
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _truncated(self, scope: Scope, receive: Receive, send: Send) -> None:
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        start = messages[0]
        body = b"".join(m.get("body", b"") for m in messages[1:])
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        half = body[: len(body) // 2]
        await send({"type": "http.response.body", "body": half, "more_body": True})
        await _abort(scope)


async def _abort(scope: Scope) -> None:
    abort = scope.get("extensions", {}).get(ABORT_EXTENSION)
    if abort is None:
        raise ConnectionAbortedError("sandbox fault: connection dropped")
    abort()
    await asyncio.sleep(0)  # let the server see the disconnect before it tries a 500


def _admin_routes(api: SandboxApi) -> list[Route]:
    async def body_of(request: Request) -> Any:
        raw = await request.body()
        if not raw:
            return {}
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise AdminError(f"body is not JSON: {exc}") from exc

    def guarded(handler):
        async def endpoint(request: Request) -> Response:
            try:
                return JSONResponse(await handler(request))
            except (AdminError, ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, 400)
            except KeyError as exc:
                return JSONResponse({"error": f"unknown {exc.args[0]}"}, 404)

        return endpoint

    async def get_faults(request: Request) -> Any:
        return api.faults.config.public()

    async def put_faults(request: Request) -> Any:
        api.faults.configure(FaultConfig.from_json(await body_of(request)))
        return api.faults.config.public()

    async def get_config(request: Request) -> Any:
        return api.settings.public()

    async def get_malformed(request: Request) -> Any:
        return [rule.public() for rule in api.malformed]

    async def put_malformed(request: Request) -> Any:
        api.malformed = malformed.parse(await body_of(request))
        return [rule.public() for rule in api.malformed]

    async def put_config(request: Request) -> Any:
        api.settings.update(await body_of(request))
        return api.settings.public()

    async def get_stats(request: Request) -> Any:
        stats = {**api.stats.public(), "faults_injected": dict(api.faults.injected)}
        return {**stats, **api.extra_stats()}

    async def post_reset(request: Request) -> Any:
        api.settings.relaunch(await body_of(request))
        api.reset()
        return {"reset": True, "seed": api.settings.seed, "customers": api.settings.customers}

    async def get_truth(request: Request) -> Any:
        return api.truth(request.path_params["collection"])

    async def post_mutate(request: Request) -> Any:
        payload = await body_of(request)
        if not isinstance(payload, dict):
            raise AdminError("mutate takes a JSON object")
        return api.mutate(payload)

    return [
        Route("/_sandbox/faults", guarded(get_faults), methods=["GET"]),
        Route("/_sandbox/faults", guarded(put_faults), methods=["PUT"]),
        Route("/_sandbox/config", guarded(get_config), methods=["GET"]),
        Route("/_sandbox/config", guarded(put_config), methods=["PUT"]),
        Route("/_sandbox/malformed", guarded(get_malformed), methods=["GET"]),
        Route("/_sandbox/malformed", guarded(put_malformed), methods=["PUT"]),
        Route("/_sandbox/stats", guarded(get_stats), methods=["GET"]),
        Route("/_sandbox/reset", guarded(post_reset), methods=["POST"]),
        Route("/_sandbox/truth/{collection}", guarded(get_truth), methods=["GET"]),
        Route("/_sandbox/mutate", guarded(post_mutate), methods=["POST"]),
    ]


def build_app(api: SandboxApi) -> FaultsAndStats:
    """The ASGI app of one simulated API: its routes, the admin API, faults and statistics."""

    async def not_found(request: Request, exc: Exception) -> Response:
        return api.error_response(404, "not_found", f"Resource not found: {request.url.path}")

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        message = f"{request.method} is not allowed here"
        return api.error_response(405, "method_not_allowed", message)

    app = Starlette(
        routes=[*api.routes(), *_admin_routes(api)],
        exception_handlers={404: not_found, 405: method_not_allowed},
    )
    return FaultsAndStats(app, api)
