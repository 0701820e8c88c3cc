"""The Voucherify pull against the sandbox: parity, increments, ties, deletes, backfill, faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from promosync.connectors.cursor import parse_instant
from promosync.connectors.http import ApiError, ConfigError
from promosync.connectors.voucherify import sync
from promosync.connectors.voucherify.client import voucherify_client

from tests.conftest import next_millisecond


def _json(value):
    return orjson.loads(value) if isinstance(value, str) else value


def sync_all(client, warehouse, **options) -> dict[str, sync.SyncReport]:
    reports = [
        sync.sync_customers(client, warehouse, **options),
        sync.sync_activities(client, warehouse),
        sync.sync_segments(client, warehouse),
        sync.sync_loyalty_transactions(client, warehouse),
    ]
    return {report.stream: report for report in reports}


def assert_parity(admin, warehouse) -> None:
    """Every table equals the sandbox's ground truth: ids, updated_at and the whole record."""
    truth = {c["id"]: c for c in admin.get("/_sandbox/truth/customers").json()}
    rows = warehouse.query(
        "SELECT id, updated_at, CAST(_raw AS VARCHAR) AS raw FROM voucherify_customers"
        " WHERE _deleted_at IS NULL"
    )
    assert len(rows) == len({row["id"] for row in rows})
    assert {row["id"] for row in rows} == set(truth)
    for row in rows:
        assert _json(row["raw"]) == truth[row["id"]]
        assert row["updated_at"] == parse_instant(truth[row["id"]]["updated_at"])

    # History of deleted customers stays in the warehouse; the source has forgotten it.
    activities = admin.get("/_sandbox/truth/activities").json()
    synced = warehouse.query("SELECT id, customer_id FROM voucherify_customer_activities")
    assert sorted((a["id"], a["customer_id"]) for a in activities) == sorted(
        (r["id"], r["customer_id"]) for r in synced if r["customer_id"] in truth
    )

    segments = {
        (entry["customer_id"], segment["id"])
        for entry in admin.get("/_sandbox/truth/segments").json()
        for segment in entry["segments"]
    }
    synced_segments = warehouse.query(
        "SELECT customer_id, segment_id FROM voucherify_customer_segments"
    )
    live_segments = {(r["customer_id"], r["segment_id"]) for r in synced_segments}
    assert {pair for pair in live_segments if pair[0] in truth} == segments

    transactions = admin.get("/_sandbox/truth/loyalty_transactions").json()
    synced_tx = warehouse.query("SELECT id FROM voucherify_loyalty_transactions")
    assert sorted(t["id"] for t in transactions) == sorted(r["id"] for r in synced_tx)


def test_full_sync_equals_the_source(client, warehouse, voucherify_admin) -> None:
    reports = sync_all(client, warehouse)
    assert_parity(voucherify_admin, warehouse)
    customers = reports["voucherify_customers"]
    assert customers.inserted == 300
    assert customers.requests <= 4  # 300 customers in pages of 100 (+1 re-read of a tie at most)
    assert parse_instant(customers.cursor_after) <= datetime.now(UTC)


def test_incremental_run_after_changes_restores_parity_cheaply(
    client, warehouse, voucherify_admin
) -> None:
    sync_all(client, warehouse)
    changes = {
        "create_customers": 7,
        "update_customers": 12,
        "tie_storm": {"count": 250},
        "add_loyalty_transactions": 9,
    }
    voucherify_admin.post("/_sandbox/mutate", json=changes).raise_for_status()
    next_millisecond()
    reports = sync_all(client, warehouse)
    assert_parity(voucherify_admin, warehouse)
    customers = reports["voucherify_customers"]
    assert customers.inserted == 7
    assert customers.requests <= 6  # the changed rows only, the 250-row tie read by page number
    assert reports["voucherify_loyalty_transactions"].inserted == 9


