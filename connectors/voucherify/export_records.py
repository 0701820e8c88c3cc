"""A customer export row as the customer object the list answers, merged with what was known.

An export carries the customer's own fields, address, order and redemption counters, loyalty
points and the metadata keys of the project's schema, every cell as text; it lacks what
docs/TABLES.md lists (gift and loyalty-card redemption figures, loyalty per campaign, referrals,
system metadata, assets, metadata keys outside the schema, JSON types). So a row becomes a
record in three steps: the record the warehouse already holds (`_raw`, from an earlier list or
export read) is the base; each carried field is set on it, keeping the known value where its
cell text is the same (so a type the cell cannot tell, `"7"` against `7`, is kept); every field
the export does not carry keeps its known value. A later list read of the customer replaces
the whole record.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import orjson

# The spec's customer export fields (ExportCustomerFields): all of them are asked for.
CUSTOMER_FIELDS = (
    "id", "source_id", "name", "description", "email", "phone", "birthdate", "birthday",
    "created_at", "updated_at",
    "address_city", "address_state", "address_line_1", "address_line_2", "address_country",
    "address_postal_code",
    "redemptions_total_redeemed", "redemptions_total_failed", "redemptions_total_succeeded",
    "redemptions_total_rolled_back", "redemptions_total_rollback_failed",
    "redemptions_total_rollback_succeeded",
    "orders_total_amount", "orders_total_count", "orders_average_amount",
    "orders_last_order_amount", "orders_last_order_date",
    "loyalty_points", "loyalty_referred_customers", "metadata",
)  # fmt: skip
NESTED = (
    ("address_", ("address",)),
    ("redemptions_", ("summary", "redemptions")),
    ("orders_", ("summary", "orders")),
    ("loyalty_", ("loyalty",)),
)
TEXT = frozenset({"orders_last_order_date"})  # a nested field that is no number
OPTIONAL = frozenset({"birthday"})  # set only when the export has a value for it
_ABSENT = object()


def cell_text(value: Any) -> str:
    """A value as an export cell writes it: empty for null, JSON for anything but text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _typed(text: str, known: Any, number: bool) -> Any:
    """The value of a non-empty cell: the known value if it reads the same, else parsed."""
    if known is not _ABSENT and cell_text(known) == text:
        return known
    if isinstance(known, str) or not number:
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _container(record: dict[str, Any], keys: tuple[str, ...], cells: dict[str, str]) -> None:
    """Set the nested fields `cells` under `record[keys...]`: an empty cell is null there, and a
    container the record lacks is made only when some cell of it has a value."""
    holder = record
    for key in keys:
        if not isinstance(holder.get(key), dict):
            if not any(cells.values()):
                return
            holder[key] = {}
        holder = holder[key]
    number = keys != ("address",)
    for field, text in cells.items():
        known = holder.get(field, _ABSENT)
        if text == "":
            holder[field] = None
        else:
            holder[field] = _typed(text, known, number and field not in TEXT)


def _metadata(record: dict[str, Any], cells: Mapping[str, str]) -> None:
    if "metadata" in cells:  # one column, the whole object as JSON
        text = cells["metadata"]
        known = record.get("metadata")
        if text == "":
            record["metadata"] = known if known in (None, {}) else {}
        elif cell_text(known) != text:
            record["metadata"] = orjson.loads(text)
        return
    metadata = record.get("metadata")
    metadata = dict(metadata) if isinstance(metadata, dict) else {}
    for column, text in cells.items():
        if not column.startswith("metadata."):
            continue
        key = column.removeprefix("metadata.")
        known = metadata.get(key, _ABSENT)
        if text == "":
            if known is not _ABSENT and known not in (None, ""):
                del metadata[key]  # cleared at the source (null and a removed key look alike)
        else:
            metadata[key] = _typed(text, known, number=True)
    record["metadata"] = metadata


def customer_record(cells: Mapping[str, str], known: Mapping[str, Any] | None) -> dict[str, Any]:
    """The customer of one export row, over `known` (its last record in the warehouse)."""
    record: dict[str, Any] = copy.deepcopy(dict(known)) if known else {}
    nested: dict[tuple[str, ...], dict[str, str]] = {keys: {} for _, keys in NESTED}
    for field, text in cells.items():
        if field == "metadata" or field.startswith("metadata."):
            continue
        for prefix, keys in NESTED:
            if field.startswith(prefix):
                nested[keys][field.removeprefix(prefix)] = text
                break
        else:
            if text == "" and field in OPTIONAL and field not in record:
                continue
            current = record.get(field, _ABSENT)
            if text == "":
                record[field] = current if current in ("", None) else None
            else:
                record[field] = _typed(text, current, number=False)
    for keys, fields in nested.items():
        if fields:
            _container(record, keys, fields)
    _metadata(record, cells)
    if not known and "address" not in record:
        record["address"] = None
    return record
