"""Async bulk jobs: lifecycle, FIFO, per-row failures, CSV mapping and the customers they change."""

from __future__ import annotations

import time

import pytest

from tests.contract import assert_conforms, load_spec
from tests.sandbox.test_voucherify_contract import assert_async_action, wait_for_job


@pytest.fixture(autouse=True, scope="module")
def _spec_loaded() -> None:
    """Load the spec before any timed polling: loading it takes seconds."""
    load_spec("voucherify")


def _slow_jobs(admin, seconds: float) -> None:
    admin.put("/_sandbox/config", json={"async_action_seconds": seconds}).raise_for_status()


def test_bulk_update_lifecycle_and_per_row_failures(voucherify, voucherify_admin):
    _slow_jobs(voucherify_admin, 1.0)
    target = voucherify_admin.get("/_sandbox/truth/customers").json()[5]
    rows = [
        {"source_id": target["source_id"], "name": "Renée Brontë", "metadata": {"vip": True}},
        {"source_id": "bulk-new-1", "email": "new@example.com", "address": {"city": "Zürich"}},
        {"source_id": "bulk-bad-email", "email": "no-at-sign"},
        {"name": "nobody"},
    ]
    job_id = voucherify.post("/v1/customers/bulk/async", json=rows).json()["async_action_id"]
    seen, progress = [], []
    while not seen or seen[-1] not in ("DONE", "FAILED"):
        name = voucherify.get(f"/v1/customers/{target['id']}").json()["name"]
        created = voucherify.get("/v1/customers/bulk-new-1").status_code
        body = assert_async_action(voucherify.get(f"/v1/async-actions/{job_id}"))
        if body["status"] != "DONE":  # nothing changes before the job ends
            assert (name, created) == (target["name"], 404)
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        progress.append(body["progress"])
        time.sleep(0.05)
    assert seen == ["ENQUEUED", "IN_PROGRESS", "DONE"]
    assert progress == sorted(progress) and progress[-1] == 100 and 0 < len(set(progress)) > 3
    assert body["operation_status"] == "SUCCESS" and body["processing_time"] >= 700
    result = body["result"]
    assert (result["done_count"], result["failed_count"]) == (2, 2)
    failures = {e["source_id"]: e["details"] for e in result["errors"]}
    assert "email" in failures["bulk-bad-email"] and "source_id" in failures[""]
    changed = assert_conforms("voucherify", voucherify.get(f"/v1/customers/{target['id']}")).json()
    assert changed["name"] == "Renée Brontë" and changed["metadata"]["vip"] is True
    assert changed["metadata"]["tier"] == target["metadata"].get(
        "tier", changed["metadata"].get("tier")
    )
    assert changed["updated_at"] == body["updated_at"]
    created = voucherify.get("/v1/customers/bulk-new-1").json()
    assert created["address"]["city"] == "Zürich" and created["updated_at"] == body["updated_at"]
    assert voucherify.get("/v1/customers/bulk-bad-email").status_code == 404


def test_job_whose_every_row_fails_ends_failed(voucherify):
    rows = [{"source_id": "x", "email": "@"}, {"source_id": ""}]
    job_id = voucherify.post("/v1/customers/bulk/async", json=rows).json()["async_action_id"]
    body = wait_for_job(voucherify, job_id)
    assert (body["status"], body["operation_status"]) == ("FAILED", "FAILED")
    assert body["result"]["done_count"] == 0 and body["result"]["failed_count"] == 2


def test_unparseable_csv_ends_failed(voucherify):
    for content in (b"\xff\xfe\x00garbage\x81", b"", b"Source_id,Source_id\na,b\n"):
        response = voucherify.post("/v1/customers/importCSV", files={"file": ("bad.csv", content)})
        body = wait_for_job(voucherify, response.json()["async_action_id"])
        assert body["status"] == "FAILED" and body["result"]["done_count"] == 0


