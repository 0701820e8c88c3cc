"""Bad input catalogue, push queries: SQL text that looks like bind parameters, queries that fail,
change data, or return the wrong columns or values JSON cannot carry; on DuckDB and PostgreSQL.
Each case checks the run's outcome and message, what arrived, and that the warehouse's input
rows are still there."""

from __future__ import annotations

import shutil

import pytest
from promosync.connectors.http import ConfigError
from promosync.connectors.push import rows
from promosync.connectors.voucherify import push

from tests.connectors.test_push_voucherify import insert, posts
from tests.reliability.test_bad_input import voucherify_on

LITERALS = """-- the rows for :tomorrow, 50% off? (a comment with :words, % and ?)
SELECT 'src-:colon' AS source_id, '{"note": "at :noon, 100% sure?"}' AS metadata
UNION ALL
SELECT 'src-%(x)s $1', CAST('{"note": "::text and %s"}' AS VARCHAR) /* :block :comment */
UNION ALL
SELECT 'src-cast', '{"n": 1}'::VARCHAR;
"""
EXPECTED = {
    "src-:colon": {"note": "at :noon, 100% sure?"},
    "src-%(x)s $1": {"note": "::text and %s"},
    "src-cast": {"n": 1},
}


@pytest.fixture
def queries(tmp_path, monkeypatch):
    """A sql/push folder of the test's own (the shipped queries copied in); write(name, sql)."""
    folder = tmp_path / "push_sql"
    shutil.copytree(rows.PUSH_SQL_DIR, folder)
    monkeypatch.setattr(rows, "PUSH_SQL_DIR", folder)

    def write(name: str, sql: str) -> str:
        (folder / f"{name}.sql").write_text(sql, encoding="utf-8")
        return name

    return write


@pytest.fixture
def filled(warehouse):
    """Two rows in the metadata input table, which no push query may change."""
    insert(warehouse, "push_voucherify_metadata",
           [{"source_id": f"kept-{n}", "metadata": '{"n": 1}'} for n in (1, 2)])  # fmt: skip
    return warehouse


def _input_rows(warehouse) -> int:
    return warehouse.query("SELECT count(*) AS n FROM push_voucherify_metadata")[0]["n"]


@pytest.fixture
def fast(voucherify_admin) -> None:
    voucherify_admin.put("/_sandbox/config", json={"async_action_seconds": 0.05}).raise_for_status()


def test_colons_percents_and_question_marks_in_literals_and_comments_stay_text(
    sandbox, voucherify_admin, filled, queries, fast
) -> None:
    report = push.push(voucherify_on(sandbox), filled, "metadata", query=queries("lit", LITERALS))
    assert (report.outcome, report.rows_sent, report.error) == ("succeeded", 3, None)
    truth = {c["source_id"]: c for c in voucherify_admin.get("/_sandbox/truth/customers").json()}
    assert {key: truth[key]["metadata"] for key in EXPECTED} == EXPECTED


