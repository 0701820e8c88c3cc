"""Deterministic generation of Voucherify customers and their segments from the sandbox seed."""

from __future__ import annotations

import hashlib
import random
import string
from typing import Any

from promosync.sandbox.people import EPOCH_END, Person, generate_people, random_instant
from promosync.sandbox.voucherify.instants import iso, to_us

ALPHANUMERIC = string.digits + string.ascii_letters
END_US = to_us(EPOCH_END)

SEGMENT_NAMES = [
    "Active buyers", "Newsletter subscribers", "Dormant 90 days", "VIP — top 1 %",
    "Kraków & Łódź", "Birthday this month", "Cart abandoners", "Gift card holders",
]  # fmt: skip
STREETS = ["ul. Długa", "Bahnhofstraße", "Rua Augusta", "Main St.", "Calle Larios", "Østergade"]
DESCRIPTIONS = [
    "Frequent customer",
    "Imported from the legacy CRM\nsecond line",
    "Prefers SMS 📱",
    "Zażółć gęślą jaźń",
    "",
]


def derived_id(prefix: str, *parts: object, length: int = 24) -> str:
    """A stable id like `cust_` + `length` alphanumerics, derived from `parts`."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=length).digest()
    return prefix + "".join(ALPHANUMERIC[byte % 62] for byte in digest)


def hex_id(*parts: object, length: int = 18) -> str:
    """A stable lowercase hex string derived from `parts`."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=(length + 1) // 2)
    return digest.hexdigest()[:length]


def segments_catalogue(seed: int) -> list[dict[str, Any]]:
    """The project's customer segments, as SimpleSegment objects."""
    return [
        {"id": derived_id("seg_", seed, name), "name": name, "object": "segment"}
        for name in SEGMENT_NAMES
    ]


def segments_of(seed: int, customer_id: str, catalogue: list[dict[str, Any]]) -> list[dict]:
    """The segments a customer belongs to: zero to three, stable per (seed, customer)."""
    rng = random.Random(f"segments-{seed}-{customer_id}")
    return rng.sample(catalogue, rng.choice((0, 1, 1, 1, 2, 2, 3)))


def metadata(rng: random.Random) -> dict[str, Any]:
    """Nested custom attributes of mixed types, sometimes none at all."""
    if rng.random() < 0.15:
        return {}
    metadata: dict[str, Any] = {
        "tier": rng.choice(["gold", "silver", "bronze", "złoty"]),
        "newsletter": rng.random() < 0.5,
        "lifetime_value": round(rng.uniform(0, 5000), 2),
    }
    if rng.random() < 0.5:
        metadata["visits"] = rng.randrange(0, 500)
    if rng.random() < 0.3:
        metadata["referral_code"] = None
    if rng.random() < 0.4:
        metadata["tags"] = rng.sample(["vip", "früh", "b2b", "promo", "ąę"], rng.randrange(0, 4))
    if rng.random() < 0.3:
        metadata["preferences"] = {
            "language": rng.choice(["pl", "de", "en", "ja"]),
            "channels": rng.sample(["email", "sms", "push"], rng.randrange(1, 3)),
            "consent": {"marketing": rng.random() < 0.5, "version": rng.randrange(1, 4)},
        }
    return metadata


def _address(rng: random.Random, person: Person) -> dict[str, Any] | None:
    if person.city is None:
        return None
    return {
        "city": person.city,
        "state": None,
        "line_1": f"{rng.choice(STREETS)} {rng.randrange(1, 200)}",
        "line_2": f"m. {rng.randrange(1, 40)}" if rng.random() < 0.3 else None,
        "country": person.country,
        "postal_code": person.postal_code,
    }


