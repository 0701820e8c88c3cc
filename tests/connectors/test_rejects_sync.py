"""Malformed records through the pulls, against the sandbox (`PUT /_sandbox/malformed`): each is
rejected whole with its key, field and reason, the rest of its batch lands, the run reports the
count, the `rejects_resolved` finding fails until the key is read cleanly, and a strict stream
stops at the first one instead."""

from __future__ import annotations

import re
from datetime import timedelta

import orjson
import pytest
from promosync.connectors import reject_log
from promosync.connectors.rejects import RejectedRecord
from promosync.connectors.talon_one import balances, snapshots, transactions
from promosync.connectors.voucherify import sync

from tests.conftest import next_millisecond
from tests.reliability import runs


def malform(admin, *rules: dict) -> None:
    admin.put("/_sandbox/malformed", json=list(rules)).raise_for_status()


def rejects(warehouse, stream: str) -> list[dict]:
    rows = reject_log.listed(warehouse, stream, everything=True)
    return [{**row, "record": _json(row["record"])} for row in rows]


def _json(value):
    return orjson.loads(value) if isinstance(value, str) else value


def ids(warehouse, table: str) -> set:
    return {row["id"] for row in warehouse.query(f"SELECT id FROM {table}")}


def check(warehouse, stream: str):
    return reject_log.unresolved(warehouse, [stream])[0]


def test_a_customer_with_an_invalid_date_time_is_rejected_and_the_rest_land_until_it_is_fixed(
    sandbox, warehouse, voucherify_admin
) -> None:
    truth = {c["id"]: c for c in voucherify_admin.get("/_sandbox/truth/customers").json()}
    bad = sorted(truth)[7]
    malform(voucherify_admin, {"path": "^/v1/customers$", "where": {"id": bad},
                               "set": {"created_at": "2024-02-30T25:00:00Z"}})  # fmt: skip
    client = runs.voucherify(sandbox.voucherify_url)
    report = sync.sync_customers(client, warehouse)

    assert report.rejected == 1 and report.inserted == len(truth) - 1
    assert ids(warehouse, "voucherify_customers") == set(truth) - {bad}
    (reject,) = rejects(warehouse, "voucherify_customers")
    assert (reject["record_key"], reject["field"]) == (bad, "created_at")
    assert reject["reason"] == "is a str '2024-02-30T25:00:00Z', not an ISO 8601 date-time"
    assert reject["record"] == {**truth[bad], "created_at": "2024-02-30T25:00:00Z"}
    finding = check(warehouse, "voucherify_customers")
    assert not finding.passed and f"1 record(s) rejected and not resolved, e.g. {bad}" in (
        finding.summary
    )

    malform(voucherify_admin)  # the vendor fixes the record, and it changes again
    voucherify_admin.post("/_sandbox/mutate", json={"update_customers": [{"id": bad}]})
    next_millisecond()
    again = sync.sync_customers(client, warehouse)
    assert again.rejected == 0 and bad in ids(warehouse, "voucherify_customers")
    (reject,) = rejects(warehouse, "voucherify_customers")
    assert reject["resolution"] == "read cleanly" and reject["resolved_at"] is not None
    assert check(warehouse, "voucherify_customers").passed


