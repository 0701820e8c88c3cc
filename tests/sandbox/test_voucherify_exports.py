"""Voucherify exports in the sandbox: lifecycle, filters, CSV files, loyalty exports, errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.export_contract import assert_export_answer, assert_export_error
from tests.sandbox.exports_client import (
    FAST,
    create,
    export_rows,
    files_of,
    finish,
    json_text,
)


def test_customer_export_runs_its_course_and_holds_every_customer(
    voucherify, voucherify_admin, fast_exports
):
    created = create(voucherify, {"exported_object": "customer"})
    assert created["status"] == "SCHEDULED" and created["result"] is None
    assert created["parameters"]["fields"] == ["name", "source_id"]  # the spec's defaults
    export, seen = finish(voucherify, created["id"])
    lifecycle = ("SCHEDULED", "IN_PROGRESS", "DONE")
    assert seen[-1] == "DONE" and seen == sorted(seen, key=lifecycle.index)
    assert "token=" in export["result"]["url"] and "urls" not in export["result"]
    (rows,) = files_of(voucherify, export)
    truth = voucherify_admin.get("/_sandbox/truth/customers").json()
    assert sorted(r["Source ID"] for r in rows) == sorted(c["source_id"] for c in truth)
    assert list(rows[0]) == ["Name", "Source ID"]


def test_an_export_holds_the_data_as_it_was_read_not_later_changes(
    voucherify, voucherify_admin, fast_exports
):
    fields = {"fields": ["id", "name", "updated_at"]}
    export, _ = finish(
        voucherify, create(voucherify, {"exported_object": "customer", "parameters": fields})["id"]
    )
    target = voucherify_admin.get("/_sandbox/truth/customers").json()[0]
    voucherify_admin.post(
        "/_sandbox/mutate", json={"update_customers": [{"id": target["id"], "name": "Later"}]}
    ).raise_for_status()
    (rows,) = files_of(voucherify, export)
    row = next(r for r in rows if r["ID"] == target["id"])
    assert row["Name"] == (target["name"] or "") and row["Updated At"] == target["updated_at"]


def _window(after: str | None = None, before: str | None = None, is_: str | None = None) -> dict:
    conditions = {}
    for operator, value in (("$after", after), ("$before", before), ("$is", is_)):
        if value is not None:
            conditions[operator] = [value]
    return {"conditions": conditions}


@pytest.mark.parametrize("bounds", ["exclusive", "inclusive"])
def test_updated_at_filters_select_a_window_with_the_configured_bounds(
    voucherify, voucherify_admin, configure, bounds
):
    configure(**FAST, voucherify_export_bounds=bounds)
    truth = voucherify_admin.get("/_sandbox/truth/customers").json()
    instants = sorted({c["updated_at"] for c in truth})
    low, high = instants[50], instants[120]
    body = {
        "exported_object": "customer",
        "parameters": {
            "fields": ["id", "updated_at"],
            "order": "updated_at",
            "filters": {"junction": "and", "updated_at": _window(after=low, before=high)},
        },
    }
    rows = export_rows(voucherify, body)
    inclusive = bounds == "inclusive"
    expected = [
        c
        for c in truth
        if (low <= c["updated_at"] <= high if inclusive else low < c["updated_at"] < high)
    ]
    assert sorted(r["ID"] for r in rows) == sorted(c["id"] for c in expected)
    assert [r["Updated At"] for r in rows] == sorted(r["Updated At"] for r in rows)


def test_a_tie_group_is_exported_whole_by_its_instant(voucherify, voucherify_admin, fast_exports):
    instant = "2025-06-01T10:00:00.123Z"
    storm = voucherify_admin.post(
        "/_sandbox/mutate", json={"tie_storm": {"count": 150, "updated_at": instant}}
    ).json()["tie_storm"]
    body = {
        "exported_object": "customer",
        "parameters": {"fields": ["id"], "filters": {"updated_at": _window(is_=instant)}},
    }
    assert sorted(r["ID"] for r in export_rows(voucherify, body)) == sorted(storm["customers"])


def test_junction_or_and_field_conditions(voucherify, voucherify_admin, fast_exports):
    truth = voucherify_admin.get("/_sandbox/truth/customers").json()
    oldest = sorted(c["created_at"] for c in truth)[10]
    filters = {
        "junction": "or",
        "created_at": _window(before=oldest),
        "metadata.tier": {"conditions": {"$in": ["złoty"]}},
    }
    body = {"exported_object": "customer", "parameters": {"fields": ["id"], "filters": filters}}
    expected = {
        c["id"] for c in truth if c["created_at"] < oldest or c["metadata"].get("tier") == "złoty"
    }
    assert {r["ID"] for r in export_rows(voucherify, body)} == expected


def _reference_cells(customer: dict[str, Any]) -> dict[str, str]:
    """What each column should hold for this customer, written out independently."""

    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else json_text(value)

    address = customer["address"] or {}
    summary = customer["summary"]
    cells = {
        "ID": customer["id"],
        "Email": text(customer["email"]),
        "Description": text(customer["description"]),
        "Address City": text(address.get("city")),
        "Address Line 2": text(address.get("line_2")),
        "Redemptions Total Failed": str(summary["redemptions"]["total_failed"]),
        "Orders Total Amount": str(summary["orders"]["total_amount"]),
        "Orders Last Order Date": text(summary["orders"]["last_order_date"]),
        "Loyalty Points": str(customer["loyalty"]["points"]),
        "Birthdate": text(customer["birthdate"]),
        "Created At": customer["created_at"],
    }
    for key in ("tier", "newsletter", "lifetime_value", "visits", "tags", "preferences"):
        cells[f"metadata.{key}"] = text(customer["metadata"].get(key))
    return cells


def test_csv_columns_hold_each_field_as_the_docs_describe(
    voucherify, voucherify_admin, fast_exports
):
    voucherify_admin.post("/_sandbox/mutate", json={"update_customers": 5}).raise_for_status()
    fields = [
        "id", "email", "description", "address_city", "address_line_2",
        "redemptions_total_failed", "orders_total_amount", "orders_last_order_date",
        "loyalty_points", "birthdate", "created_at", "metadata",
    ]  # fmt: skip
    rows = export_rows(
        voucherify, {"exported_object": "customer", "parameters": {"fields": fields}}
    )
    truth = {c["id"]: c for c in voucherify_admin.get("/_sandbox/truth/customers").json()}
    assert len(rows) == len(truth)
    assert "metadata.sandbox_revision" not in rows[0]  # not in the project's metadata schema
    for row in rows:
        expected = _reference_cells(truth[row["ID"]])
        assert {k: row[k] for k in expected} == expected
    multiline = [r for r in rows if "\n" in r["Description"]]
    assert multiline, "a description with a line break must survive the CSV quoting"


def test_field_headers_and_metadata_as_json_when_so_configured(
    voucherify, voucherify_admin, configure
):
    configure(**FAST, voucherify_export_headers="fields", voucherify_export_metadata="json")
    changed = voucherify_admin.post("/_sandbox/mutate", json={"update_customers": 3}).json()
    body = {"exported_object": "customer", "parameters": {"fields": ["id", "metadata"]}}
    rows = export_rows(voucherify, body)
    assert list(rows[0]) == ["id", "metadata"]
    truth = {c["id"]: c for c in voucherify_admin.get("/_sandbox/truth/customers").json()}
    for row in rows:
        metadata = truth[row["id"]]["metadata"]
        assert row["metadata"] == (json_text(metadata) if metadata else "")
    assert all(
        "sandbox_revision" in next(r for r in rows if r["id"] == i)["metadata"]
        for i in changed["updated"]
    )


def test_a_large_export_is_split_into_several_files(voucherify, voucherify_admin, configure):
    configure(**FAST, voucherify_export_rows_per_file=70)
    body = {"exported_object": "customer", "parameters": {"fields": ["id"], "order": "id"}}
    export, _ = finish(voucherify, create(voucherify, body)["id"])
    files = files_of(voucherify, export)
    assert [len(f) for f in files] == [70, 70, 70, 70, 20]
    ids = [row["ID"] for rows in files for row in rows]
    truth = voucherify_admin.get("/_sandbox/truth/customers").json()
    assert ids == sorted(c["id"] for c in truth)


def test_voucher_transactions_export_matches_the_loyalty_ledger(
    voucherify, voucherify_admin, fast_exports
):
    truth = voucherify_admin.get("/_sandbox/truth/loyalty_transactions").json()
    campaign = truth[0]["campaign_id"]
    fields = [
        "id",
        "campaign_id",
        "voucher_id",
        "type",
        "amount",
        "balance",
        "details",
        "created_at",
    ]
    filters = {"campaign_id": {"conditions": {"$in": [campaign]}}}
    body = {
        "exported_object": "voucher_transactions",
        "parameters": {"fields": fields, "order": "created_at", "filters": filters},
    }
    rows = export_rows(voucherify, body)
    expected = sorted(
        (t for t in truth if t["campaign_id"] == campaign), key=lambda t: (t["created_at"], t["id"])
    )
    assert [r["ID"] for r in rows] == [t["id"] for t in expected]
    for row, tx in zip(rows, expected, strict=True):
        assert row["Amount"] == str(tx["details"]["balance"]["points"])
        assert row["Balance"] == str(tx["details"]["balance"]["balance"])
        assert row["Details"] == json_text(tx["details"])


def test_loyalty_campaign_and_card_exports(voucherify, voucherify_admin, fast_exports):
    truth = voucherify_admin.get("/_sandbox/truth/loyalty_transactions").json()
    campaign = voucherify.get("/v1/loyalties").json()["campaigns"][1]
    response = voucherify.post(
        f"/v1/loyalties/{campaign['name']}/transactions/export",
        json={
            "parameters": {
                "fields": ["id", "amount"],
                "filters": {"created_at": {"conditions": {"$after": "2020-01-01T00:00:00Z"}}},
            }
        },
    )
    created = assert_export_answer(response, "CampaignsTransactionsExportCreateResponseBody")
    assert created["parameters"]["filters"]["campaign_id"] == {
        "conditions": {"$in": [campaign["id"]]}
    }
    export, _ = finish(voucherify, created["id"])
    rows = [r for f in files_of(voucherify, export) for r in f]
    assert {r["ID"] for r in rows} == {t["id"] for t in truth if t["campaign_id"] == campaign["id"]}

    card = truth[-1]["member_id"]
    response = voucherify.post(f"/v1/loyalties/members/{card}/transactions/export")  # no body
    created = assert_export_answer(response, "LoyaltiesMembersTransactionsExportCreateResponseBody")
    assert created["parameters"]["filters"] == {"voucher_id": {"conditions": {"$in": [card]}}}
    export, _ = finish(voucherify, created["id"])
    rows = [r for f in files_of(voucherify, export) for r in f]
    assert {r["ID"] for r in rows} == {t["id"] for t in truth if t["member_id"] == card}

    campaign_fields = {"parameters": {"fields": ["id", "campaign_id"]}}
    refused = voucherify.post(
        f"/v1/loyalties/{campaign['id']}/transactions/export", json=campaign_fields
    )
    assert_export_error(refused, 400, "invalid_export_fields")
    assert_export_error(
        voucherify.post("/v1/loyalties/camp_nope/transactions/export"), 404, "not_found"
    )
    assert_export_error(
        voucherify.post("/v1/loyalties/members/NOPE/transactions/export"), 404, "not_found"
    )


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"exported_object": "coupon"}, "invalid_payload"),
        ({"exported_object": "voucher"}, "invalid_payload"),  # valid, but not simulated
        (
            {"exported_object": "customer", "parameters": {"fields": ["id", "summary"]}},
            "invalid_export_fields",
        ),
        (
            {"exported_object": "customer", "parameters": {"order": "-loyalty_points"}},
            "invalid_payload",
        ),
        (
            {"exported_object": "customer", "parameters": {"filters": {"junction": "xor"}}},
            "invalid_payload",
        ),
        (
            {
                "exported_object": "customer",
                "parameters": {"filters": {"updated_at": {"conditions": {"$after": "2025-01-01"}}}},
            },
            "invalid_payload",
        ),
        (
            {
                "exported_object": "customer",
                "parameters": {"filters": {"updated_at": {"conditions": {"$after": ["soon"]}}}},
            },
            "invalid_payload",
        ),
        (
            {
                "exported_object": "customer",
                "parameters": {"filters": {"favourite_colour": {"conditions": {"$is": ["red"]}}}},
            },
            "invalid_payload",
        ),
        (
            {"exported_object": "voucher_transactions", "parameters": {"fields": ["points"]}},
            "invalid_export_fields",
        ),
        (["not", "an", "object"], "invalid_payload"),
    ],
)
def test_bad_export_requests_are_refused_with_the_spec_error(voucherify, body, key):
    assert_export_error(voucherify.post("/v1/exports", json=body), 400, key)
