"""Bad input catalogue, push side: CSV files that are not UTF-8 or not CSV, Unicode everywhere,
metadata keys that look like SQL, huge metadata; each also read back through the pull."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
import pytest
from promosync.connectors.push.batching import MAX_BODY_BYTES
from promosync.connectors.talon_one import push as talon_one_push
from promosync.connectors.talon_one import snapshots
from promosync.connectors.voucherify import push, sync
from promosync.connectors.warehouse import Warehouse

from tests.reliability.test_bad_input import contents, talon_one_on, voucherify_on
from tests.reliability.test_bad_input_config import _env, promosync

NAME = "Zoë Ångström-Núñez 李小龍 🧑🏽‍💻 שלום עליכם مرحبا"
UNICODE_METADATA = {
    "名前": "値 🎌",
    "ключ": "значение",
    "emoji 👩‍👩‍👧": "🏳️‍🌈",
    "rtl": "\u202b\u05e2\u05d1\u05e8\u05d9\u05ea \u05d5\u05e2\u05e8\u05d1\u05d9\u05ea\u202c",
    "combining": "e\u0301 ≠ é",
}
SQL_METADATA = {
    "select": "from",
    "drop table voucherify_customers; --": "1",
    'it\'s "quoted"': 'o\'clock "sharp"',
    ":param": "%(value)s ? $1",
    "back\\slash": "tab\there",
}


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def stored_columns(store: Warehouse) -> list[str]:
    """The columns of push_runs in `contents` order."""
    return store.columns("push_runs")


def _posts(admin) -> int:
    stats = admin.get("/_sandbox/stats").json()["routes"]
    return sum(route["count"] for route in stats if route["method"] in ("POST", "PUT"))


@pytest.fixture
def fast_actions(voucherify_admin) -> None:
    """Async actions that end in 50 ms (the session's sandbox is reset before each test)."""
    voucherify_admin.put("/_sandbox/config", json={"async_action_seconds": 0.05}).raise_for_status()


@pytest.fixture
def cli_warehouse(tmp_path) -> str:
    return f"duckdb:///{tmp_path / 'push.duckdb'}"


def _pulled(sandbox, warehouse: Warehouse, source_ids: list[str]) -> dict[str, dict]:
    """Pull every customer; the rows of `source_ids`, once each, beside the 300 generated."""
    sync.sync_customers(voucherify_on(sandbox), warehouse, full_refresh=True)
    rows = warehouse.query("SELECT id, source_id, name, metadata, _raw FROM voucherify_customers")
    assert len({row["id"] for row in rows}) == len(rows) == 300 + len(source_ids)
    return {row["source_id"]: row for row in rows if row["source_id"] in source_ids}


# --- files that are not UTF-8 CSV -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            "source_id,email\nu-1,a@example.com\n".encode("utf-16"),
            "the file is UTF-16 (it starts with a UTF-16 byte order mark); save it as CSV UTF-8",
        ),
        (
            b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml",
            "the file is a ZIP archive (an Excel workbook?), not CSV; export it as CSV UTF-8",
        ),
        (
            b'source_id,name\nu-1,"Ann\nu-2,Bob\nu-3,Cid\n',
            "the file is not valid CSV from line 2: unexpected end of data (a quote left open, or"
            " a quote inside a quoted cell not doubled); nothing in it was sent",
        ),
        (
            b'source_id,name\nu-1,Ann\nu-2,"Bob" Jr\n',
            "the file is not valid CSV from line 3: ',' expected after '\"' (a quote left open,"
            " or a quote inside a quoted cell not doubled); nothing in it was sent",
        ),
    ],
    ids=["utf-16", "xlsx", "unclosed-quote", "stray-quote"],
)
def test_unreadable_file_fails_the_push_and_sends_nothing(
    sandbox, voucherify_admin, tmp_path, cli_warehouse, data, reason
):
    upload = tmp_path / "customers.csv"
    upload.write_bytes(data)
    code, output = promosync(
        _env(sandbox, cli_warehouse), "push", "customers", "--file", str(upload)
    )
    assert code == 1
    assert output.startswith(f"error: {reason} ")  # the answer comes first, once
    assert output.count(reason) == 1
    assert "customers: failed — considered 0, invalid 0, unchanged 0, sent 0" in output
    assert _posts(voucherify_admin) == 0
    store = Warehouse(cli_warehouse)
    stored = contents(store)
    assert stored["push_hashes"] == stored["push_row_results"] == []
    assert [run[stored_columns(store).index("error")] for run in stored["push_runs"]] == [reason]
    store.dispose()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            b"u-2,caf\xe9@example.com",
            "not valid UTF-8: byte 0xe9 in column 2; save the file as UTF-8",
        ),
        (b"u-2\x00,b@example.com", "a NUL byte in column 1: is the file binary, or UTF-16?"),
        (b"u-2,b@example.com,extra", "row has 3 cells, the header has 2"),
    ],
    ids=["latin-1", "nul-byte", "ragged"],
)
def test_bad_row_is_refused_with_its_reason_and_the_others_arrive(
    sandbox, voucherify_admin, tmp_path, cli_warehouse, fast_actions, line, reason
):
    upload = tmp_path / "customers.csv"
    upload.write_bytes(b"source_id,email\nu-1,a@example.com\n" + line + b"\nu-3,c@example.com\n")
    code, output = promosync(
        _env(sandbox, cli_warehouse), "push", "customers", "--file", str(upload)
    )
    assert code == 0
    assert f"row 2 (-): invalid: {reason}" in output
    assert "customers: partial — considered 3, invalid 1, unchanged 0, sent 2, failed 1" in output
    truth = {c["source_id"] for c in voucherify_admin.get("/_sandbox/truth/customers").json()}
    assert {"u-1", "u-3"} <= truth and not any(key.startswith("u-2") for key in truth)


