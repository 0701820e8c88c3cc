"""The Voucherify streams, declared as data: where each reads, what it writes, how it resumes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from promosync.connectors.readable import member
from promosync.connectors.stream import (
    COUNT_MATCHES_API,
    CURSOR_FORWARD,
    FRESH,
    RECONCILE,
    REFRESH,
    SWEEP,
    UNIQUE_KEY,
    WINDOW,
    Row,
    Stream,
)

PAGE_LIMIT = 100  # the API's largest `limit`


def _customer_row(record: dict[str, Any], synced_at: datetime) -> Row:
    return {
        "id": record["id"],
        "source_id": record.get("source_id"),
        "name": record.get("name"),
        "email": record.get("email"),
        "phone": record.get("phone"),
        "birthdate": record.get("birthdate") or record.get("birthday"),
        "address_city": member(record, "address", "city"),
        "address_country": member(record, "address", "country"),
        "address_postal_code": member(record, "address", "postal_code"),
        "metadata": record.get("metadata"),
        "loyalty_points": member(record, "loyalty", "points"),
        "orders_total_amount": member(record, "summary", "orders", "total_amount"),
        "orders_total_count": member(record, "summary", "orders", "total_count"),
        "created_at": record.get("created_at"),
        "updated_at": record.get("updated_at"),
        "_raw": record,
        "_synced_at": synced_at,
        "_deleted_at": None,
    }


def _activity_row(record: dict[str, Any], synced_at: datetime) -> Row:
    return {
        "id": record["id"],
        "customer_id": None,  # the record does not name its customer: set by the fan-out
        "type": record.get("type"),
        "group_id": record.get("group_id"),
        "created_at": record.get("created_at"),
        "data": record.get("data"),
        "_raw": record,
        "_synced_at": synced_at,
        "_deleted_at": None,
    }


def _segment_row(record: dict[str, Any], synced_at: datetime) -> Row:
    return {
        "customer_id": None,  # set by the fan-out
        "segment_id": record["id"],
        "name": record.get("name"),
        "_raw": record,
        "_synced_at": synced_at,
        "_deleted_at": None,
    }


def _loyalty_transaction_row(record: dict[str, Any], synced_at: datetime) -> Row:
    return {
        "id": record["id"],
        "campaign_id": record.get("campaign_id"),  # the sync fills in the campaign it read
        "voucher_id": record.get("voucher_id"),
        "source_id": record.get("source_id"),
        "type": record.get("type"),
        "reason": record.get("reason"),
        "points": member(record, "details", "balance", "points"),
        "balance": member(record, "details", "balance", "balance"),
        "related_transaction_id": record.get("related_transaction_id"),
        "created_at": record.get("created_at"),
        "details": record.get("details"),
        "_raw": record,
        "_synced_at": synced_at,
        "_deleted_at": None,
    }


CUSTOMERS = Stream(
    name="voucherify_customers",
    platform="voucherify",
    description="Voucherify customers changed since the last run (a tie-safe `updated_at` keyset),"
    " upserted by id.",
    endpoint="/v1/customers",
    primary_key=("id",),
    cursor_field="updated_at",
    page_size=PAGE_LIMIT,
    records_key="customers",
    to_row=_customer_row,
    checks=(UNIQUE_KEY, FRESH, CURSOR_FORWARD, COUNT_MATCHES_API),
    options=(WINDOW, RECONCILE),
)
ACTIVITIES = Stream(
    name="voucherify_customer_activities",
    platform="voucherify",
    description="Activity events of the Voucherify customers whose change signals moved since the"
    " last run, plus a rolling slice of the least recently verified; a cursor per customer.",
    endpoint="/v1/customers/{customerId}/activity",
    primary_key=("id",),
    cursor_field="id",  # per customer, the last id read (`starting_after_id`)
    page_size=PAGE_LIMIT,
    records_key="data",
    to_row=_activity_row,
    cost_per_entity=1,
    depends_on=("voucherify_customers",),
    checks=(UNIQUE_KEY, FRESH, CURSOR_FORWARD),  # stream-wide: the customers' updated_at seen
    options=(SWEEP,),
)
SEGMENTS = Stream(
    name="voucherify_customer_segments",
    platform="voucherify",
    description="Current segments of the Voucherify customers visited by the activity stream,"
    " from their segment events (a sample checked against the API), each replaced whole.",
    endpoint="/v1/customers/{customerId}/segments",
    primary_key=("customer_id", "segment_id"),
    cursor_field=None,  # read whole; stream-wide: the last activity visit derived from
    page_size=None,
    records_key="data",
    to_row=_segment_row,
    cost_per_entity=1,
    # Derived from the segment events the activity stream stores: run after it, so a run's
    # segments hold that run's visits (under any executor, steps in parallel included).
    depends_on=("voucherify_customers", "voucherify_customer_activities"),
    checks=(UNIQUE_KEY, FRESH, CURSOR_FORWARD),
    options=(SWEEP,),
)
LOYALTY_TRANSACTIONS = Stream(
    name="voucherify_loyalty_transactions",
    platform="voucherify",
    description="Transactions of every Voucherify loyalty campaign; a cursor per campaign.",
    endpoint="/v1/loyalties/{campaignId}/transactions",
    primary_key=("id",),
    cursor_field="id",  # per campaign, the last id read (`starting_after_id`)
    page_size=PAGE_LIMIT,
    records_key="data",
    to_row=_loyalty_transaction_row,
    cost_per_entity=1,
    options=(REFRESH,),
)
STREAMS = {s.name: s for s in (CUSTOMERS, ACTIVITIES, SEGMENTS, LOYALTY_TRANSACTIONS)}
