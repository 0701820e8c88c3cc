"""The Voucherify push under the readings its spec leaves open: how an async action in which
every row failed ends (`voucherify_all_rows_failed`), and whether `end_date` of the async-action
list includes the instant it names (`voucherify_async_actions_end_bound`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from promosync.connectors.cursor import parse_instant
from promosync.connectors.http import UnexpectedAnswer
from promosync.connectors.push import jobs
from promosync.connectors.voucherify import async_actions, push
from promosync.connectors.voucherify import customer_rows as customer_fields
from promosync.connectors.voucherify.async_actions import list_actions_since

from tests.connectors.fakes import FakeApi
from tests.connectors.test_push_voucherify import insert, truth

ENDINGS = ("failed", "done", "done_operation_failed")


@pytest.mark.parametrize("reading", ENDINGS)
@pytest.mark.parametrize("operation", ["customers", "csv_import"])
def test_a_job_whose_every_row_failed_fails_the_push_row_by_row_whatever_it_says(
    client, warehouse, voucherify_admin, monkeypatch, reading, operation
) -> None:
    voucherify_admin.put("/_sandbox/config", json={"voucherify_all_rows_failed": reading})
    monkeypatch.setattr(customer_fields, "email", lambda value: value)  # the sandbox refuses them
    bad = [{"source_id": f"bad-{i}", "email": f"bad{i}-at-example"} for i in range(3)]
    insert(warehouse, "push_voucherify_customers", bad)

    report = push.push(client, warehouse, operation)

    assert (report.outcome, report.rows_sent, report.rows_failed) == ("failed", 3, 3)
    (job,) = jobs.run_jobs(warehouse, report.run_id)
    assert job.status == "failed"
    results = warehouse.query(
        "SELECT row_key, status, reason FROM push_row_results WHERE run_id = :r ORDER BY row_key",
        {"r": report.run_id},
    )
    assert [(r["row_key"], r["status"]) for r in results] == [
        (f"bad-{i}", "rejected") for i in range(3)
    ]
    assert all("bad" in r["reason"] and "email" in r["reason"].lower() for r in results)
    assert not {row["source_id"] for row in bad} & set(truth(voucherify_admin))
    assert push.push(client, warehouse, operation).rows_sent == 3  # nothing was marked pushed


@pytest.mark.parametrize("reading", ENDINGS)
def test_a_job_with_some_rows_done_is_partial_in_every_reading(
    client, warehouse, voucherify_admin, monkeypatch, reading
) -> None:
    voucherify_admin.put("/_sandbox/config", json={"voucherify_all_rows_failed": reading})
    monkeypatch.setattr(customer_fields, "email", lambda value: value)
    rows = [{"source_id": "ok-1", "email": "ok@example.com"}, {"source_id": "bad-1", "email": "x"}]
    insert(warehouse, "push_voucherify_customers", rows)
    report = push.push(client, warehouse, "customers")
    assert (report.outcome, report.rows_failed) == ("partial", 1)
    assert "ok-1" in truth(voucherify_admin)


def _actions(stamps: list[str]) -> list[dict]:
    return [
        {"id": f"aa_{n:03d}", "created_at": stamp, "type": "CUSTOMERS.METADATA_UPDATE"}
        for n, stamp in enumerate(stamps)
    ]


@pytest.mark.parametrize("inclusive", [False, True], ids=["exclusive", "inclusive"])
def test_recovery_lists_every_action_once_whichever_way_end_date_is_read(
    inclusive, monkeypatch
) -> None:
    monkeypatch.setattr(async_actions, "LIST_LIMIT", 3)
    # Six actions, newest first; two share the instant where the first page ends.
    actions = _actions([f"2026-01-01T00:00:0{s}.000Z" for s in (9, 8, 5, 5, 3, 1)])

    def answer(_: str, params: dict) -> dict:
        end = params.get("end_date")
        listed = [
            a for a in actions
            if end is None or a["created_at"] < end or (inclusive and a["created_at"] == end)
        ]  # fmt: skip
        return {"async_actions": listed[: params["limit"]], "has_more": len(listed) > 3}

    found = list_actions_since(FakeApi(answer), parse_instant("2026-01-01T00:00:00Z"))
    oldest_first = sorted(actions, key=lambda a: (a["created_at"], a["id"]))
    assert [a["id"] for a in found] == [a["id"] for a in oldest_first]  # each once


def test_a_page_of_actions_sharing_one_instant_is_refused_not_looped_on(monkeypatch) -> None:
    monkeypatch.setattr(async_actions, "LIST_LIMIT", 3)
    same = _actions(["2026-01-01T00:00:05.000Z"] * 4)
    api = FakeApi(lambda path, params: {"async_actions": same[:3], "has_more": True})
    with pytest.raises(UnexpectedAnswer, match="more than 3 async actions share created_at"):
        list_actions_since(api, parse_instant("2026-01-01T00:00:00Z"))


@pytest.mark.parametrize("reading", ["exclusive", "inclusive"])
def test_recovery_pages_past_a_hundred_actions_on_the_sandbox(
    client, voucherify, voucherify_admin, reading
) -> None:
    voucherify_admin.put("/_sandbox/config", json={"voucherify_async_actions_end_bound": reading})
    started = datetime.now(UTC)
    for n in range(async_actions.LIST_LIMIT + 5):
        body = {"source_ids": [f"m-{n}"], "metadata": {"n": n}}
        voucherify.post("/v1/customers/metadata/async", json=body).raise_for_status()
    found = list_actions_since(client, started)
    created = voucherify_admin.get("/_sandbox/truth/async_actions").json()
    assert sorted(a["id"] for a in found) == sorted(a["id"] for a in created)
