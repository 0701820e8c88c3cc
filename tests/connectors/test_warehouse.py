"""Batches and cursors land together, on DuckDB and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from promosync.connectors.warehouse import Warehouse

TABLE_DDL = """
CREATE TABLE demo_rows (
    id VARCHAR PRIMARY KEY,
    updated_at TIMESTAMPTZ,
    amount DOUBLE PRECISION,
    metadata JSON,
    _raw JSON
)
"""


@pytest.fixture
def demo(warehouse):
    with warehouse.engine.begin() as conn:
        conn.exec_driver_sql(
            TABLE_DDL.replace("JSON", "JSONB") if warehouse.dialect == "postgresql" else TABLE_DDL
        )
    return warehouse


def _row(key: str, amount: float, metadata: dict) -> dict:
    return {
        "id": key,
        "updated_at": datetime(2025, 3, 1, 12, 0, 0, 123000, tzinfo=UTC),
        "amount": amount,
        "metadata": metadata,
        "_raw": {"id": key, "metadata": metadata, "unknown_field": [1, "two", None]},
    }


def test_batch_and_cursor_commit_together_and_count_inserts_and_updates(demo) -> None:
    nested = {"tier": "gold", "tags": ["a", "ż"], "n": 1.5, "flag": True, "none": None}
    first = demo.write_batch(
        "demo_rows", ["id"], [_row("a", 1, nested), _row("b", 2, {})], {("demo", ""): "c1"}
    )
    assert (first.inserted, first.updated) == (2, 0)
    second = demo.write_batch(
        "demo_rows", ["id"], [_row("b", 20, {"x": 1}), _row("c", 3, {})], {("demo", ""): "c2"}
    )
    assert (second.inserted, second.updated) == (1, 1)
    rows = {r["id"]: r for r in demo.query("SELECT id, amount, updated_at FROM demo_rows")}
    assert {k: r["amount"] for k, r in rows.items()} == {"a": 1, "b": 20, "c": 3}
    assert rows["a"]["updated_at"].astimezone(UTC) == datetime(2025, 3, 1, 12, 0, 0, 123000, UTC)
    assert demo.read_cursor("demo") == "c2"


def test_json_is_kept_whole(demo) -> None:
    nested = {"tier": "gold", "tags": ["a", "ż"], "deep": {"n": 1.5, "flag": True, "none": None}}
    demo.write_batch("demo_rows", ["id"], [_row("a", 1, nested)])
    (row,) = demo.query("SELECT CAST(metadata AS VARCHAR) AS m FROM demo_rows")
    assert json.loads(row["m"]) == nested


def test_duplicate_keys_in_one_batch_keep_the_last(demo) -> None:
    result = demo.write_batch("demo_rows", ["id"], [_row("a", 1, {}), _row("a", 2, {})])
    assert (result.inserted, result.updated) == (1, 0)
    assert demo.query("SELECT amount FROM demo_rows") == [{"amount": 2}]


def test_a_failed_batch_leaves_neither_rows_nor_cursor(demo) -> None:
    demo.write_batch("demo_rows", ["id"], [_row("a", 1, {})], {("demo", ""): "c1"})
    bad = _row("b", 2, {})
    bad["updated_at"] = "not a timestamp"
    with pytest.raises(Exception, match=r"(?i)timestamp|conver|invalid"):
        demo.write_batch("demo_rows", ["id"], [_row("c", 3, {}), bad], {("demo", ""): "c2"})
    assert [r["id"] for r in demo.query("SELECT id FROM demo_rows")] == ["a"]
    assert demo.read_cursor("demo") == "c1"


def test_per_entity_cursors(demo) -> None:
    demo.write_batch(
        "demo_rows", ["id"], [], {("acts", "cust_1"): "evt_9", ("acts", "cust_2"): None}
    )
    demo.write_batch("demo_rows", ["id"], [], {("acts", "cust_1"): "evt_12"})
    assert demo.read_cursors("acts") == {"cust_1": "evt_12", "cust_2": None}
    assert demo.read_cursor("other") is None


def test_replace_swaps_a_whole_set_atomically(demo) -> None:
    demo.write_batch("demo_rows", ["id"], [_row("a", 1, {}), _row("b", 2, {}), _row("c", 3, {})])
    demo.write_batch("demo_rows", ["id"], [_row("d", 4, {})], replace=("id", ["a", "b", "d"]))
    assert sorted(r["id"] for r in demo.query("SELECT id FROM demo_rows")) == ["c", "d"]


def test_mark_deleted_stamps_only_rows_missing_from_the_source(warehouse) -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    rows = [
        {"id": key, "_raw": {"id": key}, "_synced_at": now, "updated_at": now}
        for key in ("a", "b", "c")
    ]
    warehouse.write_batch("voucherify_customers", ["id"], rows)
    assert warehouse.mark_deleted("voucherify_customers", "id", ["a", "c"], now) == 1
    assert warehouse.mark_deleted("voucherify_customers", "id", ["a", "c"], now) == 0
    deleted = warehouse.query(
        "SELECT id FROM voucherify_customers WHERE _deleted_at IS NOT NULL ORDER BY id"
    )
    assert deleted == [{"id": "b"}]


def test_duckdb_checkpoints_late_and_keeps_to_a_memory_bound_unless_the_url_says_otherwise(
    tmp_path,
) -> None:
    settings = (
        "SELECT current_setting('checkpoint_threshold') AS checkpoint,"
        " current_setting('memory_limit') AS memory"
    )
    default = Warehouse(f"duckdb:///{tmp_path}/default.duckdb").query(settings)[0]
    assert default == {"checkpoint": "244.1 MiB", "memory": "244.1 MiB"}  # 256 MB each
    url = f"duckdb:///{tmp_path}/own.duckdb?memory_limit=1GB&checkpoint_threshold=16MB"
    assert Warehouse(url).query(settings)[0] == {"checkpoint": "15.2 MiB", "memory": "953.6 MiB"}
