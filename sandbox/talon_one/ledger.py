"""Balances computed from ledger entries, so every endpoint and the ground truth agree."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from promosync.sandbox.talon_one.model import ON_ACTION, Program, Tier, Txn

INFINITY = float("inf")


@dataclass(slots=True)
class Balance:
    """Points of one ledger (or subledger) as of an instant."""

    active: float = 0.0
    pending: float = 0.0
    spent: float = 0.0
    expired: float = 0.0
    negative: float = 0.0


def balance_as_of(entries: Iterable[Txn], as_of: int) -> Balance:
    """Replay entries created before `as_of`; subtractions spend the soonest-expiring points."""
    result = Balance()
    events: list[tuple[int, int, Txn]] = []
    for txn in entries:
        if txn.created >= as_of:
            continue
        if txn.kind == "subtraction":
            events.append((txn.created, 1, txn))
            continue
        activates = txn.created if txn.start is None else txn.start
        if txn.start == ON_ACTION or activates >= as_of:
            result.pending += txn.amount
        else:
            events.append((max(activates, txn.created), 0, txn))
    events.sort(key=lambda event: (event[0], event[1], event[2].id))
    buckets: list[list[float]] = []  # heap of [expiry, remaining points]
    for moment, _, txn in events:
        _expire(buckets, moment, result)
        if txn.kind == "subtraction":
            result.spent += txn.amount
            _spend(buckets, txn.amount, result)
            continue
        amount = txn.amount
        if result.negative:
            covered = min(result.negative, amount)
            result.negative -= covered
            amount -= covered
        if amount:
            heapq.heappush(buckets, [INFINITY if txn.expiry is None else txn.expiry, amount])
    _expire(buckets, as_of, result)
    result.active = sum(bucket[1] for bucket in buckets)
    return _rounded(result)


def _expire(buckets: list[list[float]], moment: int, result: Balance) -> None:
    while buckets and buckets[0][0] <= moment:
        result.expired += heapq.heappop(buckets)[1]


def _spend(buckets: list[list[float]], amount: float, result: Balance) -> None:
    while amount > 0 and buckets:
        taken = min(buckets[0][1], amount)
        buckets[0][1] -= taken
        amount -= taken
        if buckets[0][1] <= 0:
            heapq.heappop(buckets)
    if amount > 0:
        result.negative += amount


def _rounded(balance: Balance) -> Balance:
    for name in ("active", "pending", "spent", "expired", "negative"):
        setattr(balance, name, round(getattr(balance, name), 2))
    return balance


def balances_by_subledger(entries: Iterable[Txn], as_of: int) -> dict[str, Balance]:
    """Balances per subledger id ("" is the main ledger, always present)."""
    grouped: dict[str, list[Txn]] = {"": []}
    for txn in entries:
        grouped.setdefault(txn.subledger, []).append(txn)
    return {subledger: balance_as_of(group, as_of) for subledger, group in grouped.items()}


def tier_of(program: Program, points: float) -> tuple[Tier | None, Tier | None]:
    """The tier `points` reach in `program`, and the next one up."""
    current = None
    for tier in program.tiers:
        if points >= tier.min_points:
            current = tier
        else:
            return current, tier
    return current, None