def test_semicolon_separated_file_is_told_to_use_commas(
    sandbox, voucherify_admin, tmp_path, cli_warehouse
):
    upload = tmp_path / "customers.csv"
    upload.write_text("source_id;email\nu-1;secret-9f3a@example.com\n", encoding="utf-8")
    code, output = promosync(
        _env(sandbox, cli_warehouse), "push", "customers", "--file", str(upload)
    )
    assert code == 1
    assert output.startswith(
        "error: the file has no header row naming source_id (its columns are separated by ';':"
        " separate them with commas); is it the CSV file of this push? Nothing in it was sent "
    )
    assert "sent 0" in output and "secret-9f3a" not in output
    assert _posts(voucherify_admin) == 0
    store = Warehouse(cli_warehouse)
    assert contents(store)["push_hashes"] == contents(store)["push_row_results"] == []
    assert "secret-9f3a" not in str(contents(store))
    store.dispose()


def test_row_over_the_10_mb_body_limit_is_refused_alone(
    sandbox, cli_warehouse, tmp_path, fast_actions
):
    duck = Warehouse(cli_warehouse)
    duck.create_tables()
    upload = tmp_path / "metadata.csv"
    big = orjson.dumps({"blob": "x" * (MAX_BODY_BYTES + 10)}).decode()
    upload.write_bytes(
        _csv([["source_id", "metadata"], ["big-1", big], ["ok-1", '{"tier": "gold"}']])
    )
    report = push.push(voucherify_on(sandbox), duck, "metadata", file=str(upload))
    assert (report.outcome, report.rows_sent, report.rows_failed) == ("partial", 1, 1)
    (problem,) = report.problems
    assert problem.key == "big-1"
    assert problem.reason.startswith("the row alone is ") and problem.reason.endswith(
        f" bytes, over the {MAX_BODY_BYTES:,}-byte limit"
    )
    assert [row[2] for row in contents(duck)["push_hashes"]] == ["ok-1"]
    duck.dispose()


# --- Unicode, SQL-looking keys and huge metadata, there and back --------------------------------


