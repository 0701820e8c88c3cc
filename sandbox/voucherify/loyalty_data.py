"""Legacy loyalty campaigns, members' cards and point transactions, generated from the seed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from promosync.sandbox.people import EPOCH_START
from promosync.sandbox.voucherify.data import END_US, derived_id
from promosync.sandbox.voucherify.instants import iso, to_us

# (name, share of customers who are members)
CAMPAIGNS = [("Złote Punkty", 0.25), ("Sunrise Rewards ☀", 0.12), ("Kraków Coffee Club", 0.06)]
CHARSET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
EARNED = ("POINTS_ACCRUAL", "POINTS_ADDITION")
SPENT = ("POINTS_REDEMPTION", "POINTS_EXPIRATION", "POINTS_REMOVAL")
MANUAL = ("POINTS_ADDITION", "POINTS_REMOVAL")


@dataclass(slots=True)
class Transaction:
    """One LoyaltyCardTransaction, kept compact and rendered on demand."""

    id: str
    card_code: str
    type: str
    points: int
    total: int
    balance: int
    created_us: int


@dataclass(slots=True)
class Card:
    """A member's loyalty card in one campaign."""

    code: str
    voucher_id: str
    campaign_id: str
    customer_id: str
    total: int = 0
    balance: int = 0
    transactions: list[str] = field(default_factory=list)  # ids, oldest first


def campaign_object(seed: int, index: int, name: str) -> dict[str, Any]:
    """A LoyaltyCampaign as GET /v1/loyalties lists it."""
    created_us = to_us(EPOCH_START) + index * 86_400_000_000 * 7 + 3_600_000_000
    return {
        "id": derived_id("camp_", seed, name),
        "name": name,
        "campaign_type": "LOYALTY_PROGRAM",
        "type": "AUTO_UPDATE",
        "voucher": {
            "type": "LOYALTY_CARD",
            "loyalty_card": {
                "points": 0,
                "expiration_rules": {
                    "period_type": "MONTH",
                    "period_value": 12,
                    "rounding_type": "END_OF_MONTH",
                    "rounding_value": 0,
                },
            },
            "redemption": {"quantity": None},
            "code_config": {
                "length": 8,
                "charset": CHARSET,
                "prefix": f"LC{index}-",
                "postfix": "",
                "pattern": f"LC{index}-########",
            },
            "is_referral_code": False,
        },
        "auto_join": index == 0,
        "join_once": True,
        "use_voucher_metadata_schema": False,
        "vouchers_count": 0,
        "active": True,
        "metadata": {"region": ["PL", "DE", None][index], "launch": index + 2023},
        "created_at": iso(created_us),
        "updated_at": iso(created_us + 86_400_000_000),
        "category": None,
        "creation_status": "DONE",
        "vouchers_generation_status": "DONE",
        "readonly": False,
        "protected": False,
        "category_id": None,
        "categories": [],
        "object": "campaign",
    }


def card_code(rng: random.Random, index: int) -> str:
    """A code following the campaign's code_config pattern."""
    return f"LC{index}-" + "".join(rng.choice(CHARSET) for _ in range(8))


def plan_transactions(rng: random.Random, start_us: int, count: int) -> list[tuple[int, str, int]]:
    """(created_us, type, signed points) for one card, oldest first, never overdrawing it."""
    instants = sorted(rng.randrange(start_us, END_US, 1000) for _ in range(count))
    plan, balance = [], 0
    for at in instants:
        if balance > 0 and rng.random() < 0.35:
            kind = rng.choice(SPENT)
            points = -rng.randint(1, balance)
        else:
            kind = rng.choice(EARNED)
            points = rng.choice((10, 25, 50, 100, 250, 1000))
        balance += points
        plan.append((at, kind, points))
    return plan


def details(seed: int, card: Card, tx: Transaction) -> dict[str, Any]:
    """The `details` of a transaction: its balance effect plus what caused it."""
    out: dict[str, Any] = {
        "balance": {
            "type": "loyalty_card",
            "total": tx.total,
            "object": "balance",
            "points": tx.points,
            "balance": tx.balance,
            "operation_type": "MANUAL" if tx.type in MANUAL else "AUTOMATIC",
            "related_object": {"id": card.voucher_id, "type": "voucher"},
        }
    }
    if tx.type == "POINTS_ACCRUAL":
        out["order"] = {"id": derived_id("ord_", seed, tx.id), "source_id": f"order-{tx.id[-8:]}"}
        out["earning_rule"] = {
            "id": derived_id("ern_", seed, card.campaign_id),
            "source": {"banner": "Order paid"},
        }
    elif tx.type == "POINTS_REDEMPTION":
        out["redemption"] = {"id": "r_" + tx.id[4:]}
        out["reward"] = {"id": derived_id("rew_", seed, card.campaign_id), "name": "Kawa gratis"}
    return out


def render(seed: int, card: Card, tx: Transaction) -> dict[str, Any]:
    """The public LoyaltyCardTransaction."""
    manual = tx.type in MANUAL
    return {
        "id": tx.id,
        "source_id": f"manual-{tx.id[-6:]}" if manual else None,
        "voucher_id": card.voucher_id,
        "campaign_id": card.campaign_id,
        "source": "voucherify-web-ui" if manual else None,
        "reason": "Goodwill adjustment — przeprosiny" if manual else None,
        "type": tx.type,
        "details": details(seed, card, tx),
        "related_transaction_id": None,
        "created_at": iso(tx.created_us),
    }
