"""Customers read through Voucherify exports: same tables as the list, failures, resume, deletes."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests
from promosync.connectors.cursor import TICK, format_instant
from promosync.connectors.voucherify import client as api
from promosync.connectors.voucherify import exports, sync
from promosync.connectors.voucherify.client import voucherify_client
from promosync.connectors.warehouse import Warehouse
from promosync.sandbox.voucherify.export_files import METADATA_SCHEMA

from tests.connectors.test_voucherify_sync import _json, assert_parity, sync_all
from tests.reliability.cli import env_for, promosync, small, start

TYPED = (
    "id, source_id, name, email, phone, birthdate, address_city, address_country,"
    " address_postal_code, CAST(metadata AS VARCHAR) AS metadata, loyalty_points,"
    " orders_total_amount, orders_total_count, created_at, updated_at, _deleted_at"
)


SCHEMA_KEYS = METADATA_SCHEMA  # the sandbox project's metadata schema: what an export carries
LACKING = ("object", "referrals", "system_metadata", "assets")  # docs/TABLES.md


def carried(metadata: dict | None) -> dict:
    """The metadata an export carries: schema keys with a value (null and absent look alike)."""
    return {k: v for k, v in (metadata or {}).items() if k in SCHEMA_KEYS and v is not None}


def blank(value):
    """`""` as null, all the way down: an export cell cannot tell them apart."""
    if isinstance(value, dict):
        return {k: blank(v) for k, v in value.items()}
    return None if value == "" else value


def documented(record: dict) -> dict:
    """A customer without what docs/TABLES.md says an export lacks."""
    record = blank(record)
    kept = {k: v for k, v in record.items() if k not in LACKING}
    kept["metadata"] = carried(record.get("metadata"))
    kept["loyalty"] = {k: v for k, v in record["loyalty"].items() if k != "campaigns"}
    redemptions = record["summary"]["redemptions"]
    kept["summary"] = {
        **record["summary"],
        "redemptions": {k: v for k, v in redemptions.items() if k not in ("gift", "loyalty_card")},
    }
    return kept


def assert_documented_parity(admin, warehouse) -> None:
    """Every live customer equals the API's, apart from what an export lacks."""
    truth = {c["id"]: documented(c) for c in admin.get("/_sandbox/truth/customers").json()}
    rows = warehouse.query(
        "SELECT id, CAST(_raw AS VARCHAR) AS raw FROM voucherify_customers"
        " WHERE _deleted_at IS NULL"
    )
    assert {row["id"]: documented(_json(row["raw"])) for row in rows} == truth


def typed_rows(warehouse) -> list[dict]:
    rows = warehouse.query(f"SELECT {TYPED} FROM voucherify_customers ORDER BY id")
    return [{**row, "metadata": carried(_json(row["metadata"]))} for row in rows]


def exports_made(admin) -> int:
    return len(admin.get("/_sandbox/truth/exports").json())


def _duckdb(path):
    store = Warehouse(f"duckdb:///{path}")
    store.create_tables()
    return store


@pytest.fixture
def other_warehouse(tmp_path):
    """A second warehouse, for the list's read of the same data."""
    store = _duckdb(tmp_path / "by_list.duckdb")
    yield store
    store.dispose()


@pytest.fixture
def duckdb_warehouse(tmp_path):
    """One warehouse, for what does not depend on the database (the paths and their failures)."""
    store = _duckdb(tmp_path / "warehouse.duckdb")
    yield store
    store.dispose()


def test_an_export_read_gives_the_list_reads_table(
    client, warehouse, other_warehouse, voucherify_admin
) -> None:
    by_export = sync.sync_customers(client, warehouse, path="export")
    by_list = sync.sync_customers(client, other_warehouse, path="list")
    assert (by_export.mode, by_list.mode) == ("export", "list")
    assert by_export.inserted == by_list.inserted == 300
    assert by_export.requests < by_list.requests
    assert typed_rows(warehouse) == typed_rows(other_warehouse)
    assert_documented_parity(voucherify_admin, warehouse)
    cursors = [w.read_cursor("voucherify_customers") for w in (warehouse, other_warehouse)]
    assert cursors[0] == cursors[1]
    assert warehouse.query("SELECT count(*) AS n FROM sync_exports")[0]["n"] == 0


