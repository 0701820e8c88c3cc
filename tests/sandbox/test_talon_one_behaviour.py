"""What a connector notices of the Talon.One simulator: paging, windows, limits, writes, truth."""

from __future__ import annotations

import csv
import io
import time
from typing import Any
from urllib.parse import quote

import pytest
from promosync.sandbox.talon_one.data import TIE_CLUSTER, TIE_INSTANT
from promosync.sandbox.talon_one.model import iso

from tests.conftest import ApiSession
from tests.contract import assert_conforms
from tests.sandbox.test_talon_one_contract import (
    CARD_PROGRAM,
    INTEGRATION,
    MANAGEMENT,
    PROFILE_PROGRAM,
    TIER_PROGRAM,
    assert_error_body,
)

POINT_COLUMNS = ("currentBalance", "pendingBalance", "expiredBalance", "spentBalance")
FEED = f"/v1/loyalty_programs/{PROFILE_PROGRAM}/transactions"


def truth(admin: ApiSession, collection: str) -> list[dict[str, Any]]:
    response = admin.get(f"/_sandbox/truth/{collection}")
    assert response.status_code == 200, response.text
    return response.json()


def walk(session: ApiSession, url: str, size: int, **params: Any) -> list[dict[str, Any]]:
    """Every row of an offset-paged list, checking `hasMore` on each page."""
    rows: list[dict[str, Any]] = []
    while True:
        page = session.get(url, params={**params, "pageSize": size, "skip": len(rows)}).json()
        rows += page["data"]
        assert page["hasMore"] == (len(page["data"]) == size and page["hasMore"])
        if not page["hasMore"]:
            return rows


def test_feed_pages_cover_every_entry_once_newest_first(
    talon_one_management: ApiSession, talon_one_admin: ApiSession
) -> None:
    rows = walk(talon_one_management, FEED, 1000)
    expected = [
        t
        for t in truth(talon_one_admin, "loyalty_transactions")
        if t["programId"] == PROFILE_PROGRAM
    ]
    assert [r["id"] for r in rows] == [t["id"] for t in reversed(expected)]
    newest = talon_one_management.get(FEED).json()
    assert [r["id"] for r in newest["data"]] == [r["id"] for r in rows[:50]] and newest["hasMore"]


def test_date_window_is_start_inclusive_end_exclusive_and_pages_a_tie(
    talon_one_management: ApiSession,
) -> None:
    tie = iso(TIE_INSTANT)
    just_after = iso(TIE_INSTANT + 1)
    window = walk(talon_one_management, FEED, 50, startDate=tie, endDate=just_after)
    assert len(window) == len({r["id"] for r in window}) >= TIE_CLUSTER
    assert {r["created"] for r in window} == {tie}
    before = talon_one_management.get(FEED, params={"endDate": tie, "pageSize": 1000}).json()[
        "data"
    ]
    assert before and all(r["created"] < tie for r in before)
    from_tie = talon_one_management.get(FEED, params={"startDate": tie, "pageSize": 1000}).json()
    assert {r["id"] for r in window} <= {r["id"] for r in from_tie["data"]}
    filtered = walk(
        talon_one_management,
        FEED,
        50,
        startDate=tie,
        endDate=just_after,
        loyaltyTransactionType="import",
    )
    assert [r["id"] for r in filtered] == [r["id"] for r in window]


def test_profile_log_windows_and_the_last_fifty(
    talon_one: ApiSession, talon_one_admin: ApiSession
) -> None:
    added = talon_one_admin.post(
        "/_sandbox/mutate",
        json={
            "add_transactions": {
                "count": 120,
                "program_id": TIER_PROGRAM,
                "created": "2025-06-01T10:00:00Z",
            }
        },
    ).json()["added_transactions"]
    rows = truth(talon_one_admin, "loyalty_transactions")
    busiest = max(
        {r["customerProfileId"] for r in rows if r["id"] in added},
        key=lambda owner: sum(
            r.get("customerProfileId") == owner and r["programId"] == TIER_PROGRAM for r in rows
        ),
    )
    url = f"/v1/loyalty_programs/{TIER_PROGRAM}/profile/{busiest}/transactions"
    mine = [
        r for r in rows if r.get("customerProfileId") == busiest and r["programId"] == TIER_PROGRAM
    ]
    first = assert_conforms(INTEGRATION, talon_one.get(url)).json()
    assert [r["id"] for r in first["data"]] == [r["id"] for r in reversed(mine)][:50]
    at_instant = talon_one.get(
        url, params={"startDate": "2025-06-01T10:00:00Z", "endDate": "2025-06-01T10:00:00.001Z"}
    )
    assert {r["id"] for r in at_instant.json()["data"]} == {
        r["id"] for r in mine if r["id"] in added
    }


