"""The Talon.One streams, declared as data: where each reads, what it writes, how it resumes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from promosync.connectors.readable import member
from promosync.connectors.stream import (
    CURSOR_FORWARD,
    FRESH,
    LAG,
    LEDGERS,
    UNIQUE_KEY,
    WINDOW,
    Row,
    Stream,
)

MAX_PAGE_SIZE = 1000  # the largest `pageSize` every list accepts


def _raw(record: dict[str, Any]) -> dict[str, Any]:
    """The record as the API sent it, without the fields the sync attached (`_...`)."""
    attached = [key for key in record if isinstance(key, str) and key.startswith("_")]
    if not attached:  # most records: no copy
        return record
    return {key: value for key, value in record.items() if key not in attached}


def _meta(record: dict[str, Any], synced_at: datetime) -> Row:
    return {"_raw": _raw(record), "_synced_at": synced_at, "_deleted_at": None}


def _program_row(record: dict[str, Any], synced_at: datetime) -> Row:
    return {
        "id": record["id"],
        "name": record.get("name"),
        "title": record.get("title"),
        "description": record.get("description"),
        "card_based": record.get("cardBased"),
        "allow_subledger": record.get("allowSubledger"),
        "sandbox": record.get("sandbox"),
        "timezone": record.get("timezone"),
        "subscribed_applications": record.get("subscribedApplications"),
        "tiers": record.get("tiers"),
        "created": record.get("created"),
        **_meta(record, synced_at),
    }


def _transaction_row(record: dict[str, Any], synced_at: datetime) -> Row:
    return {
        "id": record["id"],
        "transaction_uuid": record.get("transactionUUID"),
        "program_id": record.get("programId"),
        # The Integration API's profile log leaves out the profile it was read for.
        "customer_profile_id": record.get("customerProfileId") or record.get("_profile_id"),
        "card_identifier": record.get("cardIdentifier"),
        "subledger_id": record.get("subledgerId"),
        "type": record.get("type"),
        "amount": record.get("amount"),
        "name": record.get("name"),
        "created": record.get("created"),
        "start_date": record.get("startDate"),
        "expiry_date": record.get("expiryDate"),
        "customer_session_id": record.get("customerSessionId"),
        "campaign_id": record.get("campaignId"),
        "import_id": record.get("importId"),
        "ruleset_id": record.get("rulesetId"),
        "rule_name": record.get("ruleName"),
        **_meta(record, synced_at),
    }


def _card_row(record: dict[str, Any], synced_at: datetime) -> Row:
    return {
        "id": record["id"],
        "program_id": record.get("programID"),
        "identifier": record["identifier"],
        "status": record.get("status"),
        "block_reason": record.get("blockReason"),
        "batch_id": record.get("batchId"),
        "users_per_card_limit": record.get("usersPerCardLimit"),
        "current_balance": member(record, "ledger", "currentBalance"),
        "pending_balance": member(record, "ledger", "pendingBalance"),
        "negative_balance": member(record, "ledger", "negativeBalance"),
        "expired_balance": member(record, "ledger", "expiredBalance"),
        "spent_balance": member(record, "ledger", "spentBalance"),
        "subledgers": record.get("subledgers"),
        "profiles": record.get("profiles"),
        "created": record.get("created"),
        "modified": record.get("modified"),
        **_meta(record, synced_at),
    }


def _profile_row(record: dict[str, Any], synced_at: datetime) -> Row:
    return {
        "id": record["id"],
        "integration_id": record["integrationId"],
        "created": record.get("created"),
        "last_activity": record.get("lastActivity"),
        "closed_sessions": record.get("closedSessions"),
        "total_sales": record.get("totalSales"),
        "attributes": record.get("attributes"),
        "audience_memberships": record.get("audienceMemberships"),
        "sandbox": record.get("sandbox"),
        **_meta(record, synced_at),
    }


def _blank(value: Any) -> Any:
    return None if value == "" else value


def _balance_row(record: dict[str, Any], synced_at: datetime) -> Row:
    """A ledger's balance: a program export's CSV row, or one ledger's balance object, with the
    owner the balances sync attached (`_` fields)."""
    if record["_source"] == "export":
        points = {
            "current_points": _blank(record.get("currentBalance")),
            "pending_points": _blank(record.get("pendingBalance")),
            "expired_points": _blank(record.get("expiredBalance")),
            "spent_points": _blank(record.get("spentBalance")),
            "negative_points": None,  # not exported
            "current_tier": _blank(record.get("currentTier")),  # the tier's name
            "card_state": _blank(record.get("cardState")),
        }
    else:
        points = {
            "current_points": record.get("activePoints"),
            "pending_points": record.get("pendingPoints"),
            "expired_points": record.get("expiredPoints"),
            "spent_points": record.get("spentPoints"),
            "negative_points": record.get("negativePoints"),
            "current_tier": member(record, "currentTier", "name"),  # an object in the spec
            "card_state": None,
        }
    return {
        "snapshot_date": record["_as_of"].date(),
        "program_id": record["_program_id"],
        "owner_kind": record["_owner_kind"],
        "owner_id": record["_owner_id"],
        "subledger_id": record["_subledger_id"],
        "as_of": record["_as_of"],
        **points,
        **_meta(record, synced_at),
    }


PROGRAMS = Stream(
    name="talon_one_loyalty_programs",
    platform="talon_one",
    description="Talon.One loyalty programs, a snapshot (Management API).",
    endpoint="/v1/loyalty_programs",
    primary_key=("id",),
    cursor_field=None,
    page_size=None,
    records_key="data",
    to_row=_program_row,
)
PROFILES = Stream(
    name="talon_one_customer_profiles",
    platform="talon_one",
    description="Talon.One customer profiles with their attributes kept whole, a snapshot"
    " (Management API).",
    endpoint="/v1/customers/no_total",
    primary_key=("id",),
    cursor_field=None,
    page_size=MAX_PAGE_SIZE,
    records_key="data",
    to_row=_profile_row,
)
CARDS = Stream(
    name="talon_one_loyalty_cards",
    platform="talon_one",
    description="Talon.One loyalty cards with their ledger and linked profiles, a snapshot"
    " (Management API).",
    endpoint="/v1/loyalty_programs/{programId}/cards",
    primary_key=("id",),
    cursor_field=None,
    page_size=MAX_PAGE_SIZE,
    records_key="data",
    to_row=_card_row,
    depends_on=("talon_one_loyalty_programs",),
)
TRANSACTIONS = Stream(
    name="talon_one_loyalty_transactions",
    platform="talon_one",
    description="Talon.One ledger entries in closed date windows, program-wide or per profile"
    " and card; a cursor per program or ledger.",
    endpoint="/v1/loyalty_programs/{programId}/transactions",  # or the ledgers', by entity
    primary_key=("id",),
    cursor_field="created",  # the end of the last closed window read, per program or ledger
    page_size=MAX_PAGE_SIZE,
    records_key="data",
    to_row=_transaction_row,
    cost_per_entity=1,  # per program, or per ledger
    depends_on=(
        "talon_one_loyalty_programs",
        "talon_one_loyalty_cards",
        "talon_one_customer_profiles",
    ),
    checks=(UNIQUE_KEY, FRESH, CURSOR_FORWARD),
    options=(LEDGERS, WINDOW, LAG),
)
BALANCES = Stream(
    name="talon_one_loyalty_balances",
    platform="talon_one",
    description="Today's Talon.One balance of every ledger and subledger, one dated snapshot"
    " row each.",
    endpoint="/v1/loyalty_programs/{programId}/export_customer_balances",  # or cards', or by entity
    primary_key=("program_id", "owner_kind", "owner_id", "subledger_id", "snapshot_date"),
    cursor_field=None,
    page_size=None,
    records_key=None,  # CSV rows, or one ledger's `balance` and `subledgerBalances`
    to_row=_balance_row,
    cost_per_entity=1,  # per program's export, or per ledger
    depends_on=("talon_one_loyalty_transactions",),
    options=(LEDGERS,),
)
STREAMS = {s.name: s for s in (PROGRAMS, TRANSACTIONS, CARDS, PROFILES, BALANCES)}
