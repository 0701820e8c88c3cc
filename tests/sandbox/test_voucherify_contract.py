"""Every Voucherify endpoint, on success and error paths, validated against the official spec."""

from __future__ import annotations

import time
from typing import Any

import orjson
import requests

from tests.contract import assert_conforms, assert_voucherify_schema

# AsyncAction.result is a oneOf of 22 open schemas, three of them identical to each customer
# type's own, so no result can ever match exactly one: each result is checked against its own
# type's schema instead, and the rest of the body with assert_conforms.
RESULT_SCHEMAS = {
    "CUSTOMERS.IMPORT_CSV": "17_res_obj_get_async_action_result_customers_import_csv",
    "CUSTOMERS.BULK_UPDATE": "AsyncActionResultCustomersBulkUpdateResponseBody",
    "CUSTOMERS.METADATA_UPDATE": "AsyncActionResultCustomersMetadataUpdateResponseBody",
}


def assert_error(response: requests.Response, status: int) -> dict[str, Any]:
    """Fail unless the response is `status` with the spec's Error body."""
    assert response.status_code == status, response.text
    # The spec documents only the success status of these operations (no 4xx at all), so the
    # error body is validated against its Error component schema directly.
    body = response.json()
    assert_voucherify_schema("Error", body)
    assert body["code"] == status and body["message"] and body["request_id"].startswith("v-")
    return body


def assert_async_action(response: requests.Response) -> dict[str, Any]:
    """Validate a GET /v1/async-actions/{id} answer, working around the unsatisfiable oneOf."""
    body = response.json()
    if "result" not in body:
        assert_conforms("voucherify", response)
        return body
    stripped = requests.Response()
    stripped.status_code, stripped.headers, stripped.request = (
        200,
        response.headers,
        response.request,
    )
    stripped._content = orjson.dumps({k: v for k, v in body.items() if k != "result"})
    assert_conforms("voucherify", stripped)
    assert_voucherify_schema(RESULT_SCHEMAS[body["type"]], body["result"])
    return body


def wait_for_job(session: requests.Session, job_id: str, timeout: float = 10) -> dict[str, Any]:
    """Poll an async action until it ends; every answer is validated."""
    deadline = time.monotonic() + timeout
    while True:
        body = assert_async_action(session.get(f"/v1/async-actions/{job_id}"))
        if body["status"] in ("DONE", "FAILED") or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def first_customer(session: requests.Session) -> dict[str, Any]:
    """The newest customer."""
    return assert_conforms("voucherify", session.get("/v1/customers?limit=1")).json()["customers"][
        0
    ]


def test_list_customers_conforms_and_refuses_out_of_range_params(voucherify):
    page = assert_conforms("voucherify", voucherify.get("/v1/customers", params={"limit": 100}))
    body = page.json()
    assert body["object"] == "list" and body["data_ref"] == "customers"
    assert len(body["customers"]) == 100 and body["total"] == 300 and body["has_more"] is True
    for params in (
        {"limit": 0},
        {"limit": 101},
        {"page": 0},
        {"page": 100},
        {"limit": "x"},
        {"order": "name"},
        {"created_at[after]": "yesterday"},
    ):
        assert_error(voucherify.get("/v1/customers", params=params), 400)


def test_customer_crud_conforms(voucherify):
    new = {
        "source_id": "crm-1",
        "name": "Zoë Øster",
        "email": "zoe@example.com",
        "metadata": {"a": [1, None]},
    }
    created = voucherify.post("/v1/customers", json=new)
    customer = assert_conforms("voucherify", created).json()
    assert customer["id"].startswith("cust_") and customer["source_id"] == "crm-1"
    fetched = assert_conforms("voucherify", voucherify.get("/v1/customers/crm-1")).json()
    assert fetched == customer
    updated = voucherify.put(
        f"/v1/customers/{customer['id']}", json={"phone": "+48 600", "address": {"city": "Łódź"}}
    )
    body = assert_conforms("voucherify", updated).json()
    assert (
        body["phone"] == "+48 600"
        and body["address"]["city"] == "Łódź"
        and body["name"] == "Zoë Øster"
    )
    assert body["updated_at"] >= customer["updated_at"]
    upserted = assert_conforms(
        "voucherify", voucherify.post("/v1/customers", json={"source_id": "crm-1", "name": "Z"})
    )
    assert upserted.json()["id"] == customer["id"] and upserted.json()["phone"] == "+48 600"
    deleted = voucherify.delete("/v1/customers/crm-1")
    assert_conforms("voucherify", deleted)
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(voucherify.get("/v1/customers/crm-1"), 404)
    assert_error(voucherify.put("/v1/customers/crm-1", json={"name": "x"}), 404)
    assert_error(voucherify.delete("/v1/customers/crm-1"), 404)


def test_customer_payload_errors(voucherify):
    assert_error(
        voucherify.post("/v1/customers", json={"source_id": "s", "email": "not-an-email"}), 400
    )
    assert_error(voucherify.post("/v1/customers", json=["not", "an", "object"]), 400)
    assert_error(
        voucherify.post(
            "/v1/customers", data=b"{broken", headers={"Content-Type": "application/json"}
        ),
        400,
    )
    assert_error(voucherify.post("/v1/customers", json={"id": "cust_doesnotexist"}), 404)
    target = first_customer(voucherify)["id"]
    assert_error(voucherify.put(f"/v1/customers/{target}", json={"birthdate": "1990-02-31"}), 400)


