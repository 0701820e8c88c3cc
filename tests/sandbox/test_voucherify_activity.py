"""Activity in the sandbox changes the customer as the real API would; segments move."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.contract import assert_conforms

ENTERED, LEFT = "customer.segment.entered", "customer.segment.left"


def mutate(admin, payload: dict[str, Any]) -> dict[str, Any]:
    """POST /_sandbox/mutate; fail on a refusal."""
    response = admin.post("/_sandbox/mutate", json=payload)
    assert response.status_code == 200, response.text
    return response.json()


def customer(session, customer_id: str) -> dict[str, Any]:
    """GET /v1/customers/{id}, validated."""
    return assert_conforms("voucherify", session.get(f"/v1/customers/{customer_id}")).json()


def newest_events(session, customer_id: str, limit: int = 10) -> list[dict[str, Any]]:
    """The customer's newest activity, validated."""
    page = session.get(f"/v1/customers/{customer_id}/activity", params={"limit": limit})
    return assert_conforms("voucherify", page).json()["data"]


def replayed_membership(events: list[dict[str, Any]]) -> set[str]:
    """Segment ids a customer is in after their entered/left events, oldest first."""
    members: set[str] = set()
    for event in sorted(events, key=lambda e: e["created_at"]):
        if event["type"] == ENTERED:
            members.add(event["data"]["segment"]["id"])
        elif event["type"] == LEFT:
            members.discard(event["data"]["segment"]["id"])
    return members


def test_generated_segment_events_end_in_the_generated_membership(voucherify_admin):
    activities = voucherify_admin.get("/_sandbox/truth/activities").json()
    segments = voucherify_admin.get("/_sandbox/truth/segments").json()
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for event in activities:
        by_customer.setdefault(event["customer_id"], []).append(event)
    moves = sum(e["type"] in (ENTERED, LEFT) for e in activities)
    assert moves > len(segments)  # members enter, and some leave again
    for entry in segments:
        replayed = replayed_membership(by_customer.get(entry["customer_id"], []))
        assert replayed == {s["id"] for s in entry["segments"]}, entry["customer_id"]


@pytest.mark.parametrize("touches", ["no", "yes"])
def test_moving_a_customer_logs_the_move_and_touches_updated_at_as_configured(
    voucherify, voucherify_admin, configure, touches
):
    configure(voucherify_segment_move_touches_updated_at=touches)
    entry = next(
        e for e in voucherify_admin.get("/_sandbox/truth/segments").json() if e["segments"]
    )
    before = customer(voucherify, entry["customer_id"])
    leaving = entry["segments"][0]
    catalogue = {
        s["id"]: s
        for e in voucherify_admin.get("/_sandbox/truth/segments").json()
        for s in e["segments"]
    }
    entering = next(s for s in catalogue.values() if s not in entry["segments"])
    move = {"customer": entry["source_id"], "enter": [entering["name"]], "leave": [leaving["id"]]}
    moves = mutate(voucherify_admin, {"move_segments": [move]})["segment_moves"]
    assert [(m["type"], m["segment_id"]) for m in moves] == [
        (ENTERED, entering["id"]),
        (LEFT, leaving["id"]),
    ]

    segments = voucherify.get(f"/v1/customers/{entry['customer_id']}/segments")
    held = {s["id"] for s in assert_conforms("voucherify", segments).json()["data"]}
    assert held == {s["id"] for s in entry["segments"]} - {leaving["id"]} | {entering["id"]}
    events = newest_events(voucherify, entry["customer_id"])
    logged = {e["id"]: e for e in events}
    for m in moves:
        event = logged[m["activity_id"]]
        assert event["type"] == m["type"]
        assert event["data"]["segment"] == {**catalogue[m["segment_id"]], "object": "segment"}
        assert event["data"]["customer"]["id"] == entry["customer_id"]
    after = customer(voucherify, entry["customer_id"])
    assert (after["updated_at"] != before["updated_at"]) is (touches == "yes")
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }
    again = mutate(voucherify_admin, {"move_segments": [move]})["segment_moves"]
    assert again == []  # already in the one, already out of the other: nothing logged


def test_random_segment_moves(voucherify_admin):
    moves = mutate(voucherify_admin, {"move_segments": 7})["segment_moves"]
    assert len(moves) == 7 and {m["type"] for m in moves} <= {ENTERED, LEFT}
    truth = {e["customer_id"]: e for e in voucherify_admin.get("/_sandbox/truth/segments").json()}
    activities = voucherify_admin.get("/_sandbox/truth/activities").json()
    for move in moves:
        events = [e for e in activities if e["customer_id"] == move["customer_id"]]
        assert replayed_membership(events) == {
            s["id"] for s in truth[move["customer_id"]]["segments"]
        }


