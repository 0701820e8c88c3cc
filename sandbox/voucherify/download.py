"""Voucherify's export download host (`download.voucherify.io`), served on its own socket.

`GET /v1/exports/{export_Id}?token=…` answers the CSV file the token opens. As the spec's
security and the docs' CSV-export guide have it, the token does not replace the API keys: the
request must carry `X-App-Id` / `X-App-Token` too, and an expired token answers 401 until
`GET /v1/exports/{id}` hands out a fresh URL. Every request is counted in this host's own
statistics (`/_sandbox/stats` on either host, under `download_host` on the API's), and every
authenticated one is charged to the app id's Voucherify quota, as an API call is: it counts
against the minute, hour and billing-cycle budgets, and a refusal answers the API's own 429.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from promosync.sandbox.asgi import AdminError, SandboxApi
from promosync.sandbox.limits import Verdict
from promosync.sandbox.voucherify.quota import rate_headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from promosync.sandbox.voucherify.api import VoucherifyApi

REAL_HOST = "https://download.voucherify.io"


class DownloadHost(SandboxApi):
    """The download host of one Voucherify simulator: its files, auth, quota and faults."""

    name = "voucherify_download"

    def __init__(self, api: VoucherifyApi) -> None:
        super().__init__(api.settings)
        self.api = api
        self.base_url = REAL_HOST  # the sandbox's own URL once it serves this host

    def routes(self) -> list[BaseRoute]:
        """The one download route."""
        return [Route("/v1/exports/{export_Id}", self.download, methods=["GET"])]

    def error_response(
        self, status: int, key: str, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        """Voucherify's Error body."""
        return self.api.error_response(status, key, message, headers)

    def truth(self, collection: str) -> list[dict[str, Any]]:
        """The exports live on the API host: `/_sandbox/truth/exports` there."""
        raise KeyError(collection)

    def mutate(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Nothing to change here."""
        raise AdminError("the download host holds no data of its own; mutate the Voucherify API")

    def regenerate(self) -> None:
        """The files belong to the API host's exports; nothing to rebuild."""

    def charge(self, app_id: str, now: float) -> Verdict:
        """Charge one request to the app id's Voucherify quota (downloads count, as API calls)."""
        return self.api.quota.charge(app_id, now)

    async def download(self, request: Request) -> Response:
        """GET /v1/exports/{export_Id}?token=…: the CSV file, as text/plain."""
        now = self.api._settle()
        app_id = request.headers.get("x-app-id")
        token = request.headers.get("x-app-token")
        if app_id != self.settings.voucherify_app_id or token != self.settings.voucherify_app_token:
            return self.api.error_response(
                401, "unauthorized", "Unauthorized", details="Invalid X-App-Id or X-App-Token"
            )
        verdict = self.charge(app_id, time.time())
        if not verdict.allowed:
            return self.api.refusal(verdict)
        headers = rate_headers(verdict)
        export_id = request.path_params["export_Id"]
        body = self.api.exports.file(export_id, request.query_params.get("token"), now)
        if body is None:
            return self.api.error_response(
                401,
                "unauthorized",
                "Unauthorized",
                headers,
                details=f"The token does not open export {export_id}, or it has expired: "
                "get the export again for a fresh URL",
            )
        return Response(body, 200, headers, media_type="text/plain; charset=utf-8")
