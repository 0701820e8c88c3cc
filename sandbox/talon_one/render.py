"""Records rendered as the spec's JSON objects (every field checked against the split specs)."""

from __future__ import annotations

from typing import Any

from promosync.sandbox.talon_one.ledger import Balance, balances_by_subledger, tier_of
from promosync.sandbox.talon_one.model import (
    ACCOUNT_ID,
    APPLICATION_ID,
    MS_PER_DAY,
    ON_ACTION,
    Audience,
    Card,
    Profile,
    Program,
    Txn,
    iso,
    transaction_uuid,
)
from promosync.sandbox.talon_one.store import Store


def profile_json(store: Store, profile: Profile) -> dict[str, Any]:
    """`CustomerProfile`; the deprecated `loyaltyMemberships` is left out (it would be null)."""
    return {
        "id": profile.id,
        "created": iso(profile.created),
        "integrationId": profile.integration_id,
        "attributes": profile.attributes,
        "accountId": ACCOUNT_ID,
        "closedSessions": profile.closed_sessions,
        "totalSales": profile.total_sales,
        "audienceMemberships": [
            {"id": a.id, "name": a.name} for a in store.audiences_of(profile.integration_id)
        ],
        "lastActivity": iso(profile.last_activity),
        "sandbox": False,
    }  # fmt: skip


def program_json(program: Program) -> dict[str, Any]:
    """`LoyaltyProgram`."""
    body: dict[str, Any] = {
        "id": program.id,
        "created": iso(program.created),
        "accountID": ACCOUNT_ID,
        "name": program.name,
        "title": program.title,
        "description": program.description,
        "subscribedApplications": [APPLICATION_ID],
        "defaultValidity": "unlimited",
        "defaultPending": "immediate",
        "allowSubledger": len(program.subledgers) > 1,
        "usersPerCardLimit": 2 if program.card_based else 0,
        "sandbox": False,
        "programJoinPolicy": "points_earned",
        "tiersDowngradePolicy": "one_down",
        "returnPolicy": "within_balance",
        "timezone": "Europe/Berlin",
        "cardBased": program.card_based,
        "canUpdateTiers": bool(program.tiers),
        "canUpdateSubledgers": False,
    }
    if program.card_based:
        body["cardCodeSettings"] = {
            "couponPattern": "CARD-####-######",
            "validCharacters": list("0123456789"),
        }
    if program.tiers:
        body["tiers"] = [
            {"id": tier.id, "created": iso(tier.created), "programID": program.id,
             "programName": program.name, "programTitle": program.title, "name": tier.name,
             "minPoints": tier.min_points}
            for tier in program.tiers
        ]  # fmt: skip
    return body


def _start(txn: Txn) -> str:
    if txn.start is None:
        return "immediate"
    return "on_action" if txn.start == ON_ACTION else iso(txn.start)


def _common(store: Store, txn: Txn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": txn.id,
        "transactionUUID": transaction_uuid(store.seed, txn.id),
        "created": iso(txn.created),
        "programId": txn.program_id,
        "type": txn.kind,
        "name": txn.name,
        "startDate": _start(txn),
        "expiryDate": "unlimited" if txn.expiry is None else iso(txn.expiry),
        "subledgerId": txn.subledger,
        "amount": txn.amount,
    }
    if txn.session_id is not None:
        body["customerSessionId"] = txn.session_id
        body["rulesetId"] = 5000 + txn.program_id
        body["ruleName"] = "Earn and burn points"
    return body


def entry_json(store: Store, txn: Txn) -> dict[str, Any]:
    """`LedgerTransactionLogEntryIntegrationAPI`, or its card twin for card-based programs."""
    body = _common(store, txn)
    if txn.card_based:
        body["cardIdentifier"] = txn.owner
    else:
        body["flags"] = {"createsNegativeBalance": False}
    return body


def program_entry_json(store: Store, txn: Txn) -> dict[str, Any]:
    """`LoyaltyProgramTransaction` (the Management API's program-wide feed)."""
    body = _common(store, txn)
    body["cardIdentifier" if txn.card_based else "customerProfileId"] = txn.owner
    body["flags"] = {"createsNegativeBalance": False}
    if txn.source == "session":
        body["campaignId"] = 300 + txn.program_id
    elif txn.source == "import":
        body["importId"] = 1 + txn.created // (30 * MS_PER_DAY) % 97
    else:
        body["userId"] = 7
        body["userEmail"] = "loyalty-ops@example.com"
    return body


