"""The simulator's whole dataset, and the customer changes every writer goes through."""

from __future__ import annotations

import random
import re
from datetime import date
from typing import Any

from promosync.sandbox.voucherify.activities import ActivityLog
from promosync.sandbox.voucherify.data import assets, derived_id, generate_customers
from promosync.sandbox.voucherify.instants import iso
from promosync.sandbox.voucherify.loyalties import LoyaltyBook
from promosync.sandbox.voucherify.segments import Memberships
from promosync.sandbox.voucherify.store import CustomerStore

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TEXT_FIELDS = ("name", "description", "email", "phone")
ADDRESS_FIELDS = ("city", "state", "line_1", "line_2", "country", "postal_code")


def invalid_field(fields: dict[str, Any]) -> str | None:
    """Why a CustomerBase payload is unacceptable, or None if it is fine."""
    for name in (*TEXT_FIELDS, "source_id"):
        if fields.get(name) is not None and not isinstance(fields[name], str):
            return f"{name}: must be a string"
    if fields.get("email") and not EMAIL.match(fields["email"]):
        return f"email: must be a valid email address (actual value is '{fields['email']}')"
    for name in ("birthdate", "birthday"):
        value = fields.get(name)
        if value is not None and not _is_date(value):
            return f"{name}: must be a date in the YYYY-MM-DD format (actual value is '{value}')"
    address = fields.get("address")
    if address is not None and (
        not isinstance(address, dict)
        or any(v is not None and not isinstance(v, str) for v in address.values())
    ):
        return "address: must be an object of strings"
    if fields.get("metadata") is not None and not isinstance(fields["metadata"], dict):
        return "metadata: must be an object"
    return None


class VoucherifyState:
    """Customers, activity, segments and loyalty of one seed; all writes keep indexes in step."""

    def __init__(self, seed: int, count: int) -> None:
        self.seed = seed
        customers = generate_customers(seed, count)
        self.loyalty = LoyaltyBook(seed, customers)
        self.store = CustomerStore(customers)
        self.memberships = Memberships(seed)
        campaigns = [(c["id"], c["name"]) for c in self.loyalty.campaigns]
        self.activities = ActivityLog(seed, campaigns, self.memberships)
        self.random = random.Random(f"mutations-{seed}")
        self._created = 0

    def segments_of(self, customer_id: str) -> list[dict[str, Any]]:
        """The segments a customer is in."""
        return self.memberships.of(customer_id)

    def events_of(self, customer: dict[str, Any]) -> list:
        """The customer's activity, generated on first access."""
        return self.activities.of(customer, self.store.keys(customer["id"])[0])

    def create(self, fields: dict[str, Any], at: int) -> dict[str, Any]:
        """A new customer from a CustomerBase payload (plus optional source_id)."""
        self._created += 1
        source_id = fields.get("source_id")
        customer = {
            "id": derived_id("cust_", self.seed, "created", source_id, at, self._created),
            "source_id": source_id,
            "name": None, "description": None, "email": None, "phone": None,
            "birthdate": None, "address": None,
            "summary": _empty_summary(),
            "loyalty": {"points": 0, "referred_customers": 0, "campaigns": {}},
            "referrals": {"total": 0, "campaigns": []},
            "metadata": {}, "system_metadata": {},
            "created_at": iso(at), "updated_at": iso(at),
            "assets": assets(""), "object": "customer",
        }  # fmt: skip
        customer["assets"] = assets(customer["id"])
        _apply(customer, fields)
        self.store.put(customer)
        self.memberships.start_empty(customer["id"])
        self.activities.begin(customer, at)
        return customer

    def update(self, customer: dict[str, Any], fields: dict[str, Any], at: int) -> dict[str, Any]:
        """Set the given fields (metadata and address keys are merged); updated_at becomes `at`."""
        changed = {**customer, "updated_at": iso(at)}
        _apply(changed, fields)
        self.store.put(changed)
        self.activities.record(changed, self.store.keys(changed["id"])[0], at, "customer.updated")
        return changed

    def upsert(self, fields: dict[str, Any], at: int) -> tuple[dict[str, Any], bool]:
        """Update the customer named by id or source_id, or create it; also say if it existed."""
        existing = self.store.resolve(fields.get("id") or "") or self.store.resolve(
            fields.get("source_id") or ""
        )
        if existing is None:
            return self.create(fields, at), False
        return self.update(existing, fields, at), True

    def delete(self, customer_id: str) -> dict[str, Any]:
        """Remove a customer, their activity and their segment memberships."""
        self.activities.forget(customer_id)
        self.memberships.forget(customer_id)
        return self.store.remove(customer_id)

    def amend(self, customer_id: str, changes: dict[str, Any], touch_at: int | None) -> None:
        """Replace parts of a customer as logged activity does; updated_at moves to `touch_at`
        when given (whether it does is a reading of the spec, see `effects`)."""
        changed = {**self.store.by_id[customer_id], **changes}
        if touch_at is not None:
            changed["updated_at"] = iso(touch_at)
        self.store.put(changed)

    def refresh_loyalty(self, customer_id: str, touch_at: int | None, redeemed: int = 0) -> None:
        """Recompute a member's loyalty summary after a point movement (`redeemed` points spent)."""
        customer = self.store.by_id.get(customer_id)
        if customer is None:
            return
        loyalty = self.loyalty.loyalty_of(customer_id, customer["loyalty"])
        card = customer["summary"]["redemptions"]["loyalty_card"]
        card = {
            **card,
            "points_to_go": loyalty["points"],
            "redeemed_points": (card.get("redeemed_points") or 0) + redeemed,
        }
        redemptions = {**customer["summary"]["redemptions"], "loyalty_card": card}
        summary = {**customer["summary"], "redemptions": redemptions}
        self.amend(customer_id, {"loyalty": loyalty, "summary": summary}, touch_at)


def _is_date(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _apply(customer: dict[str, Any], fields: dict[str, Any]) -> None:
    for name in (*TEXT_FIELDS, "birthdate", "birthday"):
        if name in fields:
            customer[name] = fields[name]
    if fields.get("source_id") is not None:
        customer["source_id"] = fields["source_id"]
    if "address" in fields:
        if fields["address"] is None:
            customer["address"] = None
        else:
            base = customer["address"] or dict.fromkeys(ADDRESS_FIELDS)
            customer["address"] = {**base, **fields["address"]}
    if fields.get("metadata"):
        customer["metadata"] = {**customer["metadata"], **fields["metadata"]}


def _empty_summary() -> dict[str, Any]:
    return {
        "redemptions": {
            "total_redeemed": 0, "total_failed": 0, "total_succeeded": 0,
            "total_rolled_back": 0, "total_rollback_failed": 0, "total_rollback_succeeded": 0,
            "gift": {"redeemed_amount": 0, "amount_to_go": 0},
            "loyalty_card": {"redeemed_points": 0, "points_to_go": 0},
        },
        "orders": {
            "total_amount": 0, "total_count": 0, "average_amount": 0,
            "last_order_amount": 0, "last_order_date": None,
        },
    }  # fmt: skip
