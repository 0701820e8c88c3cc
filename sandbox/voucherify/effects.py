"""What logged activity does to a customer: the fields it changes and whether updated_at moves.

The table of choices, with its sources, is in docs/SANDBOX.md ("Activity and the customer").
"""

from __future__ import annotations

import random
from typing import Any

from promosync.sandbox.asgi import AdminError
from promosync.sandbox.settings import SandboxSettings
from promosync.sandbox.voucherify.activities import KINDS, Activity
from promosync.sandbox.voucherify.instants import iso
from promosync.sandbox.voucherify.loyalty_data import Card
from promosync.sandbox.voucherify.segments import ENTERED, LEFT
from promosync.sandbox.voucherify.state import VoucherifyState

REDEMPTIONS = {  # event type -> counters of summary.redemptions it adds one to
    "customer.redemption.succeeded": ("total_redeemed", "total_succeeded"),
    "customer.redemption.failed": ("total_redeemed", "total_failed"),
}
PAID = "customer.order.paid"  # only PAID/FULFILLED orders count in summary.orders (spec)
POINTS = {  # event type -> the loyalty card transaction behind it
    "customer.rewarded.loyalty_points": "POINTS_ACCRUAL",
    "customer.voucher.loyalty_card.points_added": "POINTS_ADDITION",
}
POINTS_EVENTS = {  # transaction type -> the event logged for it
    "POINTS_ACCRUAL": "customer.rewarded.loyalty_points",
    "POINTS_ADDITION": "customer.voucher.loyalty_card.points_added",
    "POINTS_REDEMPTION": "customer.reward_redemptions.completed",
}
# What `add_activities` takes as `type`: every kind the sandbox generates, except creation.
TYPES = tuple(kind[0] for kind in KINDS if kind[0] != "customer.created")


def touch_at(
    settings: SandboxSettings, at: int, *, changed: bool, segment_move: bool = False
) -> int | None:
    """`at` if this activity moves the customer's updated_at under the configured reading."""
    if segment_move:
        moves = settings.voucherify_segment_move_touches_updated_at == "yes"
    else:
        policy = settings.voucherify_activity_touches_updated_at
        moves = policy == "always" or (policy == "changed_fields" and changed)
    return at if moves else None


def _created_us(state: VoucherifyState, customer: dict[str, Any]) -> int:
    return state.store.keys(customer["id"])[0]


def move_segment(
    state: VoucherifyState,
    settings: SandboxSettings,
    customer: dict[str, Any],
    event_type: str,
    segment: dict[str, Any],
    at: int,
) -> Activity | None:
    """Enter or leave a segment, logging the event; None if the customer already was there."""
    members = state.memberships
    moved = members.enter if event_type == ENTERED else members.leave
    if not moved(customer["id"], segment):
        return None
    details = {"segment": {"id": segment["id"], "name": segment["name"], "object": "segment"}}
    event = state.activities.record(customer, _created_us(state, customer), at, event_type, details)
    touched = touch_at(settings, at, changed=False, segment_move=True)
    if touched is not None:
        state.amend(customer["id"], {}, touched)
    return event


def post_points(
    state: VoucherifyState, settings: SandboxSettings, card: Card, kind: str, points: int, at: int
) -> tuple[str, Activity]:
    """A loyalty card transaction, the event it logs, and the customer's loyalty fields."""
    tx = state.loyalty.add(card, kind, points, at)
    customer = state.store.by_id[card.customer_id]
    campaign = state.loyalty.campaign(card.campaign_id)
    details = {
        "campaign": {"id": campaign["id"], "name": campaign["name"], "type": "LOYALTY_PROGRAM"},
        "voucher": {"id": card.voucher_id, "code": card.code, "object": "voucher"},
        "balance": {
            "type": "loyalty_card",
            "points": points,
            "balance": card.balance,
            "object": "balance",
        },
    }
    event = state.activities.record(
        customer, _created_us(state, customer), at, POINTS_EVENTS[kind], details
    )
    redeemed = -points if kind == "POINTS_REDEMPTION" else 0
    state.refresh_loyalty(card.customer_id, touch_at(settings, at, changed=True), redeemed)
    return tx.id, event


def _summary_change(customer: dict[str, Any], event: Activity, at: int) -> dict[str, Any] | None:
    """The customer's new `summary` after a redemption or a paid order; None for other kinds."""
    event_type = event.body["type"]
    summary = customer["summary"]
    if event_type in REDEMPTIONS:
        redemptions = {**summary["redemptions"]}
        for counter in REDEMPTIONS[event_type]:
            redemptions[counter] = (redemptions.get(counter) or 0) + 1
        return {**summary, "redemptions": redemptions}
    if event_type == PAID:
        amount = event.body["data"]["order"]["amount"]
        orders = summary["orders"]
        total, count = (orders["total_amount"] or 0) + amount, (orders["total_count"] or 0) + 1
        return {
            **summary,
            "orders": {
                "total_amount": total,
                "total_count": count,
                "average_amount": total // count,
                "last_order_amount": amount,
                "last_order_date": iso(at),
            },
        }
    return None


def log_activity(
    state: VoucherifyState,
    settings: SandboxSettings,
    customer: dict[str, Any],
    event_type: str | None,
    at: int,
    rng: random.Random,
) -> Activity:
    """Log one activity of `event_type` ("any": a kind at random, None: a field-neutral kind at
    random) with every effect it has on the customer; AdminError where it cannot happen."""
    cards = state.loyalty.cards_of.get(customer["id"], [])
    current = {s["id"] for s in state.segments_of(customer["id"])}
    to_enter = [s for s in state.memberships.catalogue if s["id"] not in current]
    to_leave = [s for s in state.memberships.catalogue if s["id"] in current]
    if event_type == "any":
        impossible = {*(() if cards else POINTS), *(() if to_enter else (ENTERED,))}
        impossible |= set() if to_leave else {LEFT}
        event_type = rng.choice([t for t in TYPES if t not in impossible])
    if event_type is not None and event_type not in TYPES:
        raise AdminError(f"add_activities.type must be one of any, {', '.join(TYPES)}")
    if event_type == "customer.updated":
        revision = {"metadata": {"sandbox_revision": rng.randrange(10**9)}}
        state.update(customer, revision, at)
        assert state.activities.latest is not None  # update logs customer.updated
        return state.activities.latest
    if event_type in (ENTERED, LEFT):
        pool = to_enter if event_type == ENTERED else to_leave
        if not pool:
            where = "every" if event_type == ENTERED else "no"
            raise AdminError(f"add_activities: customer {customer['id']} is in {where} segment")
        moved = move_segment(state, settings, customer, event_type, rng.choice(pool), at)
        assert moved is not None  # the pool holds only moves that change something
        return moved
    if event_type in POINTS:
        if not cards:
            raise AdminError(f"add_activities: customer {customer['id']} has no loyalty card")
        card = rng.choice(cards)
        return post_points(
            state, settings, card, POINTS[event_type], rng.choice((10, 50, 100)), at
        )[1]
    event = state.activities.record(customer, _created_us(state, customer), at, event_type)
    summary = _summary_change(customer, event, at)
    touched = touch_at(settings, at, changed=summary is not None)
    if summary is not None or touched is not None:
        state.amend(customer["id"], {"summary": summary or customer["summary"]}, touched)
    return event