def test_jobs_run_fifo_and_the_later_one_wins(voucherify, voucherify_admin):
    _slow_jobs(voucherify_admin, 0.6)
    first = voucherify.post(
        "/v1/customers/metadata/async", json={"source_ids": ["fifo"], "metadata": {"v": 1}}
    )
    second = voucherify.post(
        "/v1/customers/metadata/async", json={"source_ids": ["fifo"], "metadata": {"v": 2}}
    )
    first_id, second_id = first.json()["async_action_id"], second.json()["async_action_id"]
    time.sleep(0.3)
    states = {
        j: assert_async_action(voucherify.get(f"/v1/async-actions/{j}"))["status"]
        for j in (first_id, second_id)
    }
    assert states == {first_id: "IN_PROGRESS", second_id: "ENQUEUED"}
    done_first, done_second = (
        wait_for_job(voucherify, first_id),
        wait_for_job(voucherify, second_id),
    )
    assert done_first["updated_at"] < done_second["updated_at"]
    customer = voucherify.get("/v1/customers/fifo").json()
    assert customer["metadata"] == {"v": 2} and customer["updated_at"] == done_second["updated_at"]
    listed = voucherify.get("/v1/async-actions").json()["async_actions"]
    assert [a["id"] for a in listed] == [second_id, first_id]


def test_metadata_update_merges_into_existing_customers(voucherify, voucherify_admin):
    targets = voucherify_admin.get("/_sandbox/truth/customers").json()[:3]
    payload = {
        "source_ids": [c["source_id"] for c in targets] + ["", "meta-new"],
        "metadata": {"segment": "β"},
    }
    job_id = voucherify.post("/v1/customers/metadata/async", json=payload).json()["async_action_id"]
    body = wait_for_job(voucherify, job_id)
    assert (
        body["status"] == "DONE"
        and body["result"]["done_count"] == 4
        and len(body["result"]["errors"]) == 1
    )
    for before in targets:
        after = voucherify.get(f"/v1/customers/{before['id']}").json()
        assert after["metadata"] == {**before["metadata"], "segment": "β"}
        assert after["updated_at"] == body["updated_at"] > before["updated_at"]
    assert voucherify.get("/v1/customers/meta-new").json()["metadata"] == {"segment": "β"}


def test_import_csv_maps_columns_and_puts_unmapped_ones_in_metadata(voucherify):
    csv = (
        "Source_id,Name,Email,Address_City,Address_Country,Birthdate,Metadata_tier,"
        "Favourite colour\n"
        "csv-1,Łukasz Żižek,lukasz@example.com,Kraków,PL,1990-05-17,gold,zielony\n"
        "csv-2,Bad Email,not-an-email,,,,,\n"
        ",No Source,,,,,,\n"
        "csv-3,,,,,,silver,\n"
    ).encode()
    response = voucherify.post(
        "/v1/customers/importCSV", files={"file": ("customers.csv", csv, "text/csv")}
    )
    body = wait_for_job(voucherify, response.json()["async_action_id"])
    assert body["type"] == "CUSTOMERS.IMPORT_CSV" and body["status"] == "DONE"
    result = body["result"]
    assert (result["done_count"], result["failed_count"]) == (2, 2)
    assert result["message"] == "2 customer(s) imported successfully, 2 failed."
    assert [(f["source_id"], f["row"]) for f in result["failed"]] == [("csv-2", 2), ("", 3)]
    first = voucherify.get("/v1/customers/csv-1").json()
    assert first["name"] == "Łukasz Żižek" and first["birthdate"] == "1990-05-17"
    assert first["address"]["city"] == "Kraków" and first["address"]["country"] == "PL"
    assert first["metadata"] == {"tier": "gold", "Favourite colour": "zielony"}
    third = voucherify.get("/v1/customers/csv-3").json()
    assert third["metadata"] == {"tier": "silver"} and third["updated_at"] == first["updated_at"]
