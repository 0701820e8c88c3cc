"""Records a stream cannot read, offline: the reader's reject (key, field, reason, the record
whole), the writer that lands the rest of the batch with them, and the strict setting."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from promosync.connectors.batches import StreamWriter
from promosync.connectors.http import ConfigError
from promosync.connectors.readable import read_csv
from promosync.connectors.rejects import Reject, RejectedRecord, RowReader
from promosync.connectors.report import SyncReport
from promosync.connectors.talon_one.streams import BALANCES
from promosync.connectors.voucherify.streams import ACTIVITIES, CUSTOMERS

from tests.connectors.fakes import FakeWarehouse

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)
# The columns of voucherify_customers that can refuse a value, as the warehouse reports them.
CUSTOMER_COLUMNS = {
    "id": ("VARCHAR", False),
    "loyalty_points": ("BIGINT", True),
    "created_at": ("TIMESTAMP WITH TIME ZONE", True),
    "updated_at": ("timestamp with time zone", True),
    "_raw": ("jsonb", False),
}


def customer(**fields) -> dict:
    return {"id": "cust_1", "updated_at": "2026-01-01T00:00:00.000Z", **fields}


def read(record, stream=CUSTOMERS, columns=CUSTOMER_COLUMNS, fill=None):
    return RowReader(stream, columns).read(record, AT, fill)


@pytest.mark.parametrize(
    ("record", "field", "reason"),
    [
        (customer(created_at="yesterday"), "created_at", "is a str 'yesterday', not an ISO 8601"),
        (customer(updated_at="2026-02-30T00:00:00Z"), "updated_at", "not an ISO 8601 date-time"),
        (customer(updated_at=1767225600), "updated_at", "is a int 1767225600, not an ISO 8601"),
        (customer(loyalty="gold"), "loyalty", "is a str 'gold' where the spec has an object"),
        (customer(loyalty={"points": "12 points"}), "loyalty_points", "not an integer"),
        (customer(id=None), "id", "is null where a value is required"),
    ],
    ids=["date-time", "impossible-date", "epoch-number", "string-for-object", "number", "null"],
)
def test_an_unreadable_value_rejects_the_record_with_its_key_field_and_reason(
    record, field, reason
) -> None:
    reject = read(record)
    assert isinstance(reject, Reject)
    assert (reject.stream, reject.field) == ("voucherify_customers", field)
    assert reason in reject.reason
    assert reject.record == record  # whole, as the API sent it
    if record["id"] is not None:
        assert reject.key == "cust_1"


def test_a_record_without_its_primary_key_is_rejected_under_a_fingerprint() -> None:
    event = {"type": "customer.created", "created_at": "2026-01-01T00:00:00Z"}
    reject = read(event, ACTIVITIES, {}, fill={"customer_id": "cust_1"})
    assert (reject.field, reject.reason) == ("id", "is missing where a value is required")
    assert reject.key.startswith("sha256:") and reject.key == read(dict(event), ACTIVITIES, {}).key


def test_a_readable_record_becomes_its_row() -> None:
    row = read(customer(created_at="2025-12-31T23:59:59.5+01:00", loyalty={"points": 7}))
    assert row["id"] == "cust_1" and row["loyalty_points"] == 7


def test_csv_rows_with_a_field_too_many_or_too_few_are_rejected_alone() -> None:
    text = "profileIntegrationID,currentBalance\np-1,10\np-2,20,oops\np-3\np-4,40\n"
    records = read_csv(text)
    owned = [
        {**r, "_program_id": 1, "_owner_kind": "profile", "_owner_id": r["profileIntegrationID"],
         "_subledger_id": "", "_as_of": AT, "_source": "export"}
        for r in records
    ]  # fmt: skip
    read_all = [read(record, BALANCES, {}) for record in owned]
    assert [row["owner_id"] for row in read_all if not isinstance(row, Reject)] == ["p-1", "p-4"]
    extra, short = (r for r in read_all if isinstance(r, Reject))
    assert extra.field == "(extra fields)" and "1 more than its header: ['oops']" in extra.reason
    assert extra.key == '["1","profile","p-2","","2026-03-01"]'  # the row's own key
    assert extra.record == {"profileIntegrationID": "p-2", "currentBalance": "20",
                            "(extra fields)": ["oops"]}  # fmt: skip
    assert (short.field, short.record["currentBalance"]) == ("currentBalance", None)
    assert "1 fewer than its header" in short.reason


def test_the_writer_lands_the_rest_of_the_batch_with_its_rejects() -> None:
    warehouse, report = FakeWarehouse(), SyncReport(CUSTOMERS.name)
    writer = StreamWriter(CUSTOMERS, warehouse, report, AT)
    writer.reader = RowReader(CUSTOMERS, CUSTOMER_COLUMNS)
    good = [customer(id=f"cust_{n}") for n in range(3)]
    bad = customer(id="cust_x", created_at="soon")
    writer.commit(writer.rows([good[0], bad, good[1], bad, good[2]]), {"": "c1"})
    (batch,) = warehouse.batches
    assert [row["id"] for row in batch["rows"]] == ["cust_0", "cust_1", "cust_2"]
    assert batch["cursors"] == {"": "c1"}
    (table, key, rejects), *_ = batch["also"]  # in the same transaction
    assert (table, key) == ("sync_rejects", ("stream", "record_key"))
    assert {(r["record_key"], r["field"], r["resolved_at"]) for r in rejects} == {
        ("cust_x", "created_at", None)
    }
    assert report.rejected == 1  # the same record met twice counts once


def test_a_batch_landing_an_open_reject_key_resolves_it() -> None:
    class Held(FakeWarehouse):
        def query(self, sql, params=None):
            return [{"stream": CUSTOMERS.name, "record_key": "cust_1", "resolved_at": None}]

    warehouse = Held()
    writer = StreamWriter(CUSTOMERS, warehouse, SyncReport(CUSTOMERS.name), AT)
    writer.commit(writer.rows([customer(id="cust_2")]))
    assert "also" not in warehouse.batches[0]  # nothing resolved, nothing rejected
    writer.commit(writer.rows([customer(id="cust_1")]))
    (_, _, resolved), *_ = warehouse.batches[1]["also"]
    assert [(r["record_key"], r["resolution"]) for r in resolved] == [("cust_1", "read cleanly")]
    assert resolved[0]["resolved_at"] is not None


def test_a_strict_stream_stops_at_its_first_reject_and_keeps_it(monkeypatch) -> None:
    monkeypatch.setenv("PROMOSYNC_STRICT_STREAMS", "voucherify_customers, talon_one_loyalty_cards")
    warehouse = FakeWarehouse()
    writer = StreamWriter(CUSTOMERS, warehouse, SyncReport(CUSTOMERS.name), AT)
    writer.reader = RowReader(CUSTOMERS, CUSTOMER_COLUMNS)
    with pytest.raises(RejectedRecord) as stopped:
        writer.rows([customer(id="cust_0"), customer(created_at="soon")])
    assert str(stopped.value) == (
        "voucherify GET /v1/customers answered HTTP 200, but voucherify_customers record cust_1:"
        " created_at is a str 'soon', not an ISO 8601 date-time; nothing of its batch was written"
        " and the cursor did not move (voucherify_customers is strict: PROMOSYNC_STRICT_STREAMS)"
    )
    assert [b["rows"][0]["record_key"] for b in warehouse.batches] == ["cust_1"]  # kept alone


def test_a_strict_setting_naming_no_stream_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("PROMOSYNC_STRICT_STREAMS", "voucherify_customer")
    with pytest.raises(ConfigError, match="names voucherify_customer, not a stream; use `all`"):
        StreamWriter(CUSTOMERS, FakeWarehouse(), SyncReport(CUSTOMERS.name), AT)
    monkeypatch.setenv("PROMOSYNC_STRICT_STREAMS", "all")
    assert StreamWriter(ACTIVITIES, FakeWarehouse(), SyncReport(ACTIVITIES.name), AT).strict
