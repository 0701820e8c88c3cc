"""The export endpoints of the Voucherify API host (the files are served by `download.py`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from promosync.sandbox.asgi import JSONResponse
from promosync.sandbox.voucherify import bodies
from promosync.sandbox.voucherify.export_filters import Record, invalid_payload
from promosync.sandbox.voucherify.export_requests import (
    CAMPAIGN_TRANSACTION_FIELDS,
    TRANSACTION_FIELDS,
    ExportRequest,
    export_request,
    transactions_export,
)
from promosync.sandbox.voucherify.exports import scheduled
from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from promosync.sandbox.voucherify.api import VoucherifyApi

Handler = Callable[[Request, int], Awaitable[Response]]


async def _optional_json(request: Request) -> Any:
    """The JSON body, or None when there is none (the loyalty exports take an empty body)."""
    raw = await bodies.raw_body(request)
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_payload("The body is not valid JSON") from None


class ExportEndpoints:
    """POST/GET/DELETE /v1/exports and the legacy loyalty transaction exports."""

    def __init__(self, api: VoucherifyApi) -> None:
        self.api = api

    def _inclusive(self) -> bool:
        return self.api.settings.voucherify_export_bounds == "inclusive"

    def _schedule(self, request: ExportRequest, now: int) -> Response:
        api = self.api
        fate = api.faults.export_fate()
        export = api.exports.create(request, now, api.settings.voucherify_export_seconds, fate)
        return JSONResponse(scheduled(export))

    async def create(self, request: Request, now: int) -> Response:
        """POST /v1/exports."""
        body = await bodies.json_body(request)
        return self._schedule(export_request(body, self._inclusive()), now)

    async def list(self, request: Request, now: int) -> Response:
        """GET /v1/exports."""
        api = self.api
        body = api.exports.list(request.query_params, now, api.settings, api.download.base_url)
        return JSONResponse(body)

    async def get(self, request: Request, now: int) -> Response:
        """GET /v1/exports/{exportId}."""
        api = self.api
        export = api.exports.get(request.path_params["exportId"])
        return JSONResponse(api.exports.public(export, now, api.settings, api.download.base_url))

    async def delete(self, request: Request, now: int) -> Response:
        """DELETE /v1/exports/{exportId}: 204."""
        self.api.exports.delete(request.path_params["exportId"])
        return Response(status_code=204)

    async def campaign_transactions(self, request: Request, now: int) -> Response:
        """POST /v1/loyalties/{campaignId}/transactions/export."""
        campaign = self.api.state.loyalty.campaign(request.path_params["campaignId"])
        scope = {"campaign_id": {"conditions": {"$in": [campaign["id"]]}}}

        def within(record: Record) -> bool:
            return record.data["campaign_id"] == campaign["id"]

        body = await _optional_json(request)
        export = transactions_export(
            body, self._inclusive(), (scope, within), CAMPAIGN_TRANSACTION_FIELDS
        )
        return self._schedule(export, now)

    async def card_transactions(self, request: Request, now: int) -> Response:
        """POST /v1/loyalties[/{campaignId}]/members/{memberId}/transactions/export."""
        book = self.api.state.loyalty
        campaign_id = None
        if "campaignId" in request.path_params:
            campaign_id = book.campaign(request.path_params["campaignId"])["id"]
        member = request.path_params["memberId"]
        card = book.card(member, campaign_id)
        # The API names the card as given (its code, in the spec's examples).
        scope = {"voucher_id": {"conditions": {"$in": [member]}}}

        def within(record: Record) -> bool:
            return record.data["voucher_id"] == card.voucher_id

        body = await _optional_json(request)
        export = transactions_export(body, self._inclusive(), (scope, within), TRANSACTION_FIELDS)
        return self._schedule(export, now)

    def truth(self, now: int) -> list[dict[str, Any]]:
        """Every export as GET /v1/exports/{id} shows it, plus its `rows` and `files` counts."""
        api = self.api
        return [
            api.exports.public(e, now, api.settings, api.download.base_url)
            | {"rows": e.rows, "files": len(e.files or ())}
            for e in api.exports.by_id.values()
        ]

    def routes(self) -> list[tuple[str, str, Handler]]:
        """(path, method, handler) of every export endpoint."""
        return [
            ("/v1/exports", "POST", self.create),
            ("/v1/exports", "GET", self.list),
            ("/v1/exports/{exportId}", "GET", self.get),
            ("/v1/exports/{exportId}", "DELETE", self.delete),
            ("/v1/loyalties/{campaignId}/transactions/export", "POST", self.campaign_transactions),
            (
                "/v1/loyalties/members/{memberId}/transactions/export",
                "POST",
                self.card_transactions,
            ),
            (
                "/v1/loyalties/{campaignId}/members/{memberId}/transactions/export",
                "POST",
                self.card_transactions,
            ),
        ]