def test_bulk_profiles_limit_silence_and_truth(
    talon_one: ApiSession, talon_one_admin: ApiSession
) -> None:
    before = {p["integrationId"] for p in truth(talon_one_admin, "profiles")}
    too_many = {
        "customerProfiles": [
            {"integrationId": f"bulk-{i}", "attributes": {"n": i}} for i in range(1001)
        ]
    }
    assert talon_one.put("/v2/customer_profiles", json=too_many).status_code == 400
    assert {p["integrationId"] for p in truth(talon_one_admin, "profiles")} == before
    exactly = {"customerProfiles": too_many["customerProfiles"][:1000]}
    assert talon_one.put("/v2/customer_profiles", json=exactly).status_code == 204
    after = {p["integrationId"]: p for p in truth(talon_one_admin, "profiles")}
    assert set(after) == before | {f"bulk-{i}" for i in range(1000)}
    existing = next(iter(before))
    merge = {
        "customerProfiles": [
            {"integrationId": existing, "attributes": {"Nested": {"ü": [1.5, True]}}}
        ]
    }
    loud = talon_one.put("/v2/customer_profiles", params={"silent": "no"}, json=merge).json()
    attributes = loud["integrationStates"][0]["customerProfile"]["attributes"]
    assert attributes == {**after[existing]["attributes"], "Nested": {"ü": [1.5, True]}}


def test_audience_membership_changes_show_in_truth_and_profiles(
    talon_one: ApiSession, talon_one_management: ApiSession, talon_one_admin: ApiSession
) -> None:
    audience = talon_one.post("/v2/audiences", json={"name": "Sync test"}).json()
    profiles = [p["integrationId"] for p in truth(talon_one_admin, "profiles")[:3]]
    adds = [
        {"action": "add", "profileIntegrationId": p, "audienceId": audience["id"]} for p in profiles
    ]
    assert talon_one.post("/v2/customer_audiences", json={"data": adds}).status_code == 204
    removal = [
        {"action": "delete", "profileIntegrationId": profiles[0], "audienceId": audience["id"]}
    ]
    assert talon_one.post("/v2/customer_audiences", json={"data": removal}).status_code == 204
    members = next(a for a in truth(talon_one_admin, "audiences") if a["id"] == audience["id"])[
        "members"
    ]
    assert members == sorted(profiles[1:])
    listed = talon_one_management.get("/v1/customers/no_total", params={"pageSize": 1000}).json()[
        "data"
    ]
    memberships = {p["integrationId"]: p["audienceMemberships"] for p in listed}
    assert {"id": audience["id"], "name": "Sync test"} in memberships[profiles[1]]
    assert all(m["id"] != audience["id"] for m in memberships[profiles[0]])


def test_management_limit_is_per_endpoint(
    talon_one_management: ApiSession, talon_one_admin: ApiSession
) -> None:
    talon_one_admin.put("/_sandbox/config", json={"management_requests_per_second": 3})
    start = time.monotonic()
    statuses = [talon_one_management.get("/v1/loyalty_programs").status_code for _ in range(4)]
    other = talon_one_management.get("/v1/customers/no_total", params={"pageSize": 1})
    assert time.monotonic() - start < 1, "too slow to observe a one-second window"
    assert statuses == [200, 200, 200, 429]
    assert other.status_code == 200
    time.sleep(1.05)
    assert talon_one_management.get("/v1/loyalty_programs").status_code == 200


def test_integration_minute_budget(talon_one: ApiSession, talon_one_admin: ApiSession) -> None:
    talon_one_admin.put("/_sandbox/config", json={"talon_one_requests_per_minute": 2})
    url = f"/v1/loyalty_programs/{PROFILE_PROGRAM}/profile/nobody/balances"
    assert [talon_one.get(url).status_code for _ in range(3)] == [404, 404, 429]


@pytest.mark.parametrize("scheme", ["ApiKey-v1", "Bearer"])
def test_management_refuses_other_credentials(talon_one: ApiSession, scheme: str) -> None:
    key = talon_one.headers["Authorization"].split()[1]
    response = talon_one.get(FEED, headers={"Authorization": f"{scheme} {key}"})
    assert assert_conforms(MANAGEMENT, response).status_code == 401


def test_integration_refuses_a_management_key(talon_one_management: ApiSession) -> None:
    response = talon_one_management.delete("/v1/customer_data/anyone")
    assert assert_conforms(INTEGRATION, response).status_code == 401