@pytest.mark.parametrize("operation", ["customers", "csv_import"])
def test_unicode_everywhere_round_trips_through_push_and_pull(
    sandbox, warehouse, voucherify_admin, tmp_path, fast_actions, operation
):
    keys = list(UNICODE_METADATA)
    upload = tmp_path / "unicode.csv"
    upload.write_bytes(
        _csv(
            [
                ["source_id", "name", *keys],
                ["ünï-1 🙂", NAME, *UNICODE_METADATA.values()],
                ["ascii-2", "plain", *UNICODE_METADATA.values()],
            ]
        )
    )
    report = push.push(voucherify_on(sandbox), warehouse, operation, file=str(upload))
    assert (report.outcome, report.rows_sent) == ("succeeded", 2), report.problems
    truth = {c["source_id"]: c for c in voucherify_admin.get("/_sandbox/truth/customers").json()}
    assert truth["ünï-1 🙂"]["name"] == NAME
    assert truth["ünï-1 🙂"]["metadata"] == UNICODE_METADATA
    pulled = _pulled(sandbox, warehouse, ["ünï-1 🙂", "ascii-2"])
    assert pulled["ünï-1 🙂"]["name"] == NAME
    assert _json(pulled["ünï-1 🙂"]["metadata"]) == UNICODE_METADATA
    assert _json(pulled["ascii-2"]["_raw"])["metadata"] == UNICODE_METADATA


def test_unicode_talon_one_profiles_round_trip_through_push_and_pull(
    sandbox, warehouse, talon_one_admin, tmp_path
):
    attributes = {"Nickname": "李小龍 🐉", "שם": "דנה", "Note": NAME}
    upload = tmp_path / "profiles.csv"
    upload.write_bytes(
        _csv(
            [
                ["integration_id", "attributes"],
                ["ünï-🙂/1 ?#", orjson.dumps(attributes).decode()],
            ]
        )
    )
    t1 = talon_one_on(sandbox)
    report = talon_one_push.push_profiles(t1, warehouse, file=str(upload))
    assert (report.outcome, report.rows_sent) == ("succeeded", 1)
    profiles = {
        p["integrationId"]: p for p in talon_one_admin.get("/_sandbox/truth/profiles").json()
    }
    assert profiles["ünï-🙂/1 ?#"]["attributes"].items() >= attributes.items()
    snapshots.sync_profiles(t1, warehouse)
    (row,) = warehouse.query(
        "SELECT attributes FROM talon_one_customer_profiles WHERE integration_id = :i",
        {"i": "ünï-🙂/1 ?#"},
    )
    assert _json(row["attributes"]).items() >= attributes.items()


def test_metadata_keys_that_look_like_sql_are_kept_intact_both_ways(
    sandbox, warehouse, voucherify_admin, tmp_path, fast_actions
):
    upload = tmp_path / "metadata.csv"
    upload.write_bytes(
        _csv([["source_id", "metadata"], ["sql-1", orjson.dumps(SQL_METADATA).decode()]])
    )
    report = push.push(voucherify_on(sandbox), warehouse, "metadata", file=str(upload))
    assert (report.outcome, report.rows_sent) == ("succeeded", 1)
    truth = {c["source_id"]: c for c in voucherify_admin.get("/_sandbox/truth/customers").json()}
    assert truth["sql-1"]["metadata"] == SQL_METADATA
    pulled = _pulled(sandbox, warehouse, ["sql-1"])
    assert _json(pulled["sql-1"]["metadata"]) == SQL_METADATA
    assert _json(pulled["sql-1"]["_raw"])["metadata"] == SQL_METADATA


def test_one_megabyte_of_metadata_round_trips_through_push_and_pull(
    sandbox, warehouse, voucherify_admin, tmp_path, fast_actions
):
    huge = {"notes": "é" * 400_000 + "🙂" * 50_000, "tags": [f"t{i}" for i in range(20_000)]}
    upload = tmp_path / "metadata.csv"
    upload.write_bytes(_csv([["source_id", "metadata"], ["huge-1", orjson.dumps(huge).decode()]]))
    assert upload.stat().st_size > 1_000_000
    report = push.push(voucherify_on(sandbox), warehouse, "metadata", file=str(upload))
    assert (report.outcome, report.rows_sent) == ("succeeded", 1)
    pulled = _pulled(sandbox, warehouse, ["huge-1"])
    assert _json(pulled["huge-1"]["metadata"]) == huge
    again = push.push(voucherify_on(sandbox), warehouse, "metadata", file=str(upload))
    assert (again.rows_sent, again.rows_skipped) == (0, 1)  # unchanged: not sent twice