def points_json(balance: Balance) -> dict[str, Any]:
    """`LoyaltyBalance`: the five point totals."""
    return {
        "activePoints": balance.active,
        "pendingPoints": balance.pending,
        "spentPoints": balance.spent,
        "expiredPoints": balance.expired,
        "negativePoints": balance.negative,
    }


def tiered_points_json(
    program: Program, balance: Balance, projected: Balance | None, tiers: bool
) -> dict[str, Any]:
    """`LoyaltyBalanceWithTier`: points, plus tier data when asked for and the program has tiers."""
    body = points_json(balance)
    if not program.tiers:
        return body
    if tiers:
        current, following = tier_of(program, balance.active)
        if current is not None:
            body["currentTier"] = {
                "id": current.id,
                "name": current.name,
                "downgradePolicy": "one_down",
            }
        if following is not None:
            body["pointsToNextTier"] = round(following.min_points - balance.active, 2)
            body["nextTierName"] = following.name
    if projected is not None:
        tier, _ = tier_of(program, projected.active)
        body["projectedTier"] = {"projectedActivePoints": projected.active}
        if tier is not None:
            body["projectedTier"]["projectedTierName"] = tier.name
    return body


def ledger_json(balance: Balance) -> dict[str, Any]:
    """`LedgerInfo` as cards and the customer inventory show it."""
    return {
        "currentBalance": balance.active,
        "pendingBalance": balance.pending,
        "negativeBalance": balance.negative,
        "expiredBalance": balance.expired,
        "spentBalance": balance.spent,
        "tentativeCurrentBalance": balance.active,
        "tentativePendingBalance": balance.pending,
        "tentativeNegativeBalance": balance.negative,
    }


def card_json(store: Store, card: Card, as_of: int) -> dict[str, Any]:
    """`LoyaltyCard` with its ledger and subledgers as of `as_of`."""
    program = store.programs[card.program_id]
    balances = balances_by_subledger(store.entries(card.program_id, card.identifier), as_of)
    body: dict[str, Any] = {
        "id": card.id,
        "created": iso(card.created),
        "programID": program.id,
        "programName": program.name,
        "programTitle": program.title,
        "status": card.status,
        "identifier": card.identifier,
        "usersPerCardLimit": 2,
        "profiles": [{"integrationId": owner, "timestamp": iso(at)} for owner, at in card.profiles],
        "ledger": ledger_json(balances.pop("")),
        "subledgers": {key: ledger_json(value) for key, value in balances.items()},
        "modified": iso(card.modified),
        "batchId": card.batch_id,
    }
    if card.block_reason is not None:
        body["blockReason"] = card.block_reason
    return body


def inventory_programs(store: Store, integration_id: str, as_of: int) -> dict[str, Any]:
    """`Loyalty.programs`: the profile-based programs a profile has a ledger in."""
    programs = {}
    for program in store.programs.values():
        entries = store.entries(program.id, integration_id)
        if program.card_based or not entries:
            continue
        balances = balances_by_subledger(entries, as_of)
        programs[str(program.id)] = {
            "id": program.id,
            "title": program.title,
            "name": program.name,
            "joinDate": iso(entries[0].created),
            "ledger": ledger_json(balances.pop("")),
            "subLedgers": {key: ledger_json(value) for key, value in balances.items()},
        }
    return programs


def audience_json(audience: Audience) -> dict[str, Any]:
    """`Audience`."""
    body: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "id": audience.id,
        "created": iso(audience.created),
        "name": audience.name,
        "sandbox": False,
        "description": audience.description,
        "subscribedApplicationsIds": [APPLICATION_ID],
        "lastUpdate": iso(audience.last_update),
    }
    if audience.integration is not None:
        body["integration"] = audience.integration
        body["createdIn3rdParty"] = True
    if audience.integration_id is not None:
        body["integrationId"] = audience.integration_id
    return body
