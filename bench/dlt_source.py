"""dlt's `rest_api` source configured for the two streams the peers benchmark compares.

- Voucherify `GET /v1/customers`: `limit=100`, `order=updated_at`, dlt's own incremental cursor
  on `updated_at` (sent as `updated_at[after]`), paged by the keyset the API offers
  (`starting_after` = the last row's `updated_at`, until `has_more` is false): the paginator
  below, since `page` stops at 99 and the list carries no cursor of its own.
- Talon.One `GET /v1/loyalty_programs/{id}/transactions` (Management API) for every program of
  `GET /v1/loyalty_programs`: dlt's `OffsetPaginator` on `skip` / `pageSize=1000` / `hasMore`,
  dlt's incremental cursor on `created` (sent as `startDate`).
- Both `write_disposition="merge"` on primary key `id` (an upsert, as promosync writes), nested
  objects kept as JSON columns (`max_table_nesting=0`, the shape promosync stores).
- bench/peers.py loads through parquet files (`loader_file_format="parquet"`, pyarrow), dlt's
  fast path; default log level (WARNING), telemetry off, no dev mode.
"""

from __future__ import annotations

from typing import Any

from dlt.sources.helpers.rest_client.paginators import BasePaginator, OffsetPaginator
from dlt.sources.rest_api import rest_api_source
from requests import Request, Response

EPOCH = "2000-01-01T00:00:00Z"


class StartingAfterPaginator(BasePaginator):
    """Voucherify's customers keyset: the next page starts after the last row's `updated_at`."""

    def __init__(self, cursor_field: str = "updated_at") -> None:
        super().__init__()
        self.cursor_field = cursor_field
        self.cursor: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        """Stop when the API says nothing follows; else remember the last row's cursor."""
        if not data or not response.json().get("has_more"):
            self._has_next_page = False
            return
        self.cursor = data[-1][self.cursor_field]

    def update_request(self, request: Request) -> None:
        """Send the cursor as `starting_after`."""
        request.params["starting_after"] = self.cursor


def voucherify_customers(base_url: str, app_id: str, app_token: str) -> Any:
    """The Voucherify customers resource, merged on `id`, incremental on `updated_at`."""
    source = rest_api_source(
        {
            "client": {
                "base_url": base_url,
                "headers": {"X-App-Id": app_id, "X-App-Token": app_token},
            },
            "resources": [
                {
                    "name": "customers",
                    "primary_key": "id",
                    "write_disposition": "merge",
                    "endpoint": {
                        "path": "v1/customers",
                        "params": {"limit": 100, "order": "updated_at"},
                        "data_selector": "customers",
                        "paginator": StartingAfterPaginator(),
                        "incremental": {
                            "start_param": "updated_at[after]",
                            "cursor_path": "updated_at",
                            "initial_value": EPOCH,
                        },
                    },
                }
            ],
        },
        name="voucherify",
    )
    source.max_table_nesting = 0
    return source


def talon_one_transactions(base_url: str, management_key: str) -> Any:
    """Talon.One program-wide loyalty transactions of every program, merged on `id`."""
    source = rest_api_source(
        {
            "client": {
                "base_url": base_url,
                "headers": {"Authorization": f"ManagementKey-v1 {management_key}"},
            },
            "resources": [
                {
                    "name": "loyalty_programs",
                    "primary_key": "id",
                    "write_disposition": "merge",
                    "endpoint": {
                        "path": "v1/loyalty_programs",
                        "data_selector": "data",
                        "paginator": "single_page",
                    },
                },
                {
                    "name": "loyalty_transactions",
                    "primary_key": "id",
                    "write_disposition": "merge",
                    "endpoint": {
                        "path": "v1/loyalty_programs/{program_id}/transactions",
                        "params": {
                            "program_id": {
                                "type": "resolve",
                                "resource": "loyalty_programs",
                                "field": "id",
                            },
                        },
                        "data_selector": "data",
                        "paginator": OffsetPaginator(
                            limit=1000,
                            offset_param="skip",
                            limit_param="pageSize",
                            total_path=None,
                            has_more_path="hasMore",
                        ),
                        "incremental": {
                            "start_param": "startDate",
                            "cursor_path": "created",
                            "initial_value": EPOCH,
                        },
                    },
                },
            ],
        },
        name="talon_one",
    )
    source.max_table_nesting = 0
    return source