def test_an_export_over_list_rows_blanks_nothing_the_export_lacks(
    client, warehouse, voucherify_admin
) -> None:
    sync_all(client, warehouse)
    voucherify_admin.put("/_sandbox/config", json={"voucherify_export_headers": "fields"})
    report = sync.sync_customers(client, warehouse, full_refresh=True, path="export")
    assert report.mode == "export" and report.updated == 300
    assert_parity(voucherify_admin, warehouse)  # `_raw` equals the API's object, whole


@pytest.mark.parametrize("fault", ["export_error", "export_stuck", "download"])
def test_a_failed_export_falls_back_to_the_list_with_parity(
    fault, client, duckdb_warehouse, voucherify_admin, sandbox, monkeypatch
) -> None:
    client.max_wait = 0.01
    monkeypatch.setattr(exports, "DEADLINE", 0.5)
    if fault == "download":
        faults = sandbox.voucherify_download_url + "/_sandbox/faults"
        requests.put(faults, json={"server_error": 1.0}, timeout=10).raise_for_status()
    else:
        voucherify_admin.put("/_sandbox/faults", json={fault: 1.0}).raise_for_status()
    report = sync.sync_customers(client, duckdb_warehouse, path="export")
    assert report.mode == "list" and "export failed" in report.mode_reason
    assert report.inserted == 300
    assert exports_made(voucherify_admin) == (2 if fault == "export_error" else 1)
    assert duckdb_warehouse.query("SELECT count(*) AS n FROM sync_exports")[0]["n"] == 0
    sync_all(client, duckdb_warehouse)
    assert_parity(voucherify_admin, duckdb_warehouse)


class Killed(BaseException):
    """The process dying where the test says (nothing catches it, as nothing survives a kill)."""


def test_a_run_killed_while_its_export_runs_resumes_with_the_same_export(
    client, warehouse, voucherify_admin, monkeypatch
) -> None:
    waited = exports.wait

    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(exports, "wait", killed)
    with pytest.raises(Killed):
        sync.sync_customers(client, warehouse, path="export")
    assert warehouse.read_cursor("voucherify_customers") is None
    monkeypatch.setattr(exports, "wait", waited)
    report = sync.sync_customers(client, warehouse)
    assert report.mode == "export" and report.mode_reason == "resumed a saved export"
    assert report.inserted == 300
    assert exports_made(voucherify_admin) == 1
    assert_documented_parity(voucherify_admin, warehouse)


def test_reconcile_by_export_marks_the_deleted_customers_rows_everywhere(
    client, warehouse, voucherify_admin
) -> None:
    sync_all(client, warehouse)
    deleted = voucherify_admin.post("/_sandbox/mutate", json={"delete_customers": 6}).json()
    gone = sorted(deleted["deleted"])
    report = sync.reconcile_customers(client, warehouse, path="export")
    assert report.mode == "export" and report.deleted == 6
    assert report.requests <= 6  # create, polls, one file: not a page per 100 customers
    for table in ("voucherify_customer_segments", "voucherify_customer_activities"):
        rows = warehouse.query(f"SELECT customer_id, _deleted_at FROM {table}")
        assert any(row["customer_id"] in gone for row in rows)
        assert all((row["_deleted_at"] is not None) == (row["customer_id"] in gone) for row in rows)
    cursors = warehouse.query("SELECT partition_key FROM sync_state")
    assert not {row["partition_key"] for row in cursors} & set(gone)
    assert_parity(voucherify_admin, warehouse)


def test_a_tie_group_past_the_page_cap_is_read_through_an_export(
    client, duckdb_warehouse, voucherify_admin, monkeypatch
) -> None:
    monkeypatch.setattr(api, "PAGE_CAP", 2)  # the list reaches 200 customers of one instant
    sync.sync_customers(client, duckdb_warehouse, path="list")
    storm = {"tie_storm": {"count": 250}}
    voucherify_admin.post("/_sandbox/mutate", json=storm).raise_for_status()
    report = sync.sync_customers(client, duckdb_warehouse, path="list")
    assert report.updated == 250
    full = sync.sync_customers(client, duckdb_warehouse, full_refresh=True, path="list")
    assert full.updated == 300
    assert exports_made(voucherify_admin) == 2
    assert_documented_parity(
        voucherify_admin, duckdb_warehouse
    )  # tie_storm's own metadata key aside