def test_a_customer_whose_cursor_field_is_no_instant_is_rejected_and_the_walk_goes_on(
    sandbox, warehouse, voucherify_admin
) -> None:
    truth = voucherify_admin.get("/_sandbox/truth/customers").json()
    ordered = sorted(truth, key=lambda c: (c["updated_at"], c["id"]))
    bad = ordered[len(ordered) // 2]["id"]  # mid-walk, on the second page of three
    malform(voucherify_admin, {"path": "^/v1/customers$", "where": {"id": bad},
                               "set": {"updated_at": "not-a-date"}})  # fmt: skip
    report = sync.sync_customers(runs.voucherify(sandbox.voucherify_url), warehouse)
    assert ids(warehouse, "voucherify_customers") == {c["id"] for c in truth} - {bad}
    assert report.cursor_after == ordered[-1]["updated_at"]
    (reject,) = rejects(warehouse, "voucherify_customers")
    assert (reject["record_key"], reject["field"]) == (bad, "updated_at")


def test_an_activity_without_its_id_and_a_transaction_with_text_for_an_object_are_rejected(
    sandbox, warehouse, voucherify_admin
) -> None:
    events = voucherify_admin.get("/_sandbox/truth/activities").json()
    owner = max({e["customer_id"] for e in events}, key=lambda c: sum(
        e["customer_id"] == c for e in events))  # fmt: skip
    theirs = [e for e in events if e["customer_id"] == owner]
    keyless = theirs[len(theirs) // 2]["id"]
    entries = voucherify_admin.get("/_sandbox/truth/loyalty_transactions").json()
    textual = entries[3]["id"]
    malform(
        voucherify_admin,
        {"path": "/activity$", "where": {"id": keyless}, "drop": ["id"]},
        {"path": "/transactions$", "where": {"id": textual}, "set": {"details": "10 points"}},
    )
    client = runs.voucherify(sandbox.voucherify_url)
    sync.sync_customers(client, warehouse)
    activity = sync.sync_activities(client, warehouse)
    loyalty = sync.sync_loyalty_transactions(client, warehouse)

    assert activity.rejected == loyalty.rejected == 1
    assert ids(warehouse, "voucherify_customer_activities") == {e["id"] for e in events} - {keyless}
    (missing_id,) = rejects(warehouse, "voucherify_customer_activities")
    assert missing_id["record_key"].startswith("sha256:") and missing_id["field"] == "id"
    assert missing_id["reason"] == "is missing where a value is required"
    assert warehouse.read_cursor("voucherify_customer_activities", owner) == theirs[-1]["id"]
    assert ids(warehouse, "voucherify_loyalty_transactions") == {e["id"] for e in entries} - {
        textual
    }
    (text,) = rejects(warehouse, "voucherify_loyalty_transactions")
    assert (text["record_key"], text["field"]) == (textual, "details")
    assert text["reason"] == "is a str '10 points' where the spec has an object"


def test_talon_one_records_the_connector_cannot_read_are_rejected_in_every_stream(
    sandbox, warehouse, talon_one_admin
) -> None:
    programs = talon_one_admin.get("/_sandbox/truth/loyalty_programs").json()
    profile_program = next(p["id"] for p in programs if not p["cardBased"])
    entries = talon_one_admin.get("/_sandbox/truth/loyalty_transactions").json()
    owner = next(e["customerProfileId"] for e in entries if e["programId"] == profile_program)
    card = talon_one_admin.get("/_sandbox/truth/cards").json()[2]
    bad_entry = entries[5]["id"]
    malform(
        talon_one_admin,
        {"path": "/cards$", "where": {"id": card["id"]}, "set": {"identifier": None}},
        {"path": "/transactions$", "where": {"id": bad_entry}, "set": {"created": "yesterday"}},
        {"path": f"/{profile_program}/export_customer_balances$",
         "csv_contains": f",,{owner},", "csv_append": ",extra"},  # its main ledger's row
    )  # fmt: skip
    t1 = runs.talon_one(sandbox.talon_one_url)
    for step in (snapshots.sync_programs, snapshots.sync_profiles):
        step(t1, warehouse)
    cards = snapshots.sync_cards(t1, warehouse)
    entries_report = transactions.sync_transactions(t1, warehouse, lag=timedelta(0))
    exported = balances.sync_balances(t1, warehouse, mode="export")

    assert (cards.rejected, entries_report.rejected, exported.rejected) == (1, 1, 1)
    (null,) = rejects(warehouse, "talon_one_loyalty_cards")
    assert (null["record_key"], null["field"]) == (str(card["id"]), "identifier")
    assert null["reason"] == "is null where a value is required"
    assert str(card["id"]) not in {str(i) for i in ids(warehouse, "talon_one_loyalty_cards")}
    (dated,) = rejects(warehouse, "talon_one_loyalty_transactions")
    assert (dated["record_key"], dated["field"]) == (str(bad_entry), "created")
    assert ids(warehouse, "talon_one_loyalty_transactions") == {e["id"] for e in entries} - {
        bad_entry
    }
    (extra,) = rejects(warehouse, "talon_one_loyalty_balances")
    assert extra["field"] == "(extra fields)" and extra["record"]["(extra fields)"] == ["extra"]
    assert f'"{owner}"' in extra["record_key"]
    held = warehouse.query("SELECT owner_id, subledger_id FROM talon_one_loyalty_balances")
    assert (owner, "") not in {(row["owner_id"], row["subledger_id"]) for row in held}
    assert len(held) == len(talon_one_admin.get("/_sandbox/truth/balances").json()) - 1

    # The Integration API path: a tier given as its name where the spec has an object.
    malform(talon_one_admin, {"path": f"/{profile_program}/profile/{re.escape(owner)}/balances$",
                              "within": "balance", "set": {"currentTier": "bronze"}})  # fmt: skip
    by_entity = balances.sync_balances(t1, warehouse, mode="entity")
    assert by_entity.rejected == 1
    (tier,) = [r for r in rejects(warehouse, "talon_one_loyalty_balances") if r["field"] != extra[
        "field"]]  # fmt: skip
    assert tier["field"] == "currentTier"
    assert tier["reason"] == "is a str 'bronze' where the spec has an object"
    assert tier["record"]["currentTier"] == "bronze" and "_owner_id" not in tier["record"]


def test_a_strict_stream_fails_the_run_at_the_first_reject_and_moves_no_cursor(
    sandbox, warehouse, voucherify_admin, monkeypatch
) -> None:
    monkeypatch.setenv("PROMOSYNC_STRICT_STREAMS", "voucherify_customers")
    bad = voucherify_admin.get("/_sandbox/truth/customers").json()[3]["id"]
    malform(voucherify_admin, {"path": "^/v1/customers$", "where": {"id": bad},
                               "set": {"loyalty": "gold"}})  # fmt: skip
    with pytest.raises(RejectedRecord) as stopped:
        sync.sync_customers(runs.voucherify(sandbox.voucherify_url), warehouse)
    assert (
        f"voucherify_customers record {bad}: loyalty is a str 'gold' where the spec has an"
        " object; nothing of its batch was written and the cursor did not move"
        " (voucherify_customers is strict: PROMOSYNC_STRICT_STREAMS)"
    ) in str(stopped.value)
    assert warehouse.read_cursor("voucherify_customers") is None
    assert ids(warehouse, "voucherify_customers") == set()
    assert [r["record_key"] for r in rejects(warehouse, "voucherify_customers")] == [bad]


def test_a_full_refresh_never_marks_deleted_a_record_it_met_but_could_not_read(
    sandbox, warehouse, voucherify_admin
) -> None:
    client = runs.voucherify(sandbox.voucherify_url)
    sync.sync_customers(client, warehouse)
    sync.sync_loyalty_transactions(client, warehouse)
    entries = voucherify_admin.get("/_sandbox/truth/loyalty_transactions").json()
    textual = entries[3]["id"]
    malform(voucherify_admin, {"path": "/transactions$", "where": {"id": textual},
                               "set": {"details": "10 points"}})  # fmt: skip

    refreshed = sync.sync_loyalty_transactions(client, warehouse, full_refresh=True)

    assert (refreshed.rejected, refreshed.deleted) == (1, 0)
    live = warehouse.query(
        "SELECT id FROM voucherify_loyalty_transactions WHERE _deleted_at IS NULL"
    )
    assert {row["id"] for row in live} == {e["id"] for e in entries}  # the source still has it
    (reject,) = rejects(warehouse, "voucherify_loyalty_transactions")
    assert (reject["record_key"], reject["resolved_at"]) == (textual, None)