BROKEN = [
    pytest.param(
        "SELECT source_id, metadata FROM no_such_table",
        {"duckdb": "Catalog Error: Table with name no_such_table does not exist!",
         "postgresql": 'relation "no_such_table" does not exist'},
        id="missing-table",
    ),
    pytest.param(
        "SELEKT 1",
        {"duckdb": 'Parser Error: syntax error at or near "SELEKT" (a push query is one SELECT'
                   " statement)",
         "postgresql": 'syntax error at or near "SELEKT" (a push query is one SELECT statement)'},
        id="syntax-error",
    ),
    pytest.param(
        "SELECT 1 AS id, '{}' AS metadata",
        "returns no source_id column (it returns id, metadata); fix sql/push/q.sql",
        id="no-key-column",
    ),
    pytest.param(
        "SELECT 'a' AS source_id, 'b' AS Source_ID, '{}' AS metadata",
        "returns the column source_id more than once; fix sql/push/q.sql",
        id="repeated-column",
    ),
    pytest.param(
        "DELETE FROM push_voucherify_metadata",
        {"duckdb": "holds DELETE: a push query is one SELECT statement",
         "postgresql": 'syntax error at or near "DELETE" (a push query is one SELECT statement)'},
        id="delete",
    ),
    pytest.param(
        "SELECT source_id, metadata FROM push_voucherify_metadata; DELETE FROM"
        " push_voucherify_metadata",
        {"duckdb": "holds SELECT, DELETE: a push query is one SELECT statement",
         "postgresql": "cannot insert multiple commands into a prepared statement"},
        id="select-then-delete",
    ),
    pytest.param(
        "DROP TABLE push_voucherify_metadata",
        {"duckdb": "holds DROP: a push query is one SELECT statement",
         "postgresql": 'syntax error at or near "DROP" (a push query is one SELECT statement)'},
        id="drop-table",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("sql", "reason"), BROKEN)
def test_a_query_that_fails_or_is_no_select_fails_the_run_and_changes_nothing(
    sandbox, voucherify_admin, filled, queries, sql, reason
) -> None:
    if isinstance(reason, dict):
        reason = reason[filled.dialect]
    report = push.push(voucherify_on(sandbox), filled, "metadata", query=queries("q", sql))
    assert report.outcome == "failed"
    assert report.error.startswith("the push query q ") and reason in report.error, report.error
    assert report.error.endswith("; fix sql/push/q.sql")
    assert (report.rows_considered, report.rows_sent) == (0, 0)
    assert posts(voucherify_admin) == {}
    assert _input_rows(filled) == 2  # rolled back, or refused by a read-only transaction
    (run,) = filled.query("SELECT outcome, error FROM push_runs")
    assert (run["outcome"], run["error"]) == ("failed", report.error)


VALUES = [
    pytest.param(
        "CAST(12345678901234567890123 AS DECIMAL(38, 0))",
        "a value cannot be sent as JSON: Integer exceeds 64-bit range",
        id="beyond-int64",
    ),
    pytest.param(
        {"duckdb": "CAST('abc' AS BLOB)", "postgresql": "CAST('abc' AS BYTEA)"},
        "a value cannot be sent as JSON: Type is not JSON serializable: bytes",
        id="binary",
    ),
]


@pytest.mark.parametrize(("expression", "reason"), VALUES)
def test_a_value_json_cannot_carry_rejects_its_row_and_the_other_arrives(
    sandbox, voucherify_admin, warehouse, queries, fast, expression, reason
) -> None:
    if isinstance(expression, dict):
        expression = expression[warehouse.dialect]
    sql = (
        f"SELECT 'bad-1' AS source_id, 1 AS score, {expression} AS extra"
        " UNION ALL SELECT 'good-1', 7, NULL"  # a NULL column is no metadata key
    )
    report = push.push(voucherify_on(sandbox), warehouse, "metadata", query=queries("v", sql))
    assert (report.outcome, report.rows_sent, report.rows_invalid) == ("partial", 1, 1)
    (problem,) = report.problems
    assert (problem.number, problem.key) == (1, "bad-1") and problem.reason.startswith(reason)
    truth = {c["source_id"]: c for c in voucherify_admin.get("/_sandbox/truth/customers").json()}
    assert truth["good-1"]["metadata"] == {"score": 7} and "bad-1" not in truth


def test_a_null_or_blank_key_from_a_query_is_refused(
    sandbox, voucherify_admin, warehouse, queries, fast
) -> None:
    sql = (
        "SELECT CAST(NULL AS VARCHAR) AS source_id, '{\"a\": 1}' AS metadata"
        " UNION ALL SELECT '   ', '{\"a\": 2}' UNION ALL SELECT ' trimmed ', '{\"a\": 3}'"
    )
    report = push.push(voucherify_on(sandbox), warehouse, "metadata", query=queries("k", sql))
    assert sorted(p.reason for p in report.problems) == ["source_id is missing"] * 2
    assert (report.outcome, report.rows_sent) == ("partial", 1)
    truth = {c["source_id"] for c in voucherify_admin.get("/_sandbox/truth/customers").json()}
    assert "trimmed" in truth and " trimmed " not in truth


@pytest.mark.parametrize("name", ["../tables/10_voucherify", "Voucherify_Metadata", "x y", "nope"])
def test_a_query_name_outside_sql_push_is_refused_before_anything_runs(
    sandbox, warehouse, name
) -> None:
    with pytest.raises(ConfigError) as refused:
        push.push(voucherify_on(sandbox), warehouse, "metadata", query=name)
    assert str(refused.value) == (
        f"no push query {name!r} in sql/push/; available: talon_one_audiences,"
        " talon_one_profiles, voucherify_customers, voucherify_metadata"
    )
    assert warehouse.query("SELECT count(*) AS n FROM push_runs")[0]["n"] == 0


def test_the_dry_run_of_a_query_with_literals_sends_nothing(sandbox, warehouse, queries) -> None:
    report = push.push(
        voucherify_on(sandbox), warehouse, "metadata", query=queries("lit", LITERALS),
        dry_run=True,
    )  # fmt: skip
    assert report.outcome == "dry_run" and report.rows_considered == 3
    assert report.batches[0].startswith("batch 1: POST /v1/customers/bulk/async — 3 rows")
    assert report.batches[0].endswith(" — src-:colon, src-%(x)s $1, src-cast")