def summary(rng: random.Random, created_us: int, points: int) -> dict[str, Any]:
    """A plausible CustomerSummary (orders only count PAID/FULFILLED ones)."""
    redeemed = rng.choice((0, 0, 1, 2, 3, 5, 12))
    failed = min(redeemed, rng.choice((0, 0, 0, 1)))
    orders = rng.choice((0, 0, 1, 2, 4, 9, 30))
    amounts = [rng.randrange(500, 50_000) for _ in range(orders)]
    last_date = iso(rng.randrange(created_us, END_US)) if orders else None
    return {
        "redemptions": {
            "total_redeemed": redeemed,
            "total_failed": failed,
            "total_succeeded": redeemed - failed,
            "total_rolled_back": 0,
            "total_rollback_failed": 0,
            "total_rollback_succeeded": 0,
            "gift": {"redeemed_amount": 0, "amount_to_go": 0},
            "loyalty_card": {"redeemed_points": 0, "points_to_go": points},
        },
        "orders": {
            "total_amount": sum(amounts),
            "total_count": orders,
            "average_amount": sum(amounts) // orders if orders else 0,
            "last_order_amount": amounts[-1] if orders else 0,
            "last_order_date": last_date,
        },
    }


def customer_from_person(seed: int, person: Person, tie_instants: list[int]) -> dict[str, Any]:
    """One CustomerWithSummaryLoyaltyReferrals, with awkward but valid values."""
    rng = random.Random(f"customer-{seed}-{person.source_id}")
    customer_id = derived_id("cust_", seed, person.source_id)
    created_us = to_us(person.created_at)
    if rng.random() < 0.03:
        updated_us = rng.choice(tie_instants)  # a bulk import touched them all at once
        updated_us = max(updated_us, created_us)
    elif rng.random() < 0.2:
        updated_us = created_us
    else:
        updated_us = rng.randrange(created_us, END_US, 1000)
    birthdate = None
    if rng.random() < 0.6:
        birthdate = (
            f"{rng.randrange(1940, 2008)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        )
    return {
        "id": customer_id,
        "source_id": person.source_id,
        "name": person.name,
        "description": rng.choice(DESCRIPTIONS) if rng.random() < 0.3 else None,
        "email": person.email,
        "phone": person.phone,
        "birthdate": birthdate,
        "address": _address(rng, person),
        "summary": summary(rng, created_us, 0),
        "loyalty": {"points": 0, "referred_customers": 0, "campaigns": {}},
        "referrals": {"total": 0, "campaigns": []},
        "metadata": metadata(rng),
        "system_metadata": {},
        "created_at": iso(created_us),
        "updated_at": iso(updated_us),
        "assets": assets(customer_id),
        "object": "customer",
    }


def assets(customer_id: str) -> dict[str, str]:
    """The customer's preference-center links (cockpits now redirect there)."""
    url = f"https://voucherify.app/preference-center/{customer_id}"
    return {"cockpit_url": url, "cockpit_preference_center_url": url}


def generate_customers(seed: int, count: int) -> list[dict[str, Any]]:
    """`count` customers from `sandbox.people`, some sharing one `updated_at` instant."""
    rng = random.Random(f"ties-{seed}")
    tie_instants = [to_us(random_instant(rng)) for _ in range(4)]
    customers = [customer_from_person(seed, p, tie_instants) for p in generate_people(seed, count)]
    _add_referrals(seed, customers)
    return customers


def _add_referrals(seed: int, customers: list[dict[str, Any]]) -> None:
    rng = random.Random(f"referrals-{seed}")
    campaign_id = derived_id("camp_", seed, "referral")
    for customer in customers:
        if len(customers) < 2 or rng.random() > 0.05:
            continue
        referrer = rng.choice(customers)
        if referrer is customer:
            continue
        referrer["loyalty"]["referred_customers"] += 1
        customer["referrals"]["total"] += 1
        customer["referrals"]["campaigns"].append(
            {
                "campaign_id": campaign_id,
                "referrer_id": referrer["id"],
                "related_object_id": derived_id("r_", seed, customer["id"]),
                "related_object_type": "redemption",
                "date": customer["created_at"],
            }
        )
