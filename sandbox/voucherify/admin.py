"""Admin mutations and ground truth of the Voucherify simulator.

`POST /_sandbox/mutate` takes a JSON object with any of these keys, applied in this order:

- `create_customers`: N (generate N new customers) or a list of customer objects
  (CustomerBase fields plus `source_id`; an existing id or source_id is refused).
- `update_customers`: N (N random customers get a random `metadata.sandbox_revision`) or a list of
  `{"id" or "source_id": ..., <CustomerBase fields>}`.
- `delete_customers`: N random customers, or a list of ids / source_ids.
- `add_activities`: `{"customers": N | [ids or source_ids], "per_customer": n, "type": T}`; with
  no `type`, kinds that change no customer field; a `type` from `effects.TYPES` (or `"any"`)
  logs that kind with every effect it has on the customer (docs/SANDBOX.md).
- `add_loyalty_transactions`: N, or `{"count": N, "campaign_id": optional id or name}`; each
  also logs its activity and updates the member's loyalty fields.
- `move_segments`: N random moves, or `[{"customer": id or source_id, "enter": [segment ids or
  names], "leave": [...]}]`; each move logs `customer.segment.entered` / `.left`.
- `tie_storm`: `{"count": N, "updated_at": optional ISO instant, default now}`: N customers get
  that one identical `updated_at`, as a bulk import does.

`GET /_sandbox/truth/{collection}` serves `customers`, `activities` (each event plus its
`customer_id`), `segments` (`{customer_id, source_id, segments}`), `loyalty_campaigns`,
`loyalty_transactions` (each plus `member_id`, the card code, and `customer_id`),
`async_actions` (with their results) and `applied_rows` (each customer row a finished async
action applied: `{async_action_id, type, source_id}`, so a test can prove no row was pushed twice).

Every change is stamped with the real clock (except `tie_storm` given an instant). The answer
names what changed: `{"created": [ids], "updated": [ids], "deleted": [ids], "activities":
[{"customer_id", "id", "type"}], "loyalty_transactions": [ids], "segment_moves": [{"customer_id",
"segment_id", "type", "activity_id"}], "tie_storm": {"updated_at", "customers"}}` (only the keys
that were asked for).
"""

from __future__ import annotations

from typing import Any

from promosync.sandbox.asgi import AdminError
from promosync.sandbox.people import FIRST_NAMES, LAST_NAMES
from promosync.sandbox.settings import SandboxSettings
from promosync.sandbox.voucherify.admin_activity import (
    add_activities,
    add_loyalty_transactions,
    count,
    move_segments,
    pick,
)
from promosync.sandbox.voucherify.async_actions import AsyncActions
from promosync.sandbox.voucherify.data import metadata
from promosync.sandbox.voucherify.instants import iso, parse_instant
from promosync.sandbox.voucherify.state import VoucherifyState, invalid_field

STEPS = (
    "create_customers",
    "update_customers",
    "delete_customers",
    "add_activities",
    "add_loyalty_transactions",
    "move_segments",
    "tie_storm",
)