def _paid_order_effect(before: dict[str, Any], amount: int) -> dict[str, Any]:
    orders = before["summary"]["orders"]
    total, count = orders["total_amount"] + amount, orders["total_count"] + 1
    return {
        "total_amount": total,
        "total_count": count,
        "average_amount": total // count,
        "last_order_amount": amount,
    }


@pytest.mark.parametrize("policy", ["changed_fields", "never", "always"])
def test_a_paid_order_moves_the_order_summary_and_updated_at_per_policy(
    voucherify, voucherify_admin, configure, policy
):
    configure(voucherify_activity_touches_updated_at=policy)
    target = voucherify_admin.get("/_sandbox/truth/customers").json()[5]
    added = {"customers": [target["id"]], "per_customer": 1, "type": "customer.order.paid"}
    (event,) = mutate(voucherify_admin, {"add_activities": added})["activities"]
    after = customer(voucherify, target["id"])
    logged = next(e for e in newest_events(voucherify, target["id"]) if e["id"] == event["id"])
    amount = logged["data"]["order"]["amount"]
    orders = after["summary"]["orders"]
    assert {k: orders[k] for k in _paid_order_effect(target, amount)} == _paid_order_effect(
        target, amount
    )
    assert orders["last_order_date"] == logged["created_at"]
    assert (after["updated_at"] == logged["created_at"]) is (policy != "never")
    assert (after["updated_at"] == target["updated_at"]) is (policy == "never")


def test_redemptions_count_in_the_redemption_summary(voucherify, voucherify_admin):
    target = voucherify_admin.get("/_sandbox/truth/customers").json()[7]
    for kind in ("customer.redemption.succeeded", "customer.redemption.failed"):
        mutate(voucherify_admin, {"add_activities": {"customers": [target["id"]], "type": kind}})
    before, after = (
        target["summary"]["redemptions"],
        customer(voucherify, target["id"])["summary"]["redemptions"],
    )
    assert after["total_redeemed"] == before["total_redeemed"] + 2
    assert after["total_succeeded"] == before["total_succeeded"] + 1
    assert after["total_failed"] == before["total_failed"] + 1


def test_points_added_post_a_transaction_and_move_the_loyalty_fields(voucherify, voucherify_admin):
    transactions = voucherify_admin.get("/_sandbox/truth/loyalty_transactions").json()
    member = transactions[0]["customer_id"]
    before = customer(voucherify, member)
    added = {
        "customers": [member],
        "per_customer": 2,
        "type": "customer.voucher.loyalty_card.points_added",
    }
    events = mutate(voucherify_admin, {"add_activities": added})["activities"]
    after = customer(voucherify, member)
    logged = {e["id"]: e for e in newest_events(voucherify, member)}
    points = sum(logged[e["id"]]["data"]["balance"]["points"] for e in events)
    assert after["loyalty"]["points"] == before["loyalty"]["points"] + points
    assert (
        after["summary"]["redemptions"]["loyalty_card"]["points_to_go"]
        == after["loyalty"]["points"]
    )
    now = voucherify_admin.get("/_sandbox/truth/loyalty_transactions").json()
    assert len(now) == len(transactions) + 2
    assert after["updated_at"] > before["updated_at"]  # a field changed (default reading)


def test_loyalty_transactions_log_their_activity_and_count_redeemed_points(
    voucherify, voucherify_admin
):
    customers = {c["id"]: c for c in voucherify_admin.get("/_sandbox/truth/customers").json()}
    ledger = voucherify_admin.get("/_sandbox/truth/loyalty_transactions").json()
    for customer_id, held in customers.items():  # generated summaries add up the ledger
        spent = -sum(
            t["details"]["balance"]["points"]
            for t in ledger
            if t["customer_id"] == customer_id and t["type"] == "POINTS_REDEMPTION"
        )
        assert held["summary"]["redemptions"]["loyalty_card"]["redeemed_points"] == spent
    posted = mutate(voucherify_admin, {"add_loyalty_transactions": 20})["loyalty_transactions"]
    ledger = {
        t["id"]: t for t in voucherify_admin.get("/_sandbox/truth/loyalty_transactions").json()
    }
    activities = voucherify_admin.get("/_sandbox/truth/activities").json()
    kinds = {
        "POINTS_ADDITION": "customer.voucher.loyalty_card.points_added",
        "POINTS_REDEMPTION": "customer.reward_redemptions.completed",
    }
    for tx_id in posted:
        tx = ledger[tx_id]
        assert any(
            e["customer_id"] == tx["customer_id"]
            and e["type"] == kinds[tx["type"]]
            and e["data"].get("voucher", {}).get("id") == tx["voucher_id"]
            and e["created_at"] == tx["created_at"]
            for e in activities
        )
    for customer_id in {ledger[t]["customer_id"] for t in posted}:
        spent = -sum(
            t["details"]["balance"]["points"]
            for t in ledger.values()
            if t["customer_id"] == customer_id and t["type"] == "POINTS_REDEMPTION"
        )
        assert (
            customer(voucherify, customer_id)["summary"]["redemptions"]["loyalty_card"][
                "redeemed_points"
            ]
            == spent
        )


