"""Admin mutations that log activity: events, loyalty points and segment moves (see `admin`)."""

from __future__ import annotations

import random
from typing import Any

from promosync.sandbox.asgi import AdminError
from promosync.sandbox.settings import SandboxSettings
from promosync.sandbox.voucherify.effects import log_activity, move_segment, post_points
from promosync.sandbox.voucherify.params import ApiError
from promosync.sandbox.voucherify.segments import ENTERED, LEFT
from promosync.sandbox.voucherify.state import VoucherifyState


def count(value: Any, name: str) -> int:
    """A non-negative integer; AdminError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AdminError(f"{name} must be a non-negative integer")
    return value


def pick(state: VoucherifyState, value: Any, name: str) -> list[dict[str, Any]]:
    """Customers named by a count (random ones) or a list of ids / source_ids."""
    if isinstance(value, list):
        found = []
        for key in value:
            customer = state.store.resolve(key) if isinstance(key, str) else None
            if customer is None:
                raise AdminError(f"{name}: no customer with id or source_id {key!r}")
            found.append(customer)
        return found
    wanted = count(value, name)
    if wanted > len(state.store):
        raise AdminError(f"{name}: only {len(state.store)} customers exist")
    return [state.store.by_id[i] for i in state.random.sample(sorted(state.store.by_id), wanted)]


def add_activities(
    state: VoucherifyState, settings: SandboxSettings, value: Any, now: int
) -> list[dict[str, str]]:
    """`{"customers": N | [ids], "per_customer": n, "type": optional}`."""
    if not isinstance(value, dict) or "customers" not in value:
        raise AdminError(
            'add_activities must be {"customers": N | [ids], "per_customer": n, "type": optional}'
        )
    per_customer = count(value.get("per_customer", 1), "add_activities.per_customer")
    event_type = value.get("type")
    added = []
    for customer in pick(state, value["customers"], "add_activities.customers"):
        for _ in range(per_customer):
            current = state.store.by_id[customer["id"]]  # each event may have changed it
            event = log_activity(state, settings, current, event_type, now, state.random)
            added.append(
                {"customer_id": customer["id"], "id": event.id, "type": event.body["type"]}
            )
    return added


def add_loyalty_transactions(
    state: VoucherifyState, settings: SandboxSettings, value: Any, now: int
) -> list[str]:
    """N, or `{"count": N, "campaign_id": optional id or name}`."""
    spec = value if isinstance(value, dict) else {"count": value}
    wanted = count(spec.get("count"), "add_loyalty_transactions.count")
    cards = list(state.loyalty.cards.values())
    if spec.get("campaign_id") is not None:
        try:
            campaign = state.loyalty.campaign(str(spec["campaign_id"]))
        except ApiError:
            raise AdminError(
                f"add_loyalty_transactions: unknown campaign {spec['campaign_id']!r}"
            ) from None
        cards = [card for card in cards if card.campaign_id == campaign["id"]]
    if not cards and wanted:
        raise AdminError("add_loyalty_transactions: no loyalty card to post to")
    posted = []
    for _ in range(wanted):
        card = state.random.choice(cards)
        if card.balance > 0 and state.random.random() < 0.3:
            points = -state.random.randint(1, card.balance)
            tx_id, _ = post_points(state, settings, card, "POINTS_REDEMPTION", points, now)
        else:
            points = state.random.choice((10, 50, 100))
            tx_id, _ = post_points(state, settings, card, "POINTS_ADDITION", points, now)
        posted.append(tx_id)
    return posted


def _segments(state: VoucherifyState, keys: Any, name: str) -> list[dict[str, Any]]:
    if not isinstance(keys, list):
        raise AdminError(f"{name} must be a list of segment ids or names")
    found = []
    for key in keys:
        segment = state.memberships.segment(key) if isinstance(key, str) else None
        if segment is None:
            raise AdminError(f"{name}: no segment with id or name {key!r}")
        found.append(segment)
    return found


def move_segments(
    state: VoucherifyState, settings: SandboxSettings, value: Any, now: int
) -> list[dict[str, str]]:
    """N random moves, or `[{"customer": id or source_id, "enter": [..], "leave": [..]}]`."""
    moves: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("customer"), str):
                raise AdminError(
                    'move_segments items must be {"customer": id, "enter": [..], "leave": [..]}'
                )
            customer = pick(state, [item["customer"]], "move_segments.customer")[0]
            enter = _segments(state, item.get("enter", []), "move_segments.enter")
            leave = _segments(state, item.get("leave", []), "move_segments.leave")
            moves += [(customer, ENTERED, s) for s in enter] + [(customer, LEFT, s) for s in leave]
    else:
        moves = [_random_move(state, c, state.random) for c in pick(state, value, "move_segments")]
    out = []
    for customer, event_type, segment in moves:
        current = state.store.by_id[customer["id"]]
        event = move_segment(state, settings, current, event_type, segment, now)
        if event is not None:  # entering a segment one is in (or leaving one not) logs nothing
            out.append(
                {
                    "customer_id": customer["id"],
                    "segment_id": segment["id"],
                    "type": event_type,
                    "activity_id": event.id,
                }
            )
    return out


def _random_move(
    state: VoucherifyState, customer: dict[str, Any], rng: random.Random
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    current = {s["id"] for s in state.segments_of(customer["id"])}
    catalogue = state.memberships.catalogue
    inside = [s for s in catalogue if s["id"] in current]
    if inside and (len(inside) == len(catalogue) or rng.random() < 0.5):
        return customer, LEFT, rng.choice(inside)
    return customer, ENTERED, rng.choice([s for s in catalogue if s["id"] not in current])
