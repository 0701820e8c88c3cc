"""Auth, rate limiting, and the admin mutate/truth hooks of the Voucherify simulator."""

from __future__ import annotations

import time

import requests

from tests.contract import assert_conforms
from tests.sandbox.test_voucherify_contract import assert_error


def test_requests_without_the_app_key_pair_are_refused(voucherify, sandbox):
    url = sandbox.voucherify_url + "/v1/customers"
    settings = sandbox.settings
    for headers in (
        {},
        {"X-App-Id": settings.voucherify_app_id},
        {"X-App-Id": settings.voucherify_app_id, "X-App-Token": "wrong"},
        {"X-Voucherify-OAuth": "Bearer token"},
    ):
        body = assert_error(requests.get(url, headers=headers, timeout=10), 401)
        assert body["key"] == "unauthorized"
    assert_error(requests.post(url + "/bulk/async", json=[{"source_id": "a"}], timeout=10), 401)


def test_rate_limit_headers_then_429(voucherify, voucherify_admin, sandbox):
    voucherify_admin.put(
        "/_sandbox/config", json={"voucherify_requests_per_minute": 5}
    ).raise_for_status()
    requests.get(
        sandbox.voucherify_url + "/v1/customers", timeout=10
    )  # unauthenticated: not counted
    remaining = []
    for _ in range(5):
        response = assert_conforms(
            "voucherify", voucherify.get("/v1/customers", params={"limit": 1})
        )
        assert response.headers["X-Rate-Limit-Limit"] == "5"
        retry = int(response.headers["X-Rate-Limit-Retry"])
        assert time.time() < retry <= time.time() + 61
        remaining.append(int(response.headers["X-Rate-Limit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    # The spec documents no 429 for this operation (its text promises one): checked against Error.
    limited = voucherify.get("/v1/customers")
    body = assert_error(limited, 429)
    assert body["message"] == "Too many requests hit the API too quickly."
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["X-Rate-Limit-Remaining"] == "0"
    assert_error(voucherify.get("/v1/async-actions"), 429)
    voucherify_admin.put(
        "/_sandbox/config", json={"voucherify_requests_per_minute": 0}
    ).raise_for_status()
    unlimited = assert_conforms("voucherify", voucherify.get("/v1/loyalties"))
    assert "X-Rate-Limit-Limit" not in unlimited.headers


def test_mutations_show_in_the_api_and_the_truth(voucherify, voucherify_admin):
    started = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1))
    truth = voucherify_admin.get("/_sandbox/truth/customers").json()
    payload = {
        "create_customers": 2,
        "update_customers": [{"source_id": truth[0]["source_id"], "name": "Ærin Þór"}],
        "delete_customers": [truth[1]["id"]],
        "add_activities": {"customers": [truth[2]["id"]], "per_customer": 3},
        "add_loyalty_transactions": {"count": 2},
    }
    out = voucherify_admin.post("/_sandbox/mutate", json=payload).json()
    assert (
        len(out["created"]) == 2
        and out["updated"] == [truth[0]["id"]]
        and out["deleted"] == [truth[1]["id"]]
    )
    changed = _updated_since(voucherify, started)
    assert set(out["created"]) | {truth[0]["id"]} <= changed and truth[1]["id"] not in changed
    assert voucherify.get(f"/v1/customers/{truth[0]['id']}").json()["name"] == "Ærin Þór"
    assert_error(voucherify.get(f"/v1/customers/{truth[1]['id']}"), 404)
    newest = voucherify.get(f"/v1/customers/{truth[2]['id']}/activity", params={"limit": 3}).json()[
        "data"
    ]
    assert {e["id"] for e in newest} == {a["id"] for a in out["activities"]}
    tx = voucherify_admin.get("/_sandbox/truth/loyalty_transactions").json()
    assert {t["id"] for t in tx[-2:]} == set(out["loyalty_transactions"])
    member = tx[-1]["customer_id"]
    assert member in changed
    customer = voucherify.get(f"/v1/customers/{member}").json()
    assert customer["loyalty"]["points"] == sum(
        c["points"] for c in customer["loyalty"]["campaigns"].values()
    )
    after = voucherify_admin.get("/_sandbox/truth/customers").json()
    assert len(after) == len(truth) + 1


def _updated_since(session, instant: str) -> set[str]:
    params = {"order": "updated_at", "limit": 100, "updated_at[after]": instant}
    return {c["id"] for c in session.get("/v1/customers", params=params).json()["customers"]}


def test_tie_storm_at_a_given_instant(voucherify, voucherify_admin):
    storm = voucherify_admin.post(
        "/_sandbox/mutate",
        json={"tie_storm": {"count": 12, "updated_at": "2027-03-01T10:00:00.123Z"}},
    ).json()["tie_storm"]
    assert storm["updated_at"] == "2027-03-01T10:00:00.123Z" and len(set(storm["customers"])) == 12
    page = voucherify.get("/v1/customers", params={"order": "-updated_at", "limit": 12}).json()
    assert {c["id"] for c in page["customers"]} == set(storm["customers"])
    assert {c["updated_at"] for c in page["customers"]} == {storm["updated_at"]}


def test_bad_mutations_are_refused_with_a_reason(voucherify_admin):
    for payload, fragment in (
        ({"explode": 1}, "unknown mutation"),
        ({"create_customers": -1}, "non-negative"),
        ({"delete_customers": ["nobody"]}, "nobody"),
        ({"update_customers": [{"id": "nobody", "name": "x"}]}, "nobody"),
        ({"create_customers": [{"source_id": "s", "email": "bad"}]}, "email"),
        ({"add_activities": 3}, "add_activities"),
        ({"add_loyalty_transactions": {"count": 1, "campaign_id": "camp_nope"}}, "camp_nope"),
        ({"tie_storm": {"count": 2, "updated_at": "soon"}}, "tie_storm"),
    ):
        response = voucherify_admin.post("/_sandbox/mutate", json=payload)
        assert response.status_code == 400 and fragment in response.json()["error"], payload
    assert voucherify_admin.get("/_sandbox/truth/nothing").status_code == 404


def test_regeneration_is_deterministic_per_seed(voucherify_admin):
    collections = ("customers", "segments", "loyalty_campaigns", "loyalty_transactions")
    first = {name: voucherify_admin.get(f"/_sandbox/truth/{name}").json() for name in collections}
    voucherify_admin.post("/_sandbox/mutate", json={"update_customers": 5}).raise_for_status()
    voucherify_admin.post("/_sandbox/reset").raise_for_status()
    again = {name: voucherify_admin.get(f"/_sandbox/truth/{name}").json() for name in collections}
    assert again == first
    voucherify_admin.post("/_sandbox/reset", json={"seed": 8}).raise_for_status()
    other = voucherify_admin.get("/_sandbox/truth/customers").json()
    assert {c["id"] for c in other}.isdisjoint(c["id"] for c in first["customers"])
    assert voucherify_admin.get("/_sandbox/truth/async_actions").json() == []
