"""Asset checks: the plain health functions on both warehouses, and the Dagster checks in a run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from promosync.connectors import health
from promosync.connectors.voucherify import sync
from promosync.connectors.voucherify.client import voucherify_client
from promosync.connectors.warehouse import Warehouse
from promosync.pipelines.checks import ASSET_CHECKS, WITHIN_BUDGET
from promosync.pipelines.definitions import EXTRA_JOBS
from promosync.pipelines.jobs import checks_job
from promosync.pipelines.push_assets import PUSH_ASSETS
from promosync.pipelines.resources import BudgetConfig, VoucherifyResource, WarehouseResource
from promosync.pipelines.talon_one_assets import TALON_ONE_ASSETS, talon_one_resources
from promosync.pipelines.voucherify_assets import VOUCHERIFY_ASSETS

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
CUSTOMER_CHECKS = ("primary_key_unique", "fresh", "cursor_forward", "count_matches_api")


def segment(customer_id: str, segment_id: str) -> dict:
    """A segments row as the pull writes it."""
    return {"customer_id": customer_id, "segment_id": segment_id, "_raw": {}, "_synced_at": NOW}


def drop_primary_key(store: Warehouse, table: str) -> None:
    """Recreate `table` without its key, as a copy loaded by another tool would be."""
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {table}_copy AS SELECT * FROM {table}")
        conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.exec_driver_sql(f"ALTER TABLE {table}_copy RENAME TO {table}")


def duplicate_rows(store: Warehouse, table: str, where: str) -> None:
    """Insert a second copy of the rows matching `where`."""
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"INSERT INTO {table} SELECT * FROM {table} WHERE {where}")


def open_push_job(store: Warehouse, operation: str, intent_at: datetime, status: str = "sent"):
    """A Voucherify async push job as the push ledger records it."""
    job = {
        "job_id": f"push_{operation}_{status}:1", "run_id": f"push_{operation}_{status}",
        "destination": "voucherify", "operation": operation,
        "endpoint": "POST /v1/customers/metadata/async", "sequence": 1, "row_count": 10,
        "payload_bytes": 100, "status": status, "async_action_id": "aa_1", "intent_at": intent_at,
    }  # fmt: skip
    store.write_batch("push_jobs", ["job_id"], [job])


def test_duplicate_keys_pass_then_name_the_repeated_keys(warehouse: Warehouse) -> None:
    table, key = "voucherify_customer_segments", ("customer_id", "segment_id")
    rows = [segment("cust_1", "seg_1"), segment("cust_1", "seg_2"), segment("cust_2", "seg_1")]
    warehouse.write_batch(table, key, rows)
    assert health.duplicate_keys(warehouse, table, key).passed

    drop_primary_key(warehouse, table)
    duplicate_rows(warehouse, table, "customer_id = 'cust_1' AND segment_id = 'seg_2'")
    finding = health.duplicate_keys(warehouse, table, key)
    assert not finding.passed
    assert finding.details == {"duplicate_keys": 1, "extra_rows": 1, "examples": ["cust_1, seg_2"]}
    assert "cust_1, seg_2" in finding.summary


def test_last_sync_reads_cursors_then_rows_of_snapshot_streams(warehouse: Warehouse) -> None:
    assert health.last_sync(warehouse, "voucherify_customers") is None
    warehouse.write_batch(
        "voucherify_customers", ["id"], [], {("voucherify_customers", ""): "2025-06-01T00:00:00Z"}
    )
    committed = health.last_sync(warehouse, "voucherify_customers")
    assert committed and datetime.now(UTC) - committed < timedelta(minutes=1)

    program = {"id": 1, "_raw": {}, "_synced_at": NOW}
    warehouse.write_batch("talon_one_loyalty_programs", ["id"], [program])
    assert health.last_sync(warehouse, "talon_one_loyalty_programs") == NOW


def test_freshness_within_max_age_stale_beyond_it_and_never() -> None:
    hour = timedelta(hours=1)
    assert health.freshness("s", NOW - hour, NOW, 2 * hour).passed
    stale = health.freshness("s", NOW - 3 * hour, NOW, 2 * hour)
    assert not stale.passed and stale.summary == "s: last synced 3h ago (> 2h)"
    assert health.freshness("s", None, NOW, hour).summary == "s: never synced"


def test_count_matches_api() -> None:
    assert health.count_matches("voucherify_customers", 300, 300).passed
    finding = health.count_matches("voucherify_customers", 300, 297)
    assert not finding.passed and finding.details == {"warehouse_rows": 300, "api_total": 297}


def test_cursor_never_moves_backwards() -> None:
    forward = health.cursor_progress("s", "2025-01-01T00:00:00.000Z", "2025-01-02T00:00:00Z")
    assert forward.passed and forward.details["high_water"] == "2025-01-02T00:00:00Z"
    assert health.cursor_progress("s", None, None).passed  # never synced
    back = health.cursor_progress("s", "2025-01-02T00:00:00Z", "2025-01-01T23:59:59.999Z")
    assert not back.passed and back.details["high_water"] == "2025-01-02T00:00:00Z"
    assert not health.cursor_progress("s", "2025-01-02T00:00:00Z", None).passed


def test_pending_pushes_fail_only_beyond_the_threshold(warehouse: Warehouse) -> None:
    hour = timedelta(hours=1)
    open_push_job(warehouse, "metadata", NOW - 10 * hour, status="done")  # ended: ignored
    assert health.pending_pushes(warehouse, NOW, hour).details == {"pending": 0}
    open_push_job(warehouse, "metadata", NOW - 2 * hour)
    open_push_job(warehouse, "customers", NOW - timedelta(minutes=5), status="intent")
    finding = health.pending_pushes(warehouse, NOW, hour)
    assert not finding.passed
    assert finding.details["pending"] == 2 and finding.details["stale"] == 1
    assert finding.details["oldest_age"] == "2h" and "voucherify metadata" in finding.summary
    assert health.pending_pushes(warehouse, NOW, hour, operation="customers").passed


@pytest.fixture
def check_defs(sandbox, tmp_path) -> tuple[dg.Definitions, Warehouse]:
    """Every asset with the checks, on the sandbox and a DuckDB warehouse holding its customers."""
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    settings = sandbox.settings
    app = (sandbox.voucherify_url, settings.voucherify_app_id, settings.voucherify_app_token)
    store = Warehouse(url)
    store.create_tables()
    sync.sync_customers(voucherify_client(*app), store)
    resources = {
        **talon_one_resources(),
        "voucherify": VoucherifyResource(base_url=app[0], app_id=app[1], app_token=app[2]),
        "warehouse": WarehouseResource(url=url),
    }
    defs = dg.Definitions(
        assets=[*VOUCHERIFY_ASSETS, *TALON_ONE_ASSETS, *PUSH_ASSETS],
        asset_checks=ASSET_CHECKS,
        jobs=EXTRA_JOBS,
        resources=resources,
    )
    yield defs, store
    store.dispose()


def run_checks(defs: dg.Definitions, instance: dg.DagsterInstance, run_config=None) -> dict:
    """Run the checks-only job; evaluations by (asset, check name)."""
    result = defs.resolve_job_def("promosync_checks").execute_in_process(
        instance=instance, run_config=run_config or {}
    )
    return {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in result.get_asset_check_evaluations()
    }


def test_checks_pass_on_a_synced_warehouse_then_catch_each_fault(
    check_defs, voucherify_admin
) -> None:
    defs, store = check_defs
    with dg.DagsterInstance.ephemeral() as instance:
        first = run_checks(defs, instance)
        assert len(first) == len(ASSET_CHECKS)
        for check in CUSTOMER_CHECKS:
            assert first["voucherify_customers", check].passed, first["voucherify_customers", check]
        assert first["voucherify_push_metadata", "no_stale_pending_jobs"].passed
        never = first["talon_one_loyalty_programs", "fresh"]
        assert not never.passed and never.description == "talon_one_loyalty_programs: never synced"

        voucherify_admin.post("/_sandbox/mutate", json={"delete_customers": 3}).raise_for_status()
        cursor = store.read_cursor("voucherify_customers")
        store.write_batch(
            "voucherify_customers",
            ["id"],
            [],
            {("voucherify_customers", ""): "2024-01-01T00:00:00Z"},
        )
        open_push_job(store, "metadata", datetime.now(UTC) - timedelta(hours=2))
        drop_primary_key(store, "voucherify_customers")
        duplicate_rows(
            store, "voucherify_customers", "id IN (SELECT min(id) FROM voucherify_customers)"
        )
        tight = {"config": {"max_age_minutes": 0.0001}}
        second = run_checks(defs, instance, {"ops": {"voucherify_customers_fresh": tight}})

    customers = {check: second["voucherify_customers", check] for check in CUSTOMER_CHECKS}
    assert not any(evaluation.passed for evaluation in customers.values())
    assert "1 key(s) held by more than one row" in customers["primary_key_unique"].description
    assert "ago (> 0s)" in customers["fresh"].description
    assert customers["cursor_forward"].description == (
        f"voucherify_customers: cursor moved back from {cursor} to 2024-01-01T00:00:00Z"
    )
    count = customers["count_matches_api"]
    assert count.severity == dg.AssetCheckSeverity.WARN
    assert (
        count.metadata["api_total"].value == 297 and count.metadata["warehouse_rows"].value == 301
    )
    pending = second["voucherify_push_metadata", "no_stale_pending_jobs"]
    assert not pending.passed and "older than 1h" in pending.description
    assert second["voucherify_push_customers", "no_stale_pending_jobs"].passed


def test_the_budget_check_warns_from_80_percent_of_the_share(tmp_path) -> None:
    budget = BudgetConfig(requests_per_cycle=1_000, share=0.2)  # a share of 200
    voucherify = VoucherifyResource(
        base_url="http://127.0.0.1:9", app_id="id", app_token="token", budget=budget
    )
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    budget_checks = [c for c in ASSET_CHECKS if WITHIN_BUDGET in str(c.check_keys)]
    defs = dg.Definitions(
        assets=VOUCHERIFY_ASSETS,
        asset_checks=budget_checks,
        jobs=[checks_job(budget_checks)],
        resources={"voucherify": voucherify, "warehouse": WarehouseResource(url=url)},
    )
    store = Warehouse(url)
    store.create_tables()
    start, _ = voucherify.budget_settings().cycle(datetime.now(UTC))

    def spend(stream: str, requests: int) -> None:
        row = {
            "cycle_start": start, "account": voucherify.account(), "stream": stream,
            "run_id": "r", "requests": requests, "reserved": 0, "updated_at": start,
        }  # fmt: skip
        store.write_batch("request_ledger", ["cycle_start", "account", "stream", "run_id"], [row])

    with dg.DagsterInstance.ephemeral() as instance:
        spend("voucherify_customers", 10)
        spend("voucherify_customer_activities", 149)
        under = run_checks(defs, instance)
        spend("voucherify_customer_activities", 150)  # 160 of 200: 80 %
        over = run_checks(defs, instance)
    store.dispose()
    assert len(under) == 4  # one on each Voucherify stream
    assert all(evaluation.passed for evaluation in under.values())
    warned = over["voucherify_customer_activities", WITHIN_BUDGET]
    assert not warned.passed and warned.severity == dg.AssetCheckSeverity.WARN
    assert warned.description.startswith("160 of the share's 200 requests spent this cycle (80%)")
    assert warned.metadata["stream_spent"].value == 150
    assert over["voucherify_customers", WITHIN_BUDGET].metadata["stream_spent"].value == 10