def test_admin_mutations_show_through_the_api(
    talon_one_management: ApiSession, talon_one_admin: ApiSession
) -> None:
    result = talon_one_admin.post(
        "/_sandbox/mutate",
        json={
            "create_profiles": [{"integrationId": "admin-made", "attributes": {"a": 1}}],
            "update_profiles": 2,
            "delete_profiles": 3,
            "add_cards": {"count": 2},
            "add_transactions": 5,
        },
    ).json()
    assert result["created_profiles"] == ["admin-made"] and len(result["updated_profiles"]) == 2
    listed = {
        p["integrationId"] for p in walk(talon_one_management, "/v1/customers/no_total", 1000)
    }
    assert "admin-made" in listed and not listed & set(result["deleted_profiles"])
    cards = talon_one_management.get(
        f"/v1/loyalty_programs/{CARD_PROGRAM}/cards", params={"sort": "-id", "pageSize": 2}
    )
    assert [c["identifier"] for c in cards.json()["data"]] == result["added_cards"][::-1]
    feed_ids = {t["id"] for t in truth(talon_one_admin, "loyalty_transactions")}
    assert set(result["added_transactions"]) <= feed_ids
    bad_payloads = (
        {"delete_profiles": ["no-such-id"]},
        {"add_cards": {"count": 1, "program_id": 101}},
        {"add_transactions": {"count": 1, "created": "not a date"}},
        {"rename": 1},
    )
    for bad in bad_payloads:
        response = talon_one_admin.post("/_sandbox/mutate", json=bad)
        assert response.status_code == 400 and response.json()["error"]
    assert talon_one_admin.get("/_sandbox/truth/coupons").status_code == 404


def _export(session: ApiSession, program: int, kind: str) -> list[dict[str, str]]:
    response = assert_conforms(
        MANAGEMENT, session.get(f"/v1/loyalty_programs/{program}/export_{kind}_balances")
    )
    return list(csv.DictReader(io.StringIO(response.text)))


def test_balance_exports_agree_with_truth_and_the_balance_endpoints(
    talon_one: ApiSession, talon_one_management: ApiSession, talon_one_admin: ApiSession
) -> None:
    balances = truth(talon_one_admin, "balances")
    for program, kind, owner in (
        (PROFILE_PROGRAM, "customer", "integrationId"),
        (CARD_PROGRAM, "card", "cardIdentifier"),
    ):
        column = "profileIntegrationID" if kind == "customer" else "cardIdentifier"
        exported = {
            (r[column], r["loyaltySubledger"]): tuple(float(r[f]) for f in POINT_COLUMNS)
            for r in _export(talon_one_management, program, kind)
        }
        expected = {
            (b[owner], b["subledgerId"]): (
                b["activePoints"],
                b["pendingPoints"],
                b["expiredPoints"],
                b["spentPoints"],
            )
            for b in balances
            if b["programId"] == program
        }
        assert exported == expected
    sample = next(
        b for b in balances if b["programId"] == PROFILE_PROGRAM and b["subledgerId"] == ""
    )
    live = talon_one.get(
        f"/v1/loyalty_programs/{PROFILE_PROGRAM}/profile/{sample['integrationId']}/balances"
    )
    assert live.json()["balance"] == {k: sample[k] for k in live.json()["balance"]}


def test_old_balances_exclude_later_entries(talon_one_management: ApiSession) -> None:
    early = _export(talon_one_management, PROFILE_PROGRAM, "customer")
    url = f"/v1/loyalty_programs/{PROFILE_PROGRAM}/export_customer_balances"
    before_everything = talon_one_management.get(url, params={"endDate": "2019-01-01T00:00:00Z"})
    lines = assert_conforms(MANAGEMENT, before_everything).text.splitlines()
    assert early and len(lines) == len(early) + 1
    assert all(
        set(line.split(",")[3:7]) == {"0"} for line in before_everything.text.splitlines()[1:]
    )
    partial = talon_one_management.get(
        url, params={"balances": "pendingBalance"}
    ).text.splitlines()[1]
    assert partial.split(",")[5:7] == ["", ""]
    assert_error_body(
        talon_one_management.get(url, params={"balances": "bogus"}), 400, "ErrorResponseWithStatus"
    )


def test_ids_that_need_url_encoding_reach_their_profile(
    talon_one: ApiSession, talon_one_admin: ApiSession
) -> None:
    awkward = [
        p["integrationId"]
        for p in truth(talon_one_admin, "profiles")
        if not p["integrationId"].isalnum()
    ]
    awkward = [i for i in awkward if not i.startswith(("src_", "t1-"))]
    assert any(not i.isascii() for i in awkward) and any("+" in i for i in awkward)
    for integration_id in awkward:
        response = talon_one.get(
            f"/v1/customer_profiles/{quote(integration_id)}/inventory", params={"profile": "true"}
        )
        assert response.json()["profile"]["integrationId"] == integration_id