def test_permanent_deletion_conforms(voucherify):
    customer = first_customer(voucherify)
    response = assert_conforms(
        "voucherify", voucherify.post(f"/v1/customers/{customer['id']}/permanent-deletion")
    )
    body = response.json()
    assert body["related_object_id"] == customer["id"] and body["status"] == "DONE"
    assert_error(voucherify.get(f"/v1/customers/{customer['id']}"), 404)
    assert_error(voucherify.post(f"/v1/customers/{customer['id']}/permanent-deletion"), 404)


def test_activity_and_segments_conform(voucherify, voucherify_admin):
    customers = voucherify_admin.get("/_sandbox/truth/segments").json()
    member = next(c for c in customers if c["segments"])
    segments = assert_conforms(
        "voucherify", voucherify.get(f"/v1/customers/{member['source_id']}/segments")
    ).json()
    assert segments["data"] == member["segments"] and segments["total"] == len(member["segments"])
    activity = voucherify.get(
        f"/v1/customers/{member['customer_id']}/activity", params={"limit": 100}
    )
    assert_conforms("voucherify", activity)
    for params in (
        {"limit": 0},
        {"order": "id"},
        {"category": "OTHER"},
        {"start_date": "soon"},
        {"starting_after_id": "evcus_unknown"},
    ):
        assert_error(
            voucherify.get(f"/v1/customers/{member['customer_id']}/activity", params=params), 400
        )
    assert_error(voucherify.get("/v1/customers/nobody/activity"), 404)
    assert_error(voucherify.get("/v1/customers/nobody/segments"), 404)


def test_bulk_endpoints_answer_202_and_refuse_bad_bodies(voucherify):
    accepted = [
        voucherify.post("/v1/customers/bulk/async", json=[{"source_id": "b-1", "name": "B"}]),
        voucherify.post(
            "/v1/customers/metadata/async", json={"source_ids": ["b-2"], "metadata": {"x": 1}}
        ),
        voucherify.post(
            "/v1/customers/importCSV", files={"file": ("c.csv", b"Source_id,Name\nc-1,C\n")}
        ),
    ]
    for response in accepted:
        assert response.status_code == 202
        assert assert_conforms("voucherify", response).json()["async_action_id"].startswith("aa_")
    assert_error(voucherify.post("/v1/customers/bulk/async", json={"source_id": "x"}), 400)
    assert_error(voucherify.post("/v1/customers/metadata/async", json={"source_ids": "b-2"}), 400)
    assert_error(voucherify.post("/v1/customers/importCSV", files={"other": ("c.csv", b"x")}), 400)
    huge = (
        b"["
        + b",".join(
            [b'{"source_id":"%d","description":"' % i + b"x" * 1000 + b'"}' for i in range(10_500)]
        )
        + b"]"
    )
    assert_error(
        voucherify.post(
            "/v1/customers/bulk/async", data=huge, headers={"Content-Type": "application/json"}
        ),
        413,
    )
    assert_error(
        voucherify.post(
            "/v1/customers/importCSV",
            files={"file": ("big.csv", b"Source_id\n" + b"y" * 11_000_000)},
        ),
        413,
    )


def test_async_actions_conform(voucherify):
    job_id = voucherify.post("/v1/customers/bulk/async", json=[{"source_id": "a-1"}]).json()[
        "async_action_id"
    ]
    assert wait_for_job(voucherify, job_id)["status"] == "DONE"
    listed = assert_conforms(
        "voucherify", voucherify.get("/v1/async-actions", params={"limit": 5})
    ).json()
    assert [a["id"] for a in listed["async_actions"]] == [job_id] and "result" not in listed[
        "async_actions"
    ][0]
    assert_error(voucherify.get("/v1/async-actions/aa_unknown"), 404)
    assert_error(voucherify.get("/v1/async-actions", params={"limit": 101}), 400)
    assert_error(voucherify.get("/v1/async-actions", params={"end_date": "never"}), 400)


def test_loyalties_conform(voucherify, voucherify_admin):
    campaigns = assert_conforms("voucherify", voucherify.get("/v1/loyalties")).json()
    assert campaigns["total"] == len(campaigns["campaigns"]) == 3
    tx = voucherify_admin.get("/_sandbox/truth/loyalty_transactions").json()[0]
    campaign, member = tx["campaign_id"], tx["member_id"]
    paths = (
        f"/v1/loyalties/{campaign}/transactions",
        f"/v1/loyalties/{campaign}/members/{member}/transactions",
        f"/v1/loyalties/members/{member}/transactions",
    )
    for path in paths:
        page = assert_conforms("voucherify", voucherify.get(path, params={"limit": 5})).json()
        assert page["object"] == "list" and page["data"]
        assert_error(voucherify.get(path, params={"limit": 1000}), 400)
        assert_error(voucherify.get(path, params={"order": "created_at"}), 400)
    assert_error(voucherify.get("/v1/loyalties", params={"page": 101}), 400)
    assert_error(voucherify.get("/v1/loyalties/camp_unknown/transactions"), 404)
    assert_error(voucherify.get("/v1/loyalties/members/LC-NOPE/transactions"), 404)
    other = next(c["id"] for c in campaigns["campaigns"] if c["id"] != campaign)
    assert_error(voucherify.get(f"/v1/loyalties/{other}/members/{member}/transactions"), 404)