def test_keys_never_go_to_a_download_host_not_trusted(
    sandbox, duckdb_warehouse, voucherify_admin
) -> None:
    settings = sandbox.settings
    untrusted = voucherify_client(
        sandbox.voucherify_url, settings.voucherify_app_id, settings.voucherify_app_token,
        download_url="https://download.example.com",
    )  # fmt: skip
    voucherify_admin.put("/_sandbox/config", json={"voucherify_export_seconds": 0.2})
    report = sync.sync_customers(untrusted, duckdb_warehouse, path="export")
    assert report.mode == "list" and "not a Voucherify download host" in report.mode_reason
    assert voucherify_admin.get("/_sandbox/stats").json()["download_host"]["total"] == 0
    assert report.inserted == 300
    again = sync.sync_loyalty_transactions(untrusted, duckdb_warehouse, path="export")
    assert again.mode.endswith("by list") and exports_made(voucherify_admin) == 1  # none more


LOYALTY = (
    "id, campaign_id, voucher_id, source_id, type, reason, points, balance,"
    " related_transaction_id, created_at, CAST(details AS VARCHAR) AS details"
)


def loyalty_rows(warehouse) -> list[dict]:
    rows = warehouse.query(f"SELECT {LOYALTY} FROM voucherify_loyalty_transactions ORDER BY id")
    return [{**row, "details": _json(row["details"])} for row in rows]


def test_loyalty_campaigns_read_by_export_give_the_list_reads_table(
    client, warehouse, other_warehouse, voucherify_admin
) -> None:
    by_export = sync.sync_loyalty_transactions(client, warehouse, path="export")
    by_list = sync.sync_loyalty_transactions(client, other_warehouse, path="list")
    assert by_export.mode.endswith("by export") and by_list.mode.endswith("by list")
    assert by_export.inserted == by_list.inserted > 0
    assert loyalty_rows(warehouse) == loyalty_rows(other_warehouse)
    cursors = [
        w.read_cursors("voucherify_loyalty_transactions") for w in (warehouse, other_warehouse)
    ]
    assert {k: v for k, v in cursors[0].items() if k} == {k: v for k, v in cursors[1].items() if k}
    voucherify_admin.post("/_sandbox/mutate", json={"add_loyalty_transactions": 9})
    assert sync.sync_loyalty_transactions(client, warehouse).inserted == 9  # the list goes on


@pytest.mark.parametrize("bounds", ["exclusive", "inclusive"])
def test_a_backfill_window_by_export_holds_its_bounds_under_either_reading(
    bounds, client, duckdb_warehouse, voucherify_admin
) -> None:
    reading = {"voucherify_export_bounds": bounds, "voucherify_export_metadata": "json"}
    voucherify_admin.put("/_sandbox/config", json=reading).raise_for_status()
    sync.sync_customers(client, duckdb_warehouse, path="list")
    start, end = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)
    for count, at in ((3, start - TICK), (5, start), (4, end - TICK), (2, end)):
        storm = {"tie_storm": {"count": count, "updated_at": format_instant(at)}}
        voucherify_admin.post("/_sandbox/mutate", json=storm).raise_for_status()
    report = sync.sync_customers(client, duckdb_warehouse, window=(start, end), path="export")
    assert report.mode == "export" and report.written == 9  # [start, end): 5 + 4
    assert duckdb_warehouse.read_cursor("voucherify_customers") == report.cursor_before


@pytest.mark.parametrize("warehouse", ["postgresql"], indirect=True)
def test_a_sync_killed_with_sigkill_during_its_export_resumes_with_it(
    sandbox, warehouse, voucherify_admin
) -> None:
    small(sandbox, 1000, voucherify_export_seconds=3)  # enough customers for the export path
    env = env_for(sandbox, warehouse.url)
    process = start(env, "sync", "--only", "voucherify_customers")
    try:
        deadline = time.monotonic() + 60
        while not warehouse.query("SELECT export_id FROM sync_exports"):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        process.kill()  # SIGKILL: nothing of the process runs after it
        process.communicate(timeout=60)
    code, _, err = promosync(env, "sync", "--only", "voucherify_customers")
    assert code == 0, err
    assert exports_made(voucherify_admin) == 1
    assert warehouse.query("SELECT count(*) AS n FROM voucherify_customers")[0]["n"] == 1000
    assert warehouse.query("SELECT count(*) AS n FROM sync_exports")[0]["n"] == 0
