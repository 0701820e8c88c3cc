"""The legacy loyalty API: campaigns, members' cards and their point transactions."""

from __future__ import annotations

import bisect
import random
from collections.abc import Mapping
from typing import Any

from promosync.sandbox.voucherify import params
from promosync.sandbox.voucherify.data import derived_id
from promosync.sandbox.voucherify.instants import parse_instant
from promosync.sandbox.voucherify.loyalty_data import (
    CAMPAIGNS,
    Card,
    Transaction,
    campaign_object,
    card_code,
    plan_transactions,
    render,
)


class LoyaltyBook:
    """Campaigns, cards by code and by customer, and transactions ordered by id (= by time)."""

    def __init__(self, seed: int, customers: list[dict[str, Any]]) -> None:
        self.seed = seed
        self.campaigns = [campaign_object(seed, i, name) for i, (name, _) in enumerate(CAMPAIGNS)]
        self.cards: dict[str, Card] = {}
        self.cards_of: dict[str, list[Card]] = {}
        self.transactions: dict[str, Transaction] = {}
        self.by_campaign: dict[str, list[str]] = {c["id"]: [] for c in self.campaigns}
        self._sequence = 0
        rng = random.Random(f"loyalty-{seed}")
        for customer in customers:
            for index, (_, share) in enumerate(CAMPAIGNS):
                if rng.random() < share:
                    self._enrol(rng, customer, index)
        for ids in self.by_campaign.values():
            ids.sort()
        for campaign in self.campaigns:
            campaign["vouchers_count"] = sum(
                1 for card in self.cards.values() if card.campaign_id == campaign["id"]
            )

    def _enrol(self, rng: random.Random, customer: dict[str, Any], index: int) -> None:
        campaign = self.campaigns[index]
        code = card_code(rng, index)
        while code in self.cards:
            code = card_code(rng, index)
        card = Card(
            code, derived_id("v_", self.seed, code, length=32), campaign["id"], customer["id"]
        )
        self.cards[code] = card
        self.cards_of.setdefault(customer["id"], []).append(card)
        start = max(
            parse_instant(customer["created_at"][:-1]), parse_instant(campaign["created_at"][:-1])
        )
        redeemed = 0
        for at, kind, points in plan_transactions(rng, start, rng.choice((0, 1, 2, 3, 5, 8, 12))):
            self._post(card, kind, points, at)
            redeemed -= points if kind == "POINTS_REDEMPTION" else 0
        customer["loyalty"] = self.loyalty_of(customer["id"], customer["loyalty"])
        summary = customer["summary"]["redemptions"]["loyalty_card"]
        summary["points_to_go"] = customer["loyalty"]["points"]
        summary["redeemed_points"] += redeemed

    def _post(self, card: Card, kind: str, points: int, at: int) -> Transaction:
        self._sequence += 1
        card.balance += points
        if kind != "POINTS_REDEMPTION":
            card.total += points
        tx = Transaction(
            f"vtx_{at:014x}{self._sequence:06x}",
            card.code,
            kind,
            points,
            card.total,
            card.balance,
            at,
        )
        self.transactions[tx.id] = tx
        card.transactions.append(tx.id)
        self.by_campaign[card.campaign_id].append(tx.id)
        return tx

    def add(self, card: Card, kind: str, points: int, at: int) -> Transaction:
        """Post a transaction now, keeping every list ordered."""
        tx = self._post(card, kind, points, at)
        for ids in (card.transactions, self.by_campaign[card.campaign_id]):
            ids.pop()
            bisect.insort(ids, tx.id)
        return tx

    def loyalty_of(self, customer_id: str, current: dict[str, Any]) -> dict[str, Any]:
        """The customer's CustomerLoyalty recomputed from their cards."""
        names = {c["id"]: c["name"] for c in self.campaigns}
        campaigns = {
            names[card.campaign_id]: {"points": card.balance, "referred_customers": 0}
            for card in self.cards_of.get(customer_id, [])
        }
        points = sum(c["points"] for c in campaigns.values())
        return {**current, "points": points, "campaigns": campaigns}

    def forget(self, customer_id: str) -> None:
        """A permanently deleted customer's cards and transactions are removed too."""
        for card in self.cards_of.pop(customer_id, []):
            del self.cards[card.code]
            gone = set(card.transactions)
            for tx_id in gone:
                del self.transactions[tx_id]
            ids = self.by_campaign[card.campaign_id]
            ids[:] = [i for i in ids if i not in gone]

    def campaign(self, key: str) -> dict[str, Any]:
        """A campaign by id or name; 404 if unknown."""
        for campaign in self.campaigns:
            if key in (campaign["id"], campaign["name"]):
                return campaign
        raise params.not_found("campaign", key)

    def card(self, code: str, campaign_id: str | None = None) -> Card:
        """A member's card by code (within a campaign when given); 404 if unknown."""
        card = self.cards.get(code)
        if card is None or (campaign_id is not None and card.campaign_id != campaign_id):
            raise params.not_found("voucher", code)
        return card

    def rendered(self, tx_id: str) -> dict[str, Any]:
        """One transaction's public object."""
        tx = self.transactions[tx_id]
        return render(self.seed, self.cards[tx.card_code], tx)

    def list_campaigns(self, query: Mapping[str, str]) -> dict[str, Any]:
        """A LoyaltiesListCampaignsResponseBody."""
        limit = params.integer(query, "limit", 10, 1, 100)
        page = params.integer(query, "page", 1, 1, 100)
        params.choice(query, "expand", ("category", "access_settings_assignments"))
        order = params.choice(
            query, "order", ("created_at", "-created_at", "updated_at", "-updated_at")
        )
        order = order or "-created_at"
        ordered = sorted(
            self.campaigns, key=lambda c: c[order.lstrip("-")], reverse=order[0] == "-"
        )
        chosen = ordered[(page - 1) * limit : page * limit]
        return {
            "object": "list",
            "data_ref": "campaigns",
            "campaigns": chosen,
            "total": len(ordered),
        }

    def list_transactions(
        self, ids: list[str], query: Mapping[str, str], default_order: str
    ) -> dict[str, Any]:
        """A transactions list page, keyed by `starting_after_id` in the requested id order."""
        limit = params.integer(query, "limit", 10, 1, 100)
        order = params.choice(query, "order", ("id", "-id")) or default_order
        descending = order == "-id"
        after = query.get("starting_after_id")
        if descending:
            stop = len(ids) if after is None else bisect.bisect_left(ids, after)
            chosen = ids[max(0, stop - limit) : stop][::-1]
            has_more = stop - limit > 0
        else:
            start = 0 if after is None else bisect.bisect_right(ids, after)
            chosen = ids[start : start + limit]
            has_more = start + limit < len(ids)
        body: dict[str, Any] = {"object": "list", "data_ref": "data"}
        body["data"] = [self.rendered(tx_id) for tx_id in chosen]
        body["has_more"] = has_more
        if has_more:
            body["more_starting_after"] = chosen[-1]
        return body
