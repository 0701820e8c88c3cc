"""The customers stream at scale: an incremental run costs requests in proportion to the change."""

from __future__ import annotations

import orjson
import pytest
from promosync.connectors.voucherify import sync
from promosync.connectors.voucherify.client import voucherify_client

from tests.conftest import next_millisecond

CUSTOMERS = 10_000


def _requests_served(admin) -> int:
    """API requests the sandbox has answered so far (admin calls excluded)."""
    return sum(
        route["count"]
        for route in admin.get("/_sandbox/stats").json()["routes"]
        if route["route"].startswith("/v1/")
    )


@pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)
def test_incremental_run_after_1_percent_changed_costs_at_most_2_percent_of_a_full_sync(
    sandbox, warehouse, voucherify_admin
) -> None:
    voucherify_admin.post("/_sandbox/reset", json={"customers": CUSTOMERS}).raise_for_status()
    settings = sandbox.settings
    client = voucherify_client(
        sandbox.voucherify_url, settings.voucherify_app_id, settings.voucherify_app_token
    )

    full = sync.sync_customers(client, warehouse)
    served_by_full = _requests_served(voucherify_admin)
    changed = voucherify_admin.post("/_sandbox/mutate", json={"update_customers": 100}).json()
    next_millisecond()
    incremental = sync.sync_customers(client, warehouse)
    served_by_incremental = _requests_served(voucherify_admin) - served_by_full

    assert full.inserted == CUSTOMERS
    assert full.requests == served_by_full >= CUSTOMERS // 100
    assert incremental.requests == served_by_incremental
    assert incremental.requests <= 0.02 * full.requests
    assert (incremental.inserted, incremental.updated) == (0, len(changed["updated"]))

    truth = {c["id"]: c for c in voucherify_admin.get("/_sandbox/truth/customers").json()}
    rows = warehouse.query("SELECT id, CAST(_raw AS VARCHAR) AS raw FROM voucherify_customers")
    assert {row["id"]: orjson.loads(row["raw"]) for row in rows} == truth
