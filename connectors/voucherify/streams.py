"""The Voucherify streams, declared as data: table, key, cursor, and how a record becomes a row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from promosync.connectors.stream import Row, Stream


def _customer_row(record: dict[str, Any], synced_at: datetime) -> Row:
    address = record.get("address") or {}
    orders = (record.get("summary") or {}).get("orders") or {}
    loyalty = record.get("loyalty") or {}
    return {
        "id": record["id"],
        "source_id": record.get("source_id"),
        "name": record.get("name"),
        "email": record.get("email"),
        "phone": record.get("phone"),
        "birthdate": record.get("birthdate") or record.get("birthday"),
        "address_city": address.get("city"),
        "address_country": address.get("country"),
        "address_postal_code": address.get("postal_code"),
        "metadata": record.get("metadata"),
        "loyalty_points": loyalty.get("points"),
        "orders_total_amount": orders.get("total_amount"),
        "orders_total_count": orders.get("total_count"),
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
    details = record.get("details") or {}
    balance = details.get("balance") or {}
    return {
        "id": record["id"],
        "campaign_id": record.get("campaign_id"),  # the sync fills in the campaign it read
        "voucher_id": record.get("voucher_id"),
        "source_id": record.get("source_id"),
        "type": record.get("type"),
        "reason": record.get("reason"),
        "points": balance.get("points"),
        "balance": balance.get("balance"),
        "related_transaction_id": record.get("related_transaction_id"),
        "created_at": record.get("created_at"),
        "details": details,
        "_raw": record,
        "_synced_at": synced_at,
        "_deleted_at": None,
    }


CUSTOMERS = Stream(
    name="voucherify_customers",
    endpoint="/v1/customers",
    primary_key=("id",),
    cursor_field="updated_at",
    page_size=100,
    records_key="customers",
    to_row=_customer_row,
)
ACTIVITIES = Stream(
    name="voucherify_customer_activities",
    endpoint="/v1/customers/{customerId}/activity",
    primary_key=("id",),
    cursor_field="starting_after_id",  # per customer; stream-wide: customers' updated_at seen
    page_size=100,
    records_key="data",
    to_row=_activity_row,
)
SEGMENTS = Stream(
    name="voucherify_customer_segments",
    endpoint="/v1/customers/{customerId}/segments",
    primary_key=("customer_id", "segment_id"),
    cursor_field="updated_at",  # customers' updated_at seen at the last run
    page_size=None,
    records_key="data",
    to_row=_segment_row,
)
LOYALTY_TRANSACTIONS = Stream(
    name="voucherify_loyalty_transactions",
    endpoint="/v1/loyalties/{campaignId}/transactions",
    primary_key=("id",),
    cursor_field="starting_after_id",  # per campaign
    page_size=100,
    records_key="data",
    to_row=_loyalty_transaction_row,
)
STREAMS = {s.name: s for s in (CUSTOMERS, ACTIVITIES, SEGMENTS, LOYALTY_TRANSACTIONS)}