def test_activity_of_unchanged_customers_arrives_with_the_full_sweep(
    client, warehouse, voucherify_admin
) -> None:
    sync_all(client, warehouse)
    added = {"add_activities": {"customers": 5, "per_customer": 3}}
    voucherify_admin.post("/_sandbox/mutate", json=added).raise_for_status()
    assert sync.sync_activities(client, warehouse).inserted == 0  # no customer's updated_at moved
    sweep = sync.sync_activities(client, warehouse, full_sweep=True)
    assert sweep.inserted == 15
    assert sweep.entities == 300
    assert_parity(voucherify_admin, warehouse)


def test_a_second_run_with_no_change_writes_nothing(client, warehouse) -> None:
    sync_all(client, warehouse)
    reports = sync_all(client, warehouse)
    assert reports["voucherify_customers"].inserted == 0
    assert reports["voucherify_customers"].requests == 1
    assert reports["voucherify_customer_activities"].requests == 0  # no customer changed


def test_reconciliation_marks_deleted_customers_and_keeps_their_history(
    client, warehouse, voucherify_admin
) -> None:
    sync_all(client, warehouse)
    deleted = voucherify_admin.post("/_sandbox/mutate", json={"delete_customers": 4}).json()
    report = sync.reconcile_customers(client, warehouse)
    assert report.deleted == 4
    gone = warehouse.query(
        "SELECT id FROM voucherify_customers WHERE _deleted_at IS NOT NULL ORDER BY id"
    )
    assert [row["id"] for row in gone] == sorted(deleted["deleted"])
    assert_parity(voucherify_admin, warehouse)


def test_backfill_rereads_a_window_without_moving_the_cursor_back(
    client, warehouse, voucherify_admin
) -> None:
    sync.sync_customers(client, warehouse)
    cursor = warehouse.read_cursor("voucherify_customers")
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC)
    in_window = [
        c
        for c in voucherify_admin.get("/_sandbox/truth/customers").json()
        if start <= parse_instant(c["updated_at"]) < end
    ]
    report = sync.sync_customers(client, warehouse, window=(start, end))
    assert report.updated == len(in_window) > 0 and report.inserted == 0
    assert warehouse.read_cursor("voucherify_customers") == cursor
    count = warehouse.query("SELECT count(*) AS n FROM voucherify_customers")[0]["n"]
    assert count == 300


def test_sync_survives_faults_with_parity(client, warehouse, voucherify_admin) -> None:
    client.max_wait = 0.05
    faults = {
        "server_error": 0.10,
        "rate_limited": 0.05,
        "dropped_connection": 0.01,
        "truncated_body": 0.01,
        "retry_after_seconds": 0,
    }
    voucherify_admin.put("/_sandbox/faults", json=faults).raise_for_status()
    reports = sync_all(client, warehouse)
    voucherify_admin.put("/_sandbox/faults", json={}).raise_for_status()
    assert_parity(voucherify_admin, warehouse)
    assert sum(r.rate_limited for r in reports.values()) > 0


def test_wrong_credentials_fail_fast_and_change_nothing(sandbox, warehouse) -> None:
    client = voucherify_client(sandbox.voucherify_url, "sandbox-app-id", "wrong")
    with pytest.raises(ApiError, match="HTTP 401"):
        sync.sync_customers(client, warehouse)
    assert warehouse.query("SELECT count(*) AS n FROM voucherify_customers")[0]["n"] == 0
    assert warehouse.read_cursor("voucherify_customers") is None


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ConfigError, match="plain http"):
        voucherify_client("http://api.voucherify.io", "id", "token")


def test_cursor_never_passes_the_run_start(client, warehouse, voucherify_admin) -> None:
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    voucherify_admin.post(
        "/_sandbox/mutate", json={"tie_storm": {"count": 3, "updated_at": future}}
    ).raise_for_status()
    sync.sync_customers(client, warehouse)
    assert parse_instant(warehouse.read_cursor("voucherify_customers")) <= datetime.now(UTC)
