"""Create-export request bodies: which rows, which columns, in which order; 400s as the spec has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from promosync.sandbox.voucherify.export_filters import (
    Getter,
    Predicate,
    as_arrays,
    compile_filters,
    dotted,
    invalid_payload,
)
from promosync.sandbox.voucherify.params import ApiError

CUSTOMER_FIELDS = (
    "name", "id", "description", "email", "source_id", "created_at",
    "address_city", "address_state", "address_line_1", "address_line_2", "address_country",
    "address_postal_code",
    "redemptions_total_redeemed", "redemptions_total_failed", "redemptions_total_succeeded",
    "redemptions_total_rolled_back", "redemptions_total_rollback_failed",
    "redemptions_total_rollback_succeeded",
    "orders_total_amount", "orders_total_count", "orders_average_amount",
    "orders_last_order_amount", "orders_last_order_date",
    "loyalty_points", "loyalty_referred_customers", "updated_at", "phone", "birthday", "metadata",
    "birthdate",
)  # fmt: skip
TRANSACTION_FIELDS = (
    "id", "campaign_id", "voucher_id", "type", "source_id", "reason", "source", "balance",
    "amount", "related_transaction_id", "created_at", "details",
)  # fmt: skip
# The loyalty campaign export's own field list has no campaign_id (the campaign is the path's).
CAMPAIGN_TRANSACTION_FIELDS = tuple(f for f in TRANSACTION_FIELDS if f != "campaign_id")
# The spec's defaults, except the transactions' `status`, which no transaction has and the
# field enum does not allow.
DEFAULT_FIELDS = {
    "customer": ["name", "source_id"],
    "voucher_transactions": [
        "id", "type", "source_id", "reason", "source", "balance", "amount", "created_at",
    ],
}  # fmt: skip
ORDERS = {
    "customer": ("name", "id", "email", "source_id", "created_at", "updated_at"),
    "voucher_transactions": ("created_at",),
}
SUPPORTED = ("customer", "voucher_transactions")
ALL_OBJECTS = (
    "voucher", "redemption", "customer", "publication", "order", "points_expiration",
    "voucher_transactions",
)  # fmt: skip
CUSTOMER_PREFIXES = ("metadata.", "address.", "summary.", "loyalty.", "system_metadata.")
CUSTOMER_TEXT_FILTERS = ("email", "name", "phone", "birthday", "source_id")


@dataclass
class ExportRequest:
    """A validated export: what the API echoes, and how the sandbox selects and orders rows."""

    exported_object: str
    echo: dict[str, Any]  # `parameters` as the create call answers them
    shown: dict[str, Any]  # `parameters` as GET /v1/exports shows them (operands as arrays)
    fields: list[str]
    order: str
    matches: Predicate


def _invalid_fields(allowed: tuple[str, ...]) -> ApiError:
    details = f"Unsupported field used. Allowed fields: {', '.join(allowed)}"
    return ApiError(400, "invalid_export_fields", "Invalid Export", details)


def _fields(parameters: dict[str, Any], kind: str, allowed: tuple[str, ...]) -> list[str]:
    fields = parameters.get("fields")
    if fields is None:
        return list(DEFAULT_FIELDS[kind])
    if not isinstance(fields, list) or not fields or any(f not in allowed for f in fields):
        raise _invalid_fields(allowed)
    return list(dict.fromkeys(fields))


def _order(parameters: dict[str, Any], kind: str) -> str:
    order = parameters.get("order")
    if order is None:
        return "-created_at"
    allowed = [f"{sign}{key}" for key in ORDERS[kind] for sign in ("-", "")]
    if order not in allowed:
        raise invalid_payload(
            f"Property .parameters.order should be equal to one of the allowed values "
            f"[ {', '.join(allowed)} ]"
        )
    return order


def _customer_getter(name: str) -> tuple[Getter, bool] | None:
    if name == "created_at":
        return (lambda record: record.created_us), True
    if name == "updated_at":
        return (lambda record: record.updated_us), True
    if name == "city":
        return dotted("address.city"), False
    if name in CUSTOMER_TEXT_FILTERS:
        return dotted(name), False
    if name.startswith(CUSTOMER_PREFIXES):
        return dotted(name), False
    return None


def _transaction_getter(name: str) -> tuple[Getter, bool] | None:
    if name == "created_at":
        return (lambda record: record.created_us), True
    if name == "campaign_id":
        return dotted("campaign_id"), False
    if name == "voucher_id":
        return dotted("voucher_id"), False
    return None


def _parameters(body: Any, key: str = "parameters") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid_payload("The request body must be a JSON object")
    parameters = body.get(key)
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise invalid_payload(f"Property .{key} should be an object")
    return parameters


def export_request(body: Any, inclusive: bool) -> ExportRequest:
    """POST /v1/exports: `{exported_object, parameters: {order, fields, filters}}`."""
    parameters = _parameters(body)
    kind = body.get("exported_object")
    if kind not in ALL_OBJECTS:
        raise invalid_payload(
            "Property .exported_object should be equal to one of the allowed values "
            f"[ {', '.join(ALL_OBJECTS)} ]"
        )
    if kind not in SUPPORTED:
        raise invalid_payload(
            f"exported_object {kind!r}: the sandbox simulates exports of customer and "
            "voucher_transactions only"
        )
    allowed = CUSTOMER_FIELDS if kind == "customer" else TRANSACTION_FIELDS
    getters = _customer_getter if kind == "customer" else _transaction_getter
    fields, order = _fields(parameters, kind, allowed), _order(parameters, kind)
    filters = parameters.get("filters")
    matches = compile_filters(filters, getters, inclusive=inclusive, strict_arrays=True)
    echo = {**parameters, "fields": fields}
    return ExportRequest(kind, echo, echo, fields, order, matches)


def transactions_export(
    body: Any,
    inclusive: bool,
    scope: tuple[dict[str, Any], Predicate],
    fields_allowed: tuple[str, ...],
) -> ExportRequest:
    """A loyalty transactions export limited to the path's campaign or card: `scope` is the
    filter the API adds for it, and the predicate that selects its rows."""
    parameters = _parameters(body if body is not None else {})
    fields = _fields(parameters, "voucher_transactions", fields_allowed)
    order = _order(parameters, "voucher_transactions")
    filters = parameters.get("filters")
    if filters is not None and not isinstance(filters, dict):
        raise invalid_payload("parameters.filters must be an object")
    # These endpoints' own schema takes plain strings where POST /v1/exports takes arrays, and
    # their examples send arrays: both are accepted.
    given = compile_filters(filters, _transaction_getter, inclusive=inclusive, strict_arrays=False)
    added, within = scope
    scoped = {**(filters or {}), **added}
    echo = {**parameters, "fields": fields, "filters": scoped}
    shown = {**echo, "filters": as_arrays(scoped)}
    return ExportRequest(
        "voucher_transactions", echo, shown, fields, order, lambda r: within(r) and given(r)
    )
