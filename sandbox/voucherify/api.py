"""The Voucherify simulator's HTTP surface: auth, rate limits, routes and the admin hooks."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from promosync.sandbox.asgi import AdminError, JSONResponse, SandboxApi
from promosync.sandbox.limits import Verdict
from promosync.sandbox.settings import SandboxSettings
from promosync.sandbox.voucherify import admin, bodies, customers
from promosync.sandbox.voucherify.async_actions import AsyncActions
from promosync.sandbox.voucherify.download import DownloadHost
from promosync.sandbox.voucherify.export_api import ExportEndpoints
from promosync.sandbox.voucherify.exports import Exports
from promosync.sandbox.voucherify.generator import ActivityGenerator
from promosync.sandbox.voucherify.instants import now_us
from promosync.sandbox.voucherify.params import ApiError
from promosync.sandbox.voucherify.quota import REFUSALS, VoucherifyQuota, rate_headers
from promosync.sandbox.voucherify.state import VoucherifyState
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

Handler = Callable[[Request, int], Awaitable[Response]]
# Bulk calls, also charged against `voucherify_bulk_requests_per_minute` (`bulk_api_calls`).
BULK_PATHS = frozenset(
    ("/v1/customers/importCSV", "/v1/customers/bulk/async", "/v1/customers/metadata/async")
)


def _json(content: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(content, status)


class VoucherifyApi(SandboxApi):
    """Customers, activity, segments, async jobs, exports and legacy loyalties, as in the spec."""

    name = "voucherify"

    def __init__(self, settings: SandboxSettings) -> None:
        super().__init__(settings)
        self.quota = VoucherifyQuota(settings, time.time())
        self.download = DownloadHost(self)
        self.regenerate()

    def regenerate(self) -> None:
        """Rebuild the dataset from the seed and forget rate-limit windows, jobs and exports."""
        self.state = VoucherifyState(self.settings.seed, self.settings.customers)
        self.jobs = AsyncActions()
        self.exports = Exports(self.settings.seed)
        self.generator = ActivityGenerator(self.settings.seed)
        self.quota.clear(time.time())

    def reset(self) -> None:
        """Fresh data, no faults, no statistics, here and on the download host."""
        super().reset()
        self.download.reset()

    def error_response(
        self,
        status: int,
        key: str,
        message: str,
        headers: dict[str, str] | None = None,
        details: str | None = None,
    ) -> Response:
        """The spec's Error body."""
        body = {
            "code": status,
            "key": key,
            "message": message,
            "details": details or message,
            "request_id": bodies.request_id(),
        }
        return JSONResponse(body, status, headers)

    def refusal(self, verdict: Verdict) -> Response:
        """The 429 of a refused `VoucherifyQuota.charge`: the spec's Error, with its headers."""
        message = REFUSALS[verdict.kind]
        return self.error_response(429, "too_many_requests", message, rate_headers(verdict))

    def extra_stats(self) -> dict[str, Any]:
        """The quota (limits, each cycle's spend and refusals) and the download host's requests."""
        quota = self.quota.public([self.settings.voucherify_app_id], time.time())
        download = {
            **self.download.stats.public(),
            "faults_injected": self.download.faults.injected,
        }
        return {"quota": quota, "download_host": download}

    def _settle(self) -> int:
        now = now_us()
        self.jobs.settle(self.state, now, self.settings.voucherify_all_rows_failed)
        self.exports.settle(self.state, now, self.settings)
        self.generator.settle(self.state, self.settings, now)
        return now

    def truth(self, collection: str) -> list[dict[str, Any]]:
        """Ground truth of one collection (see `sandbox.voucherify.admin`)."""
        now = self._settle()
        if collection == "exports":
            return ExportEndpoints(self).truth(now)
        return admin.truth(self.state, self.jobs, collection, now)

    def mutate(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Apply admin mutations (see `sandbox.voucherify.admin`)."""
        if not isinstance(payload, dict):
            raise AdminError("mutate takes a JSON object")
        return admin.mutate(self.state, payload, self._settle(), self.settings)

    def guarded(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Settle due jobs, authenticate, then charge the quota, around one endpoint."""

        async def endpoint(request: Request) -> Response:
            now = self._settle()
            app_id = request.headers.get("x-app-id")
            token = request.headers.get("x-app-token")
            if (
                app_id != self.settings.voucherify_app_id
                or token != self.settings.voucherify_app_token
            ):
                return self.error_response(
                    401, "unauthorized", "Unauthorized", details="Invalid X-App-Id or X-App-Token"
                )
            verdict = self.quota.charge(app_id, time.time(), request.url.path in BULK_PATHS)
            if not verdict.allowed:
                return self.refusal(verdict)
            headers = rate_headers(verdict)
            try:
                response = await handler(request, now)
            except ApiError as error:
                response = self.error_response(
                    error.status, error.key, error.message, details=error.details
                )
            response.headers.update(headers)
            return response

        return endpoint

    async def list_customers(self, request: Request, now: int) -> Response:
        """GET /v1/customers."""
        query = request.query_params
        return JSONResponse(customers.list_customers(self.state, query, self.settings))

    async def create_customer(self, request: Request, now: int) -> Response:
        """POST /v1/customers (upsert)."""
        customer = customers.create_customer(self.state, await bodies.json_body(request), now)
        return JSONResponse(self.state.store.encoded(customer["id"]))

    async def get_customer(self, request: Request, now: int) -> Response:
        """GET /v1/customers/{customerId}."""
        customer = customers.existing(self.state, request.path_params["customerId"])
        return JSONResponse(self.state.store.encoded(customer["id"]))

    async def update_customer(self, request: Request, now: int) -> Response:
        """PUT /v1/customers/{customerId}."""
        customer = customers.existing(self.state, request.path_params["customerId"])
        fields = customers.checked_body(await bodies.json_body(request))
        fields = {k: v for k, v in fields.items() if k not in ("id", "source_id")}
        changed = self.state.update(customer, fields, now)
        return JSONResponse(self.state.store.encoded(changed["id"]))

    async def delete_customer(self, request: Request, now: int) -> Response:
        """DELETE /v1/customers/{customerId}: 204."""
        customer = customers.existing(self.state, request.path_params["customerId"])
        self.state.delete(customer["id"])
        return Response(status_code=204)

    async def permanent_deletion(self, request: Request, now: int) -> Response:
        """POST /v1/customers/{customerId}/permanent-deletion."""
        key = request.path_params["customerId"]
        return _json(customers.permanent_deletion(self.state, key, now))

    async def customer_activity(self, request: Request, now: int) -> Response:
        """GET /v1/customers/{customerId}/activity."""
        key = request.path_params["customerId"]
        order = self.settings.voucherify_activity_default_order
        return _json(customers.activity(self.state, key, request.query_params, order))

    async def customer_segments(self, request: Request, now: int) -> Response:
        """GET /v1/customers/{customerId}/segments."""
        return _json(customers.segments(self.state, request.path_params["customerId"]))

    def _enqueue(self, kind: str, payload: Any, now: int) -> Response:
        seconds = self.settings.async_action_seconds
        job = self.jobs.enqueue(kind, payload, bodies.request_id(), now, seconds)
        return _json({"async_action_id": job.id}, 202)

    async def import_csv(self, request: Request, now: int) -> Response:
        """POST /v1/customers/importCSV: multipart field `file`."""
        return self._enqueue("CUSTOMERS.IMPORT_CSV", await bodies.csv_upload(request), now)

    async def bulk_update(self, request: Request, now: int) -> Response:
        """POST /v1/customers/bulk/async: a JSON array of customers."""
        return self._enqueue("CUSTOMERS.BULK_UPDATE", await bodies.bulk_rows(request), now)

    async def metadata_update(self, request: Request, now: int) -> Response:
        """POST /v1/customers/metadata/async: `{source_ids, metadata}`."""
        return self._enqueue(
            "CUSTOMERS.METADATA_UPDATE", await bodies.metadata_update(request), now
        )

    async def get_async_action(self, request: Request, now: int) -> Response:
        """GET /v1/async-actions/{asyncActionId}."""
        return _json(self.jobs.get(request.path_params["asyncActionId"], now))

    async def list_async_actions(self, request: Request, now: int) -> Response:
        """GET /v1/async-actions."""
        end_bound = self.settings.voucherify_async_actions_end_bound
        return _json(self.jobs.list(request.query_params, now, end_bound))

    async def list_loyalties(self, request: Request, now: int) -> Response:
        """GET /v1/loyalties."""
        return _json(self.state.loyalty.list_campaigns(request.query_params))

    async def campaign_transactions(self, request: Request, now: int) -> Response:
        """GET /v1/loyalties/{campaignId}/transactions."""
        book = self.state.loyalty
        campaign = book.campaign(request.path_params["campaignId"])
        ids = book.by_campaign[campaign["id"]]
        return _json(book.list_transactions(ids, request.query_params, self._transactions_order))

    async def member_transactions(self, request: Request, now: int) -> Response:
        """GET /v1/loyalties[/{campaignId}]/members/{memberId}/transactions."""
        book = self.state.loyalty
        campaign_id = None
        if "campaignId" in request.path_params:
            campaign_id = book.campaign(request.path_params["campaignId"])["id"]
        card = book.card(request.path_params["memberId"], campaign_id)
        query = request.query_params
        return _json(book.list_transactions(card.transactions, query, self._transactions_order))

    @property
    def _transactions_order(self) -> str:
        return self.settings.voucherify_loyalty_transactions_default_order

    def routes(self) -> list[BaseRoute]:
        """Every simulated endpoint, guarded by auth and the quota."""
        table = [
            ("/v1/customers", "GET", self.list_customers),
            ("/v1/customers", "POST", self.create_customer),
            ("/v1/customers/importCSV", "POST", self.import_csv),
            ("/v1/customers/bulk/async", "POST", self.bulk_update),
            ("/v1/customers/metadata/async", "POST", self.metadata_update),
            ("/v1/customers/{customerId}", "GET", self.get_customer),
            ("/v1/customers/{customerId}", "PUT", self.update_customer),
            ("/v1/customers/{customerId}", "DELETE", self.delete_customer),
            ("/v1/customers/{customerId}/permanent-deletion", "POST", self.permanent_deletion),
            ("/v1/customers/{customerId}/activity", "GET", self.customer_activity),
            ("/v1/customers/{customerId}/segments", "GET", self.customer_segments),
            ("/v1/async-actions", "GET", self.list_async_actions),
            ("/v1/async-actions/{asyncActionId}", "GET", self.get_async_action),
            ("/v1/loyalties", "GET", self.list_loyalties),
            ("/v1/loyalties/members/{memberId}/transactions", "GET", self.member_transactions),
            ("/v1/loyalties/{campaignId}/transactions", "GET", self.campaign_transactions),
            (
                "/v1/loyalties/{campaignId}/members/{memberId}/transactions",
                "GET",
                self.member_transactions,
            ),
            *ExportEndpoints(self).routes(),
        ]
        return [
            Route(path, self.guarded(handler), methods=[method]) for path, method, handler in table
        ]