def _fields(item: Any, name: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise AdminError(f"{name}: every item must be an object")
    reason = invalid_field(item)
    if reason is not None:
        raise AdminError(f"{name}: {reason}")
    return item


def _create(state: VoucherifyState, value: Any, now: int) -> list[str]:
    if isinstance(value, list):
        items = [_fields(item, "create_customers") for item in value]
        for item in items:
            for key in ("id", "source_id"):
                if item.get(key) and state.store.resolve(item[key]) is not None:
                    raise AdminError(f"create_customers: {key} {item[key]!r} already exists")
    else:
        items = []
        for _ in range(count(value, "create_customers")):
            rng, n = state.random, len(state.store) + len(items)
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            source_id = f"src_{state.seed}_new_{n:07d}_{rng.randrange(10**6):06d}"
            email = f"new.{n}@example.com" if rng.random() > 0.12 else None
            items.append(
                {
                    "source_id": source_id,
                    "name": f"{first} {last}",
                    "email": email,
                    "metadata": metadata(rng),
                }
            )
    return [state.create(item, now)["id"] for item in items]


def _update(state: VoucherifyState, value: Any, now: int) -> list[str]:
    if isinstance(value, list):
        changes = []
        for item in value:
            fields = _fields(item, "update_customers")
            key = fields.get("id") or fields.get("source_id")
            customer = state.store.resolve(key) if isinstance(key, str) else None
            if customer is None:
                raise AdminError(f"update_customers: no customer with id or source_id {key!r}")
            changes.append((customer, {k: v for k, v in fields.items() if k != "id"}))
    else:
        changes = [
            (c, {"metadata": {"sandbox_revision": state.random.randrange(10**9)}})
            for c in pick(state, value, "update_customers")
        ]
    return [state.update(customer, fields, now)["id"] for customer, fields in changes]


def _tie_storm(state: VoucherifyState, value: Any, now: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AdminError('tie_storm must be {"count": N, "updated_at": optional ISO instant}')
    at = now
    if value.get("updated_at") is not None:
        try:
            at = parse_instant(str(value["updated_at"])) // 1000 * 1000
        except ValueError:
            raise AdminError("tie_storm.updated_at must be an ISO 8601 instant") from None
    picked = pick(state, count(value.get("count"), "tie_storm.count"), "tie_storm.count")
    ids = [state.update(c, {"metadata": {"tie_storm": iso(at)}}, at)["id"] for c in picked]
    return {"updated_at": iso(at), "customers": ids}


def mutate(
    state: VoucherifyState, payload: dict[str, Any], now: int, settings: SandboxSettings
) -> dict[str, Any]:
    """Apply the payload's steps in order; AdminError for bad input."""
    unknown = set(payload) - set(STEPS)
    if unknown:
        raise AdminError(f"unknown mutation(s) {sorted(unknown)}; known: {', '.join(STEPS)}")
    out: dict[str, Any] = {}
    if "create_customers" in payload:
        out["created"] = _create(state, payload["create_customers"], now)
    if "update_customers" in payload:
        out["updated"] = _update(state, payload["update_customers"], now)
    if "delete_customers" in payload:
        out["deleted"] = [
            state.delete(c["id"])["id"]
            for c in pick(state, payload["delete_customers"], "delete_customers")
        ]
    if "add_activities" in payload:
        out["activities"] = add_activities(state, settings, payload["add_activities"], now)
    if "add_loyalty_transactions" in payload:
        value = payload["add_loyalty_transactions"]
        out["loyalty_transactions"] = add_loyalty_transactions(state, settings, value, now)
    if "move_segments" in payload:
        out["segment_moves"] = move_segments(state, settings, payload["move_segments"], now)
    if "tie_storm" in payload:
        out["tie_storm"] = _tie_storm(state, payload["tie_storm"], now)
    return out


def truth(state: VoucherifyState, jobs: AsyncActions, collection: str, now: int) -> list[dict]:
    """Ground truth of one collection, JSON-ready; KeyError for an unknown one."""
    store = state.store
    customers = [store.by_id[customer_id] for _, customer_id in store.by_created]
    if collection == "customers":
        return customers
    if collection == "activities":
        rows = state.activities.all((c, store.keys(c["id"])[0]) for c in customers)
        return [
            {**event.body, "customer_id": event.body["data"]["customer"]["id"]} for event in rows
        ]
    if collection == "segments":
        return [
            {
                "customer_id": c["id"],
                "source_id": c["source_id"],
                "segments": state.segments_of(c["id"]),
            }
            for c in customers
        ]
    if collection == "loyalty_campaigns":
        return state.loyalty.campaigns
    if collection == "loyalty_transactions":
        book = state.loyalty
        return [
            {
                **book.rendered(tx.id),
                "member_id": tx.card_code,
                "customer_id": book.cards[tx.card_code].customer_id,
            }
            for tx in sorted(book.transactions.values(), key=lambda tx: tx.id)
        ]
    if collection == "async_actions":
        return [job.public(now) for job in jobs.jobs.values()]
    if collection == "applied_rows":
        return [
            {"async_action_id": job_id, "type": kind, "source_id": source_id}
            for job_id, kind, source_id in jobs.applied
        ]
    raise KeyError(collection)
