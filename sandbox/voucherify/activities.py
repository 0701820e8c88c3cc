"""Customer activity: generated lazily per customer from (seed, id), cached, appended on changes."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from promosync.sandbox.voucherify import params
from promosync.sandbox.voucherify.data import END_US, derived_id, hex_id
from promosync.sandbox.voucherify.instants import iso
from promosync.sandbox.voucherify.segments import ENTERED, LEFT, Memberships, history_plan

# (type, category, kind of campaign it concerns: None, "LOYALTY" or "OTHER")
KINDS = [
    ("customer.updated", "ACTION", None),
    ("customer.custom_event", "ACTION", None),
    ("customer.order.created", "ACTION", None),
    ("customer.order.paid", "ACTION", None),
    ("customer.validation.succeeded", "ACTION", "OTHER"),
    ("customer.redemption.succeeded", "ACTION", "OTHER"),
    ("customer.redemption.failed", "ACTION", "OTHER"),
    ("customer.segment.entered", "EFFECT", None),
    ("customer.segment.left", "EFFECT", None),
    ("customer.email.sent", "EFFECT", None),
    ("customer.publication.succeeded", "EFFECT", "OTHER"),
    ("customer.rewarded.loyalty_points", "EFFECT", "LOYALTY"),
    ("customer.voucher.loyalty_card.points_added", "EFFECT", "LOYALTY"),
    ("customer.loyalty.tier.upgraded", "EFFECT", "LOYALTY"),
]
OTHER_CAMPAIGN_TYPES = ("PROMOTION", "DISCOUNT_COUPONS", "GIFT_VOUCHERS", "REFERRAL_PROGRAM")
# Kinds that change no field of the customer and no membership (docs/SANDBOX.md): what an
# activity added without a type is drawn from.
NEUTRAL_TYPES = (
    "customer.custom_event", "customer.order.created", "customer.validation.succeeded",
    "customer.email.sent", "customer.publication.succeeded", "customer.loyalty.tier.upgraded",
)  # fmt: skip
NEUTRAL = [kind for kind in KINDS if kind[0] in NEUTRAL_TYPES]


class Activity(NamedTuple):
    """One event, with the attributes the list endpoint filters on beside its public body."""

    created_us: int
    id: str
    category: str
    campaign_type: str | None
    campaign_id: str | None
    body: dict[str, Any]


def activity_count(rng: random.Random) -> int:
    """Skewed: ~30% none, most a handful, a few hundreds."""
    roll = rng.random()
    if roll < 0.3:
        return 0
    if roll < 0.9:
        return rng.randint(1, 12)
    if roll < 0.99:
        return rng.randint(13, 60)
    return rng.randint(100, 400)


class ActivityLog:
    """Every customer's activity, generated on first access."""

    def __init__(
        self, seed: int, loyalty_campaigns: list[tuple[str, str]], memberships: Memberships
    ) -> None:
        self.seed = seed
        self.memberships = memberships
        self.campaigns = [(cid, name, "LOYALTY_PROGRAM") for cid, name in loyalty_campaigns]
        self.campaigns += [
            (derived_id("camp_", seed, kind), kind.replace("_", " ").title(), kind)
            for kind in OTHER_CAMPAIGN_TYPES
        ]
        self._cache: dict[str, list[Activity]] = {}
        self._issued: dict[str, int] = {}
        self.latest: Activity | None = None  # the event `record` appended last

    def generated(self, customer: Mapping[str, Any], created_us: int) -> list[Activity]:
        """The customer's generated history, oldest first (not cached)."""
        rng = random.Random(f"activity-{self.seed}-{customer['id']}")
        count = activity_count(rng)
        events = []
        for n in range(count):
            at = created_us if n == 0 else rng.randrange(created_us, END_US, 1000)
            kind = ("customer.created", "ACTION", None) if n == 0 else rng.choice(KINDS)
            events.append(self._event(customer, n, at, kind, rng))
        return self._with_segment_history(customer, created_us, events)

    def _with_segment_history(
        self, customer: Mapping[str, Any], created_us: int, events: list[Activity]
    ) -> list[Activity]:
        """The history with its segment events naming segments so that they end in the
        customer's generated membership (entries added where the history has too few)."""
        rng = random.Random(f"segment-history-{self.seed}-{customer['id']}")
        target = self.memberships.generated(customer["id"])
        slots = [e for e in events if e.body["type"] in (ENTERED, LEFT)]
        for n in range(len(events), len(events) + len(target) - len(slots)):
            at = rng.randrange(created_us, END_US, 1000)
            events.append(self._event(customer, n, at, (ENTERED, "EFFECT", None), rng))
        events.sort()
        places = [i for i, e in enumerate(events) if e.body["type"] in (ENTERED, LEFT)]
        catalogue = self.memberships.catalogue
        for place, move in zip(
            places, history_plan(len(places), target, catalogue, rng), strict=True
        ):
            event = events[place]
            body = {**event.body, "data": {**event.body["data"]}}
            if move is None:  # an odd place left over: a message instead of a move
                body["type"] = "customer.email.sent"
            else:
                body["type"], body["data"]["segment"] = move
            events[place] = event._replace(body=body)
        return events

    def of(self, customer: Mapping[str, Any], created_us: int) -> list[Activity]:
        """The customer's activity, oldest first, cached."""
        found = self._cache.get(customer["id"])
        if found is None:
            found = self._cache[customer["id"]] = self.generated(customer, created_us)
            self._issued[customer["id"]] = len(found)
        return found

    def begin(self, customer: Mapping[str, Any], at: int) -> None:
        """Start the history of a customer created while the sandbox runs."""
        self._cache[customer["id"]] = []
        self._issued[customer["id"]] = 0
        self.record(customer, at, at, "customer.created")

    def all(self, customers: Iterator[tuple[Mapping[str, Any], int]]) -> Iterator[Activity]:
        """Every customer's activity, without caching what was never asked for."""
        for customer, created_us in customers:
            cached = self._cache.get(customer["id"])
            yield from cached if cached is not None else self.generated(customer, created_us)

    def record(
        self,
        customer: Mapping[str, Any],
        created_us: int,
        at: int,
        event_type: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> Activity:
        """Append one event at `at`: a field-neutral kind at random unless `event_type` is given;
        `details` replace parts of its `data` (e.g. the segment entered)."""
        events = self.of(customer, created_us)
        rng = random.Random(f"activity-{self.seed}-{customer['id']}-{self._issued[customer['id']]}")
        kind = next((k for k in KINDS if k[0] == event_type), None) if event_type else None
        if kind is None:
            kind = (event_type, "ACTION", None) if event_type else rng.choice(NEUTRAL)
        event = self._event(customer, self._issued[customer["id"]], at, kind, rng, details)
        self._issued[customer["id"]] += 1
        events.append(event)
        events.sort()
        self.latest = event
        return event

    def forget(self, customer_id: str) -> None:
        """Drop a deleted customer's activity."""
        self._cache.pop(customer_id, None)
        self._issued.pop(customer_id, None)

    def _event(
        self,
        customer: Mapping[str, Any],
        n: int,
        at: int,
        kind: tuple,
        rng: random.Random,
        details: dict[str, Any] | None = None,
    ) -> Activity:
        event_type, category, campaign_kind = kind
        # The spec nests a oneOf of 73 open event schemas under `data.data`, which no payload
        # can match exactly once; the event's details go beside `event_source` in `data` instead.
        data: dict[str, Any] = {
            "customer": {
                "id": customer["id"],
                "source_id": customer["source_id"],
                "object": "customer",
            },
            "event_source": {"channel": rng.choice(("API", "API", "USER_PORTAL", "INTERNAL"))},
        }
        campaign_id = campaign_type = None
        if campaign_kind is not None:
            pool = [
                c
                for c in self.campaigns
                if (c[2] == "LOYALTY_PROGRAM") == (campaign_kind == "LOYALTY")
            ]
            campaign_id, name, campaign_type = rng.choice(pool)
            data["campaign"] = {"id": campaign_id, "name": name, "type": campaign_type}
        if event_type.startswith("customer.order."):
            data["order"] = {
                "id": derived_id("ord_", customer["id"], n),
                "amount": rng.randrange(500, 90_000),
            }
        elif event_type == "customer.custom_event":
            data["event"] = {
                "type": rng.choice(["app_opened", "newsletter_signup", "zakup_offline"])
            }
            data["metadata"] = {"screen": rng.choice(["home", "cart", None])}
        if details:
            data.update(details)
            if "campaign" in details:
                campaign_id, campaign_type = details["campaign"]["id"], details["campaign"]["type"]
        body = {
            "id": "evcus_" + hex_id(customer["id"], n),
            "type": event_type,
            "data": data,
            "created_at": iso(at),
            "group_id": "v-" + hex_id("group", customer["id"], n),
        }
        return Activity(at, body["id"], category, campaign_type, campaign_id, body)


def page(events: list[Activity], query: Mapping[str, str], default_order: str) -> dict[str, Any]:
    """A CustomersActivityListResponseBody for one request's parameters."""
    limit = params.integer(query, "limit", 10, 1, 100)
    order = params.choice(query, "order", ("created_at", "-created_at")) or default_order
    start, end = params.instant(query, "start_date"), params.instant(query, "end_date")
    category = params.choice(query, "category", ("ACTION", "EFFECT"))
    campaign_type = params.choice(
        query, "campaign_type", ("LOYALTY_PROGRAM", "REFERRAL_PROGRAM", *OTHER_CAMPAIGN_TYPES)
    )
    campaign_id, event_type = query.get("campaign_id"), query.get("type")
    ordered = events if order == "created_at" else events[::-1]
    after = query.get("starting_after_id")
    if after is not None:
        position = next((i for i, e in enumerate(ordered) if e.id == after), None)
        if position is None:
            raise params.invalid("starting_after_id", f"{after} is not an event of this customer")
        ordered = ordered[position + 1 :]
    selected = [
        e
        for e in ordered
        if (start is None or e.created_us >= start)
        and (end is None or e.created_us <= end)
        and (category is None or e.category == category)
        and (campaign_type is None or e.campaign_type == campaign_type)
        and (campaign_id is None or e.campaign_id == campaign_id)
        and (event_type is None or e.body["type"] == event_type)
    ]
    data = [e.body for e in selected[:limit]]
    body: dict[str, Any] = {"object": "list", "data_ref": "data", "data": data}
    body["has_more"] = len(selected) > limit
    if body["has_more"]:
        body["more_starting_after"] = data[-1]["id"]
    return body
