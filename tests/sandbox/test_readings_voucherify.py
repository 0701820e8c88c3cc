"""Each Voucherify reading the spec leaves open, switched at run time; every answer conforms."""

from __future__ import annotations

from typing import Any

import pytest
from promosync.sandbox.readings import hash_order

from tests.conftest import ApiSession
from tests.contract import assert_conforms
from tests.sandbox.test_voucherify_contract import wait_for_job

STORM_AT = "2027-03-01T10:00:00.123Z"
TEST_SEED = 7  # tests/conftest.py's TEST_SETTINGS


def configure(admin: ApiSession, **readings: str) -> None:
    """Switch readings (the next test's reset brings the launch settings back)."""
    response = admin.put("/_sandbox/config", json=readings)
    assert response.status_code == 200, response.text


def customers(session: ApiSession, **params: Any) -> dict[str, Any]:
    """One validated GET /v1/customers page."""
    return assert_conforms("voucherify", session.get("/v1/customers", params=params)).json()


def storm(admin: ApiSession, count: int) -> list[str]:
    """`count` customers sharing `updated_at` STORM_AT; their ids."""
    payload = {"tie_storm": {"count": count, "updated_at": STORM_AT}}
    return admin.post("/_sandbox/mutate", json=payload).json()["tie_storm"]["customers"]


def test_the_customers_envelope_without_has_more(voucherify, voucherify_admin):
    assert "has_more" in customers(voucherify, limit=5)
    configure(voucherify_admin, voucherify_customers_has_more="absent")
    page = customers(voucherify, limit=5)
    assert set(page) == {"object", "data_ref", "customers", "total"}
    assert len(page["customers"]) == 5 and page["total"] == 300


@pytest.mark.parametrize("bound", ["after", "before"])
def test_date_filters_inclusive_or_exclusive(voucherify, voucherify_admin, bound):
    tied = set(storm(voucherify_admin, 12))  # updated last, all at STORM_AT
    newest = customers(voucherify, order="-created_at", limit=1)["customers"][0]
    # Nearest the instant first: ascending after it, descending before it.
    order = "updated_at" if bound == "after" else "-updated_at"
    updated = {"order": order, "limit": 100, f"updated_at[{bound}]": STORM_AT}
    created = {"order": "-created_at", "limit": 100, f"created_at[{bound}]": newest["created_at"]}

    def listed(params: dict[str, Any]) -> set[str]:
        return {c["id"] for c in customers(voucherify, **params)["customers"]}

    assert not listed(updated) & tied and newest["id"] not in listed(created)
    configure(voucherify_admin, **{f"voucherify_{bound}_bound": "inclusive"})
    assert tied <= listed(updated) and newest["id"] in listed(created)


def test_total_counts_every_customer_rather_than_the_matching_ones(voucherify, voucherify_admin):
    storm(voucherify_admin, 30)
    window = {
        "updated_at[after]": "2027-03-01T10:00:00.122Z",
        "updated_at[before]": "2027-03-01T10:00:00.124Z",
        "limit": 20,
    }
    matching = customers(voucherify, **window)
    assert matching["total"] == 30 and matching["has_more"] is True
    configure(voucherify_admin, voucherify_customers_total="all")
    everyone = customers(voucherify, **window)
    assert everyone["total"] == 300
    assert everyone["customers"] == matching["customers"] and everyone["has_more"] is True
    last = customers(voucherify, **window, page=2)
    assert len(last["customers"]) == 10 and last["has_more"] is False


def test_ties_in_a_stable_hash_order(voucherify, voucherify_admin):
    tied = storm(voucherify_admin, 30)
    window = {
        "order": "updated_at",
        "updated_at[after]": "2027-03-01T10:00:00.122Z",
        "updated_at[before]": "2027-03-01T10:00:00.124Z",
    }

    def paged() -> list[str]:
        pages = [
            customers(voucherify, **window, limit=8, page=n)["customers"] for n in (1, 2, 3, 4)
        ]
        return [c["id"] for page in pages for c in page]

    assert paged() == sorted(tied)
    configure(voucherify_admin, voucherify_customers_tie_order="hash")
    by_hash = sorted(tied, key=lambda customer_id: hash_order(TEST_SEED, customer_id))
    assert by_hash != sorted(tied)
    assert paged() == by_hash == paged()
    descending = customers(voucherify, **{**window, "order": "-updated_at"}, limit=100)
    assert [c["id"] for c in descending["customers"]] == by_hash[::-1]