@pytest.mark.parametrize("policy", ["changed_fields", "always"])
def test_activity_without_a_type_changes_no_field(voucherify, voucherify_admin, configure, policy):
    configure(voucherify_activity_touches_updated_at=policy)
    truth = voucherify_admin.get("/_sandbox/truth/customers").json()[:20]
    added = mutate(
        voucherify_admin,
        {"add_activities": {"customers": [c["id"] for c in truth], "per_customer": 3}},
    )
    assert len(added["activities"]) == 60
    for before in truth:
        after = customer(voucherify, before["id"])
        assert {k: v for k, v in after.items() if k != "updated_at"} == {
            k: v for k, v in before.items() if k != "updated_at"
        }
        assert (after["updated_at"] != before["updated_at"]) is (policy == "always")


def test_any_kind_keeps_every_customer_consistent(voucherify, voucherify_admin):
    added = mutate(
        voucherify_admin, {"add_activities": {"customers": 30, "per_customer": 4, "type": "any"}}
    )
    assert len({a["type"] for a in added["activities"]}) > 5
    segments = {
        e["customer_id"]: e for e in voucherify_admin.get("/_sandbox/truth/segments").json()
    }
    activities = voucherify_admin.get("/_sandbox/truth/activities").json()
    for customer_id in {a["customer_id"] for a in added["activities"]}:
        events = [e for e in activities if e["customer_id"] == customer_id]
        assert replayed_membership(events) == {s["id"] for s in segments[customer_id]["segments"]}
        held = customer(voucherify, customer_id)
        assert held["loyalty"]["points"] == sum(
            c["points"] for c in held["loyalty"]["campaigns"].values()
        )


def test_the_background_generator_logs_activity_while_time_passes(voucherify_admin, configure):
    before = len(voucherify_admin.get("/_sandbox/truth/activities").json())
    configure(voucherify_activity_per_minute=6000.0)  # a hundred a second
    time.sleep(0.3)
    grown = len(voucherify_admin.get("/_sandbox/truth/activities").json())
    assert grown - before >= 20
    configure(voucherify_activity_per_minute=0.0)
    settled = len(voucherify_admin.get("/_sandbox/truth/activities").json())
    time.sleep(0.2)
    assert len(voucherify_admin.get("/_sandbox/truth/activities").json()) == settled


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (
            {"add_activities": {"customers": 1, "type": "customer.teleported"}},
            "add_activities.type",
        ),
        ({"add_activities": {"customers": 1, "type": "customer.created"}}, "add_activities.type"),
        ({"move_segments": [{"customer": "nobody", "enter": []}]}, "nobody"),
        ({"move_segments": [{"enter": ["VIP — top 1 %"]}]}, "move_segments"),
        ({"move_segments": "some"}, "move_segments"),
    ],
)
def test_bad_activity_mutations_are_refused_with_a_reason(voucherify_admin, payload, fragment):
    response = voucherify_admin.post("/_sandbox/mutate", json=payload)
    assert response.status_code == 400 and fragment in response.json()["error"], response.text


def test_unknown_segment_and_points_without_a_card_are_refused(voucherify_admin):
    truth = voucherify_admin.get("/_sandbox/truth/customers").json()
    someone = truth[0]["id"]
    unknown = {"move_segments": [{"customer": someone, "enter": ["Astronauts"]}]}
    response = voucherify_admin.post("/_sandbox/mutate", json=unknown)
    assert response.status_code == 400 and "Astronauts" in response.json()["error"]
    members = {
        t["customer_id"]
        for t in voucherify_admin.get("/_sandbox/truth/loyalty_transactions").json()
    }
    cardless = next(
        c["id"] for c in truth if c["id"] not in members and not c["loyalty"]["campaigns"]
    )
    points = {"customers": [cardless], "type": "customer.rewarded.loyalty_points"}
    response = voucherify_admin.post("/_sandbox/mutate", json={"add_activities": points})
    assert response.status_code == 400 and "no loyalty card" in response.json()["error"]
