"""Every Talon.One simulator endpoint, success and error paths, validated against the specs."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
import requests
import yaml
from openapi_schema_validator import OAS31Validator

from tests.conftest import ApiSession
from tests.contract import SPECS_DIR, assert_conforms

INTEGRATION = "talon_one_integration"
MANAGEMENT = "talon_one_management"
PROFILE_PROGRAM, TIER_PROGRAM, CARD_PROGRAM = 101, 102, 103


@cache
def error_schema(name: str) -> dict[str, Any]:
    """A Talon.One error component (`ErrorResponse`, ...) read from the combined spec.

    The combined YAML does not parse as a whole (see specs/README.md), so only the block of error
    components is cut out and parsed; its `$ref`s are resolved into `$defs`.
    """
    text = (SPECS_DIR / "talon-one-openapi-combined.yaml").read_text()
    block = text[text.index("\n    ErrorSource:\n") : text.index("\n    IntegrationRequest:\n")]
    components = yaml.safe_load(block)
    refs = re.compile(r"#/components/schemas/")
    defs = yaml.safe_load(refs.sub("#/$defs/", yaml.safe_dump(components)))
    return {**defs[name], "$defs": defs}


def assert_error_body(
    response: requests.Response, status: int, name: str = "ErrorResponse"
) -> None:
    """For a status the spec does not document: check the body against the error component."""
    assert response.status_code == status, response.text
    OAS31Validator(error_schema(name)).validate(response.json())


def ledger_owners(admin: ApiSession) -> dict[str, Any]:
    """A profile with subledger entries, a tiered-program member and a card with entries."""
    rows = admin.get("/_sandbox/truth/balances").json()
    subledgered = next(r for r in rows if r["programId"] == PROFILE_PROGRAM and r["subledgerId"])
    tiered = next(r for r in rows if r["programId"] == TIER_PROGRAM)
    card = next(r for r in rows if r["programId"] == CARD_PROGRAM and r["subledgerId"])
    return {
        "profile": subledgered["integrationId"],
        "subledger": subledgered["subledgerId"],
        "tiered": tiered["integrationId"],
        "card": card["cardIdentifier"],
    }


def test_profile_transactions(talon_one: ApiSession, talon_one_admin: ApiSession) -> None:
    owners = ledger_owners(talon_one_admin)
    base = f"/v1/loyalty_programs/{PROFILE_PROGRAM}/profile/{owners['profile']}/transactions"
    everything = assert_conforms(INTEGRATION, talon_one.get(base)).json()
    assert everything["data"] and everything["hasMore"] is False
    filtered = talon_one.get(
        base,
        params={"subledgerId": owners["subledger"], "startDate": "2020-01-01", "pageSize": 1000},
    )
    assert {
        row["subledgerId"] for row in assert_conforms(INTEGRATION, filtered).json()["data"]
    } == {owners["subledger"]}
    for params in ({"pageSize": 0}, {"awaitsActivation": "false"}, {"startDate": "yesterday"}):
        assert assert_conforms(INTEGRATION, talon_one.get(base, params=params)).status_code == 400
    unknown = base.replace(owners["profile"], "nobody-here")
    assert assert_conforms(INTEGRATION, talon_one.get(unknown)).status_code == 404
    no_program = base.replace(str(PROFILE_PROGRAM), "999")
    assert assert_conforms(INTEGRATION, talon_one.get(no_program)).status_code == 404
    anonymous = requests.get(talon_one.base_url + base, timeout=10)
    assert assert_conforms(INTEGRATION, anonymous).status_code == 401


def test_card_transactions(talon_one: ApiSession, talon_one_admin: ApiSession) -> None:
    card = ledger_owners(talon_one_admin)["card"]
    base = f"/v1/loyalty_programs/{CARD_PROGRAM}/cards/{card}/transactions"
    page = assert_conforms(INTEGRATION, talon_one.get(base, params={"pageSize": 2})).json()
    assert page["data"] and all(row["cardIdentifier"] == card for row in page["data"])
    both = talon_one.get(
        base, params={"subledgerId": ["", "partner"], "loyaltyTransactionType": "manual"}
    )
    assert assert_conforms(INTEGRATION, both).status_code == 200
    bad = talon_one.get(base, params={"awaitsActivation": "false"})
    assert assert_conforms(INTEGRATION, bad).status_code == 400
    missing = base.replace(card, "CARD-0-000000")
    assert assert_conforms(INTEGRATION, talon_one.get(missing)).status_code == 404
    anonymous = requests.get(talon_one.base_url + base, timeout=10)
    assert assert_conforms(INTEGRATION, anonymous).status_code == 401


def test_balances(talon_one: ApiSession, talon_one_admin: ApiSession) -> None:
    owners = ledger_owners(talon_one_admin)
    tiered = f"/v1/loyalty_programs/{TIER_PROGRAM}/profile/{owners['tiered']}/balances"
    with_tiers = talon_one.get(
        tiered, params={"includeTiers": "true", "includeProjectedTier": "true"}
    )
    balance = assert_conforms(INTEGRATION, with_tiers).json()["balance"]
    assert "currentTier" in balance and "projectedTier" in balance
    profile = f"/v1/loyalty_programs/{PROFILE_PROGRAM}/profile/{owners['profile']}/balances"
    past = talon_one.get(
        profile, params={"endDate": "2024-06-01T00:00:00Z", "subledgerId": owners["subledger"]}
    )
    assert set(assert_conforms(INTEGRATION, past).json()["subledgerBalances"]) <= {
        owners["subledger"]
    }
    bad_date = talon_one.get(profile, params={"endDate": "soon"})
    assert assert_conforms(INTEGRATION, bad_date).status_code == 400
    assert (
        assert_conforms(
            INTEGRATION, talon_one.get(profile.replace(owners["profile"], "x"))
        ).status_code
        == 404
    )
    card = f"/v1/loyalty_programs/{CARD_PROGRAM}/cards/{owners['card']}/balances"
    card_balance = assert_conforms(
        INTEGRATION, talon_one.get(card, params={"subledgerId": "partner"})
    ).json()
    assert set(card_balance["subledgerBalances"]) == {"partner"}
    wrong_kind = card.replace(str(CARD_PROGRAM), str(PROFILE_PROGRAM))
    assert assert_conforms(INTEGRATION, talon_one.get(wrong_kind)).status_code == 400
    assert (
        assert_conforms(
            INTEGRATION, talon_one.get(card.replace(owners["card"], "NOPE-1"))
        ).status_code
        == 404
    )
    anonymous = requests.get(talon_one.base_url + card, timeout=10)
    assert assert_conforms(INTEGRATION, anonymous).status_code == 401


def documents(tree: str, path: str, method: str, status: int) -> bool:
    """Whether the split spec tree lists `status` for an operation (read from its path file)."""
    filename = path.strip("/").replace("/", "-") + ".yaml"
    operation = yaml.safe_load((SPECS_DIR / tree / "paths" / filename).read_text())[method]
    return str(status) in operation["responses"]


def test_bulk_profile_upsert(talon_one: ApiSession) -> None:
    body = {
        "customerProfiles": [
            {"integrationId": "contract-1", "attributes": {"Zażółć": [1, {"a": None}]}}
        ]
    }
    loud = talon_one.put("/v2/customer_profiles", params={"silent": "no"}, json=body)
    state = assert_conforms(INTEGRATION, loud).json()["integrationStates"][0]["customerProfile"]
    assert state["attributes"] == {"Zażółć": [1, {"a": None}]}
    quiet = talon_one.put("/v2/customer_profiles", json=body)
    # Spec defect: the 204 declares an application/json string body, but a 204 carries none, so
    # openapi-core would report "Missing response data"; check the documented status and no body.
    assert quiet.status_code == 204 and quiet.content == b""
    assert documents("talon-one-integration-api", "/v2/customer_profiles", "put", 204)
    too_many = {"customerProfiles": [{"integrationId": f"p{i}"} for i in range(1001)]}
    assert (
        assert_conforms(
            INTEGRATION, talon_one.put("/v2/customer_profiles", json=too_many)
        ).status_code
        == 400
    )
    bad_silent = talon_one.put("/v2/customer_profiles", params={"silent": "maybe"}, json=body)
    assert assert_conforms(INTEGRATION, bad_silent).status_code == 400
    anonymous = requests.put(talon_one.base_url + "/v2/customer_profiles", json=body, timeout=10)
    assert assert_conforms(INTEGRATION, anonymous).status_code == 401


def test_single_profile_update(talon_one: ApiSession, talon_one_admin: ApiSession) -> None:
    integration_id = ledger_owners(talon_one_admin)["profile"]
    body = {
        "attributes": {"Newsletter": False},
        "audiencesChanges": {"adds": [2], "deletes": [1]},
        "responseContent": ["customerProfile", "loyalty", "triggeredCampaigns"],
    }
    answer = assert_conforms(
        INTEGRATION, talon_one.put(f"/v2/customer_profiles/{integration_id}", json=body)
    ).json()
    assert answer["customerProfile"]["attributes"]["Newsletter"] is False
    assert str(PROFILE_PROGRAM) in answer["loyalty"]["programs"]
    unknown_audience = {"audiencesChanges": {"adds": [999], "deletes": []}}
    bad = talon_one.put(f"/v2/customer_profiles/{integration_id}", json=unknown_audience)
    assert assert_conforms(INTEGRATION, bad).status_code == 400
    anonymous = requests.put(
        f"{talon_one.base_url}/v2/customer_profiles/{integration_id}", json=body, timeout=10
    )
    assert assert_conforms(INTEGRATION, anonymous).status_code == 401


def test_audiences(talon_one: ApiSession, talon_one_admin: ApiSession) -> None:
    created = talon_one.post(
        "/v2/audiences",
        json={"name": "Contract", "integration": "mparticle", "integrationId": "c-1"},
    )
    audience = assert_conforms(INTEGRATION, created).json()
    again = talon_one.post(
        "/v2/audiences", json={"name": "Twin", "integration": "mparticle", "integrationId": "c-1"}
    )
    assert assert_conforms(INTEGRATION, again).status_code == 409
    assert (
        assert_conforms(
            INTEGRATION, talon_one.post("/v2/audiences", json={"title": "x"})
        ).status_code
        == 400
    )
    path = f"/v2/audiences/{audience['id']}"
    renamed = assert_conforms(INTEGRATION, talon_one.put(path, json={"name": "Renamed ✓"}))
    assert renamed.json()["name"] == "Renamed ✓"
    # updateAudienceV2 documents no 400: check the error body against the component itself.
    assert_error_body(talon_one.put(path, json={"name": ""}), 400, "ErrorResponseWithStatus")
    member = ledger_owners(talon_one_admin)["profile"]
    change = {
        "data": [{"action": "add", "profileIntegrationId": member, "audienceId": audience["id"]}]
    }
    assert (
        assert_conforms(
            INTEGRATION, talon_one.post("/v2/customer_audiences", json=change)
        ).status_code
        == 204
    )
    missing = {"data": [{"action": "add", "profileIntegrationId": member, "audienceId": 999}]}
    assert (
        assert_conforms(
            INTEGRATION, talon_one.post("/v2/customer_audiences", json=missing)
        ).status_code
        == 404
    )
    malformed = {"data": [{"action": "join", "profileIntegrationId": member, "audienceId": 1}]}
    assert (
        assert_conforms(
            INTEGRATION, talon_one.post("/v2/customer_audiences", json=malformed)
        ).status_code
        == 400
    )
    assert assert_conforms(INTEGRATION, talon_one.delete(path + "/memberships")).status_code == 204
    assert assert_conforms(INTEGRATION, talon_one.delete(path)).status_code == 204
    for gone in (
        talon_one.delete(path),
        talon_one.delete(path + "/memberships"),
        talon_one.put(path, json={"name": "x"}),
    ):
        assert assert_conforms(INTEGRATION, gone).status_code == 404
    assert assert_conforms(INTEGRATION, talon_one.delete("/v2/audiences/abc")).status_code == 400
    writes = (
        ("post", "/v2/audiences"),
        ("post", "/v2/customer_audiences"),
        ("put", path),
        ("delete", path),
        ("delete", path + "/memberships"),
    )
    for method, url in writes:
        anonymous = requests.request(method, talon_one.base_url + url, json={}, timeout=10)
        assert assert_conforms(INTEGRATION, anonymous).status_code == 401


def test_customer_data_and_inventory(talon_one: ApiSession, talon_one_admin: ApiSession) -> None:
    integration_id = ledger_owners(talon_one_admin)["profile"]
    flags = dict.fromkeys(
        ("profile", "loyalty", "coupons", "referrals", "giveaways", "achievements"), "true"
    )
    inventory = talon_one.get(f"/v1/customer_profiles/{integration_id}/inventory", params=flags)
    assert (
        assert_conforms(INTEGRATION, inventory).json()["profile"]["integrationId"] == integration_id
    )
    assert (
        assert_conforms(
            INTEGRATION, talon_one.delete(f"/v1/customer_data/{integration_id}")
        ).status_code
        == 204
    )
    assert (
        assert_conforms(
            INTEGRATION, talon_one.delete(f"/v1/customer_data/{integration_id}")
        ).status_code
        == 404
    )
    gone = talon_one.get(f"/v1/customer_profiles/{integration_id}/inventory")
    assert assert_conforms(INTEGRATION, gone).status_code == 404
    for method, url in (("get", f"/v1/customer_profiles/{integration_id}/inventory"),
                        ("delete", f"/v1/customer_data/{integration_id}")):  # fmt: skip
        anonymous = requests.request(method, talon_one.base_url + url, timeout=10)
        assert assert_conforms(INTEGRATION, anonymous).status_code == 401


def test_management_lists(talon_one_management: ApiSession) -> None:
    mgmt = talon_one_management
    programs = assert_conforms(MANAGEMENT, mgmt.get("/v1/loyalty_programs")).json()
    assert programs["totalResultSize"] == len(programs["data"]) >= 3
    feed = f"/v1/loyalty_programs/{PROFILE_PROGRAM}/transactions"
    assert len(assert_conforms(MANAGEMENT, mgmt.get(feed)).json()["data"]) == 50
    card_feed = mgmt.get(
        f"/v1/loyalty_programs/{CARD_PROGRAM}/transactions", params={"subledgerId": "partner"}
    )
    assert all(
        row["cardIdentifier"] for row in assert_conforms(MANAGEMENT, card_feed).json()["data"]
    )
    assert assert_conforms(MANAGEMENT, mgmt.get(feed, params={"pageSize": 1001})).status_code == 400
    assert assert_conforms(MANAGEMENT, mgmt.get(feed.replace("101", "999"))).status_code == 404
    cards = f"/v1/loyalty_programs/{CARD_PROGRAM}/cards"
    listed = assert_conforms(
        MANAGEMENT, mgmt.get(cards, params={"pageSize": 5, "sort": "-created"})
    ).json()
    assert len(listed["data"]) == 5 and listed["hasMore"] is True
    assert (
        assert_conforms(MANAGEMENT, mgmt.get(cards, params={"sort": "colour"})).status_code == 400
    )
    # getLoyaltyCards documents no 404: check the error body against the component itself.
    assert_error_body(mgmt.get(cards.replace("103", "999")), 404, "ErrorResponseWithStatus")
    customers = assert_conforms(
        MANAGEMENT, mgmt.get("/v1/customers/no_total", params={"pageSize": 7})
    ).json()
    assert len(customers["data"]) == 7 and customers["hasMore"] is True
    sandbox_only = mgmt.get("/v1/customers/no_total", params={"sandbox": "true"})
    assert assert_conforms(MANAGEMENT, sandbox_only).json() == {"hasMore": False, "data": []}
    # getCustomerProfiles documents only 200: check the 400 body against the component itself.
    assert_error_body(
        mgmt.get("/v1/customers/no_total", params={"pageSize": 0}), 400, "ErrorResponseWithStatus"
    )
    for url in (feed, cards):
        assert (
            assert_conforms(MANAGEMENT, requests.get(mgmt.base_url + url, timeout=10)).status_code
            == 401
        )
    # getLoyaltyPrograms and getCustomerProfiles document no 401: check the body directly.
    for url in ("/v1/loyalty_programs", "/v1/customers/no_total"):
        assert_error_body(
            requests.get(mgmt.base_url + url, timeout=10), 401, "ErrorResponseWithStatus"
        )


def test_balance_exports(talon_one_management: ApiSession) -> None:
    mgmt = talon_one_management
    customers = mgmt.get(f"/v1/loyalty_programs/{PROFILE_PROGRAM}/export_customer_balances")
    header = assert_conforms(MANAGEMENT, customers).text.splitlines()[0]
    assert header.startswith("loyaltyProgramID,loyaltySubledger,")
    cards = mgmt.get(
        f"/v1/loyalty_programs/{CARD_PROGRAM}/export_card_balances",
        params={"endDate": "2025-01-01"},
    )
    assert assert_conforms(MANAGEMENT, cards).headers["content-type"].startswith("application/csv")
    # Spec defect: the exports' 400 and 401 declare an error *object* as application/csv, which no
    # body can satisfy; the sandbox answers JSON errors, checked against the component itself.
    unsupported = mgmt.get(
        f"/v1/loyalty_programs/{CARD_PROGRAM}/export_card_balances",
        params={"balances": "negativeBalance"},
    )
    assert_error_body(unsupported, 400, "ErrorResponseWithStatus")
    wrong_kind = mgmt.get(f"/v1/loyalty_programs/{CARD_PROGRAM}/export_customer_balances")
    assert_error_body(wrong_kind, 400, "ErrorResponseWithStatus")
    anonymous = requests.get(
        f"{mgmt.base_url}/v1/loyalty_programs/{PROFILE_PROGRAM}/export_customer_balances",
        timeout=10,
    )
    assert_error_body(anonymous, 401, "ErrorResponseWithStatus")
    assert documents(
        "talon-one-management-api",
        "/v1/loyalty_programs/{loyaltyProgramId}/export_card_balances",
        "get",
        401,
    )


@pytest.mark.parametrize(
    ("fixture", "url"),
    [
        ("talon_one", "/v1/loyalty_programs"),
        ("talon_one_management", f"/v1/loyalty_programs/{PROFILE_PROGRAM}/profile/x/balances"),
    ],
)
def test_a_key_of_the_other_api_is_refused(
    fixture: str, url: str, request: pytest.FixtureRequest
) -> None:
    session = request.getfixturevalue(fixture)
    response = session.get(url)
    assert response.status_code == 401
    spec = MANAGEMENT if fixture == "talon_one" else INTEGRATION
    if spec == MANAGEMENT:  # getLoyaltyPrograms documents no 401 (see test_management_lists)
        assert_error_body(response, 401, "ErrorResponseWithStatus")
    else:
        assert_conforms(spec, response)


def test_rate_limits_answer_429_with_an_error_response(
    talon_one: ApiSession, talon_one_management: ApiSession, talon_one_admin: ApiSession
) -> None:
    talon_one_admin.put(
        "/_sandbox/config",
        json={"management_requests_per_second": 1, "talon_one_requests_per_minute": 1},
    )
    for session, url in (
        (talon_one_management, "/v1/loyalty_programs"),
        (talon_one, "/v1/customer_profiles/x/inventory"),
    ):
        session.get(url)
        limited = session.get(url)
        # Talon.One documents no 429 anywhere: check the body against `ErrorResponse` itself.
        assert_error_body(limited, 429)
        assert int(limited.headers["Retry-After"]) >= 1


def test_every_generated_record_conforms(
    talon_one: ApiSession, talon_one_management: ApiSession, talon_one_admin: ApiSession
) -> None:
    mgmt = talon_one_management
    talon_one_admin.post(
        "/_sandbox/mutate", json={"create_profiles": 3, "add_cards": 2, "add_transactions": 30}
    )
    for url in ("/v1/customers/no_total", f"/v1/loyalty_programs/{CARD_PROGRAM}/cards"):
        assert (
            assert_conforms(MANAGEMENT, mgmt.get(url, params={"pageSize": 1000})).json()["hasMore"]
            is False
        )
    for program in (PROFILE_PROGRAM, TIER_PROGRAM, CARD_PROGRAM):
        feed = mgmt.get(f"/v1/loyalty_programs/{program}/transactions", params={"pageSize": 1000})
        assert assert_conforms(MANAGEMENT, feed).json()["hasMore"] is False
    card_holder = next(
        c for c in talon_one_admin.get("/_sandbox/truth/cards").json() if c.get("profiles")
    )
    holder = card_holder["profiles"][0]["integrationId"]
    inventory = talon_one.get(
        f"/v1/customer_profiles/{holder}/inventory", params={"loyalty": "true"}
    )
    assert assert_conforms(INTEGRATION, inventory).json()["loyalty"]["cards"]
