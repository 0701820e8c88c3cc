"""The customer endpoints: list (keyset, pages, filters), CRUD, activity and segments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promosync.sandbox.readings import Readings, hash_order
from promosync.sandbox.voucherify import activities, params
from promosync.sandbox.voucherify.data import derived_id
from promosync.sandbox.voucherify.instants import iso
from promosync.sandbox.voucherify.state import VoucherifyState, invalid_field
from promosync.sandbox.voucherify.store import CustomerQuery, Predicate

ORDERS = ("created_at", "-created_at", "updated_at", "-updated_at", "source_id", "-source_id")
KEY_INDEX = {"created_at": 1, "updated_at": 2}  # position of the key in a predicate's arguments
SPEC_READINGS = Readings()  # the sandbox's default readings


def _bounds(query: Mapping[str, str], key: str, readings: Readings) -> list[int | None]:
    """Inclusive microsecond bounds of `key[after]` / `key[before]`, as the readings take them."""
    after = params.instant(query, f"{key}[after]")
    before = params.instant(query, f"{key}[before]")
    if after is not None and readings.voucherify_after_bound == "exclusive":
        after += 1
    if before is not None and readings.voucherify_before_bound == "exclusive":
        before -= 1
    return [after, before]


def _tighten(bounds: list[int | None], low: int | None = None, high: int | None = None) -> None:
    if low is not None:
        bounds[0] = low if bounds[0] is None else max(bounds[0], low)
    if high is not None:
        bounds[1] = high if bounds[1] is None else min(bounds[1], high)


def _within(key: str, low: int | None, high: int | None) -> Predicate:
    position = KEY_INDEX[key]

    def predicate(customer: dict[str, Any], *keys: int) -> bool:
        value = keys[position - 1]
        return (low is None or value >= low) and (high is None or value <= high)

    return predicate


def parse_list_query(
    state: VoucherifyState, query: Mapping[str, str], readings: Readings = SPEC_READINGS
) -> CustomerQuery:
    """GET /v1/customers parameters as a store query; 400 for out-of-range or malformed ones."""
    limit = params.integer(query, "limit", 10, 1, 100)
    page = params.integer(query, "page", 1, 1, 99)
    order = params.choice(query, "order", ORDERS)
    cursor = params.instant(query, "starting_after")
    bounds = {key: _bounds(query, key, readings) for key in KEY_INDEX}
    if cursor is not None:
        # Ascending date orders read records after the cursor on that date; every other order
        # (none, descending, source_id) reads records created before it, as the spec's table says.
        if order in ("created_at", "updated_at"):
            _tighten(bounds[order], low=cursor + 1)
        elif order == "-updated_at":
            _tighten(bounds["updated_at"], high=cursor - 1)
        else:
            _tighten(bounds["created_at"], high=cursor - 1)
    result = CustomerQuery(order=order or "-created_at", limit=limit, page=page)
    if readings.voucherify_customers_tie_order == "hash":
        result.tie_key = lambda customer_id: hash_order(state.seed, customer_id)
    primary = result.order.lstrip("-")
    for key, (low, high) in bounds.items():
        if key == primary:
            result.low, result.high = low, high
        elif low is not None or high is not None:
            result.predicates.append(_within(key, low, high))
    if query.get("email") is not None:
        email = query["email"]
        result.predicates.append(lambda c, *_: c["email"] == email)
    if query.get("city") is not None:
        city = query["city"]
        result.predicates.append(lambda c, *_: (c["address"] or {}).get("city") == city)
    if query.get("name") is not None:
        name = query["name"]
        result.predicates.append(lambda c, *_: c["name"] == name)
    if query.get("segment_id") is not None:
        segment = query["segment_id"]
        result.predicates.append(
            lambda c, *_: any(s["id"] == segment for s in state.segments_of(c["id"]))
        )
    return result


def list_customers(state: VoucherifyState, query: Mapping[str, str], readings: Readings) -> bytes:
    """A CustomersListResponseBody, assembled from cached per-customer JSON."""
    ids, total, has_more = state.store.query(parse_list_query(state, query, readings))
    if readings.voucherify_customers_total == "all":
        total = len(state.store)
    rows = b",".join(state.store.encoded(customer_id) for customer_id in ids)
    body = b'{"object":"list","data_ref":"customers","customers":[%b],"total":%d' % (rows, total)
    if readings.voucherify_customers_has_more == "absent":
        return body + b"}"
    return body + (b',"has_more":true}' if has_more else b',"has_more":false}')


def existing(state: VoucherifyState, key: str) -> dict[str, Any]:
    """The customer with this id or source_id; 404 otherwise."""
    customer = state.store.resolve(key)
    if customer is None:
        raise params.not_found("customer", key)
    return customer


def _bad_customer(details: str) -> params.ApiError:
    return params.ApiError(400, "invalid_customer", "Invalid customer", details)


def checked_body(body: Any) -> dict[str, Any]:
    """A customer payload, or a 400 saying what is wrong with it."""
    if not isinstance(body, dict):
        raise _bad_customer("The request body must be a JSON object")
    reason = invalid_field(body)
    if reason is not None:
        raise _bad_customer(reason)
    return body


def create_customer(state: VoucherifyState, body: Any, now: int) -> dict[str, Any]:
    """POST /v1/customers: upsert by id or source_id."""
    fields = checked_body(body)
    if fields.get("id") and state.store.resolve(fields["id"]) is None:
        raise params.not_found("customer", fields["id"])
    customer, _ = state.upsert(fields, now)
    return customer


def permanent_deletion(state: VoucherifyState, key: str, now: int) -> dict[str, Any]:
    """POST /v1/customers/{id}/permanent-deletion: forget the customer and everything theirs."""
    customer = existing(state, key)
    events = len(state.events_of(customer))
    segments = len(state.segments_of(customer["id"]))
    state.delete(customer["id"])
    state.loyalty.forget(customer["id"])
    return {
        "id": derived_id("del_", state.seed, customer["id"], now),
        "created_at": iso(now),
        "related_object_id": customer["id"],
        "related_object": "customer",
        "status": "DONE",
        "data_json": {
            "events": events,
            "customer_events": events,
            "daily_events": 0,
            "segments": segments,
            "orders": customer["summary"]["orders"]["total_count"],
            "order_events": 0,
            "customer": 1,
        },
        # The spec spells the object this way.
        "object": "pernament_deletion",
    }


def activity(
    state: VoucherifyState, key: str, query: Mapping[str, str], default_order: str
) -> dict[str, Any]:
    """GET /v1/customers/{id}/activity; `default_order` applies when `order` is not given."""
    return activities.page(state.events_of(existing(state, key)), query, default_order)


def segments(state: VoucherifyState, key: str) -> dict[str, Any]:
    """GET /v1/customers/{id}/segments."""
    data = state.segments_of(existing(state, key)["id"])
    return {"object": "list", "data_ref": "data", "data": data, "total": len(data)}
