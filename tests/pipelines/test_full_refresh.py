"""A full refresh is full: every cursor of the streams it covers is reset (per customer, per
campaign, per program), everything is read again, and rows gone from the source are kept with
`_deleted_at`. Rows the warehouse missed earlier come back; an incremental run cannot do that."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from promosync.connectors.warehouse import Warehouse
from promosync.pipelines import run

from tests.reliability import checks
from tests.reliability.cli import small


@pytest.fixture
def pulled(sandbox, warehouse: Warehouse, monkeypatch) -> Warehouse:
    """Both platforms pulled once into the warehouse, from a sandbox of 20 customers."""
    small(sandbox, 20)
    settings = sandbox.settings
    for name, value in {
        "VOUCHERIFY_BASE_URL": sandbox.voucherify_url,
        "VOUCHERIFY_APP_ID": settings.voucherify_app_id,
        "VOUCHERIFY_APP_TOKEN": settings.voucherify_app_token,
        "TALON_ONE_BASE_URL": sandbox.talon_one_url,
        "TALON_ONE_API_KEY": settings.talon_one_api_key,
        "TALON_ONE_MANAGEMENT_KEY": settings.talon_one_management_key,
        "WAREHOUSE_URL": warehouse.url,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    for platform in ("voucherify", "talon_one"):
        assert run.execute_pull(platform).succeeded
    return warehouse


def _forget(warehouse: Warehouse, table: str, group: str) -> int:
    """Delete every row but the newest of each `group`: the cursors still have rows behind
    them, as after rows missed by an earlier run; return how many went."""
    rows = warehouse.query(f"SELECT id, {group} AS g FROM {table} ORDER BY {group}, id")
    newest = {row["g"]: row["id"] for row in rows}  # ids sort by creation in the sandbox
    gone = [row["id"] for row in rows if newest[row["g"]] != row["id"]][::2]
    for start in range(0, len(gone), 500):
        listed = ", ".join(f"'{i}'" if isinstance(i, str) else str(i) for i in gone[start:][:500])
        warehouse.run_ddl(f"DELETE FROM {table} WHERE id IN ({listed})", "forgetting rows")
    return len(gone)


def _live_ids(warehouse: Warehouse, table: str) -> set:
    return {r["id"] for r in warehouse.query(f"SELECT id FROM {table} WHERE _deleted_at IS NULL")}


def test_full_refresh_brings_back_missed_rows_and_marks_the_gone(
    pulled: Warehouse, voucherify_admin, talon_one_admin
) -> None:
    warehouse = pulled
    missed = {
        table: _forget(warehouse, table, group)
        for table, group in (
            ("voucherify_customer_activities", "customer_id"),
            ("voucherify_loyalty_transactions", "campaign_id"),
            ("talon_one_loyalty_transactions", "program_id"),
        )
    }
    assert all(missed.values()), missed
    customer = warehouse.query("SELECT id FROM voucherify_customers ORDER BY id LIMIT 1")[0]["id"]
    ghost = {
        "id": "evcus_ghost",
        "customer_id": customer,
        "_raw": {},
        "_synced_at": datetime.now(UTC),
    }
    warehouse.write_batch("voucherify_customer_activities", ["id"], [ghost])
    deleted = voucherify_admin.post("/_sandbox/mutate", json={"delete_customers": 2}).json()
    before = {table: len(_live_ids(warehouse, table)) for table in missed}

    for platform in ("voucherify", "talon_one"):  # an incremental run does not see them
        assert run.execute_pull(platform).succeeded
    assert {table: len(_live_ids(warehouse, table)) for table in missed} == before

    outcomes = {p: run.execute_pull(p, full_refresh=True) for p in ("voucherify", "talon_one")}

    assert all(outcome.succeeded for outcome in outcomes.values())
    activities = {a["id"] for a in voucherify_admin.get("/_sandbox/truth/activities").json()}
    transactions = voucherify_admin.get("/_sandbox/truth/loyalty_transactions").json()
    entries = talon_one_admin.get("/_sandbox/truth/loyalty_transactions").json()
    live_activities = _live_ids(warehouse, "voucherify_customer_activities")
    assert live_activities == activities  # missed ones back; the ghost and the gone marked
    assert _live_ids(warehouse, "voucherify_loyalty_transactions") == {
        t["id"] for t in transactions
    }
    assert _live_ids(warehouse, "talon_one_loyalty_transactions") == {e["id"] for e in entries}
    gone = warehouse.query(
        "SELECT id FROM voucherify_customers WHERE _deleted_at IS NOT NULL ORDER BY id"
    )
    assert [row["id"] for row in gone] == sorted(deleted["deleted"])  # kept, marked
    marked = warehouse.query(
        "SELECT id FROM voucherify_customer_activities WHERE _deleted_at IS NOT NULL"
    )
    assert "evcus_ghost" in {row["id"] for row in marked}
    assert checks.voucherify_parity(voucherify_admin, warehouse).duplicated == 0
    assert checks.talon_one_parity(talon_one_admin, warehouse).clean
    summaries = {s.stream: s.metadata for o in outcomes.values() for s in o.summaries}
    assert "cursor_before" not in summaries["voucherify_customers"]  # its cursor was reset
    assert summaries["voucherify_customers"]["deleted"] == 2
    assert summaries["voucherify_customer_activities"]["entities"] == 18  # every live customer