def test_default_orders_of_activity_and_loyalty_transactions(voucherify, voucherify_admin):
    activity = voucherify_admin.get("/_sandbox/truth/activities").json()
    owner = max(
        {a["customer_id"] for a in activity},
        key=lambda c: sum(a["customer_id"] == c for a in activity),
    )
    url = f"/v1/customers/{owner}/activity"
    transactions = voucherify_admin.get("/_sandbox/truth/loyalty_transactions").json()
    ledger = f"/v1/loyalties/{transactions[0]['campaign_id']}/transactions"

    def firsts() -> tuple[list[str], list[str]]:
        events = assert_conforms("voucherify", voucherify.get(url, params={"limit": 5}))
        entries = assert_conforms("voucherify", voucherify.get(ledger, params={"limit": 5}))
        return [e["created_at"] for e in events.json()["data"]], [
            t["id"] for t in entries.json()["data"]
        ]

    events, entries = firsts()
    assert events == sorted(events, reverse=True) and entries == sorted(entries, reverse=True)
    configure(
        voucherify_admin,
        voucherify_activity_default_order="created_at",
        voucherify_loyalty_transactions_default_order="id",
    )
    events, entries = firsts()
    oldest = min(a["created_at"] for a in activity if a["customer_id"] == owner)
    assert events == sorted(events) and events[0] == oldest
    campaign = transactions[0]["campaign_id"]
    assert entries == sorted(t["id"] for t in transactions if t["campaign_id"] == campaign)[:5]


@pytest.mark.parametrize(
    ("reading", "status", "operation"),
    [
        ("failed", "FAILED", "FAILED"),
        ("done", "DONE", "SUCCESS"),
        ("done_operation_failed", "DONE", "FAILED"),
    ],
)
def test_an_async_action_in_which_every_row_failed(
    voucherify, voucherify_admin, reading, status, operation
):
    configure(voucherify_admin, voucherify_all_rows_failed=reading)
    bulk = voucherify.post("/v1/customers/bulk/async", json=[{"source_id": ""}, {"name": "x"}])
    csv = voucherify.post(
        "/v1/customers/importCSV", files={"file": ("c.csv", b"Source_id,Email\na,bad\nb,worse\n")}
    )
    for accepted, failures in ((bulk, "errors"), (csv, "failed")):
        job = wait_for_job(voucherify, accepted.json()["async_action_id"])
        assert (job["status"], job["operation_status"]) == (status, operation)
        assert job["result"]["done_count"] == 0 and job["result"]["failed_count"] == 2
        assert len(job["result"][failures]) == 2
    partly = voucherify.post("/v1/customers/bulk/async", json=[{"source_id": "ok"}, {"name": "x"}])
    job = wait_for_job(voucherify, partly.json()["async_action_id"])
    assert (job["status"], job["operation_status"]) == ("DONE", "SUCCESS")
    unreadable = voucherify.post("/v1/customers/importCSV", files={"file": ("c.csv", b"a,a\n")})
    job = wait_for_job(voucherify, unreadable.json()["async_action_id"])
    assert job["status"] == "FAILED"  # a file it cannot read at all fails in every reading


def test_async_actions_end_date_exclusive_or_inclusive(voucherify, voucherify_admin):
    posted = [
        voucherify.post("/v1/customers/bulk/async", json=[{"source_id": f"e-{n}"}]).json()
        for n in range(2)
    ]
    newest = voucherify.get("/v1/async-actions", params={"limit": 1}).json()["async_actions"][0]
    assert newest["id"] == posted[-1]["async_action_id"]

    def before_newest() -> list[str]:
        page = voucherify.get("/v1/async-actions", params={"end_date": newest["created_at"]})
        return [a["id"] for a in assert_conforms("voucherify", page).json()["async_actions"]]

    assert newest["id"] not in before_newest()
    configure(voucherify_admin, voucherify_async_actions_end_bound="inclusive")
    assert before_newest()[0] == newest["id"]
