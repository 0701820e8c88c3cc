"""The CSV files of an export: rows selected at the snapshot, ordered, rendered, split."""

from __future__ import annotations

import csv
import gc
import io
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from promosync.sandbox.settings import SandboxSettings
from promosync.sandbox.voucherify.export_filters import Record
from promosync.sandbox.voucherify.export_requests import ExportRequest
from promosync.sandbox.voucherify.state import VoucherifyState

# The sandbox project's Metadata Schema for customers: the keys its generator writes. An export's
# `metadata` field holds "all metadata fields defined in Metadata Schema" (spec), so keys outside
# it (e.g. those set through the API) are not exported in `schema_columns` mode.
METADATA_SCHEMA = (
    "tier", "newsletter", "lifetime_value", "visits", "referral_code", "tags", "preferences",
)  # fmt: skip


def _customer_path(field: str) -> tuple[str, ...]:
    """Where a customer export field lives in the customer object."""
    for prefix, path in (
        ("address_", "address."),
        ("redemptions_", "summary.redemptions."),
        ("orders_", "summary.orders."),
        ("loyalty_", "loyalty."),
    ):
        if field.startswith(prefix):
            return (*path.split(".")[:-1], field.removeprefix(prefix))
    return (field,)


def _customer_getter(column: str) -> Callable[[dict[str, Any]], Any]:
    """Reads one column's value from a customer (compiled once per export, used per row)."""
    if column == "metadata":
        return lambda customer: customer["metadata"] or None
    if column.startswith("metadata."):
        key = column.removeprefix("metadata.")
        return lambda customer: customer["metadata"].get(key)
    steps = _customer_path(column)
    if len(steps) == 1:
        return lambda customer: customer.get(steps[0])

    def walk(customer: dict[str, Any]) -> Any:
        value: Any = customer
        for step in steps:
            if not isinstance(value, dict):
                return None
            value = value.get(step)
        return value

    return walk


def cell(value: Any) -> str:
    """A CSV cell: empty for null, true/false, numbers and nested values as JSON."""
    if value is None:
        return ""
    kind = type(value)
    if kind is str:
        return value
    if kind is int:
        return str(value)
    return orjson.dumps(value).decode()


def header(field: str, style: str) -> str:
    """A column header: the field name, or its title as the spec's CSV example writes them."""
    if style == "fields" or field.startswith("metadata."):
        return field
    return " ".join("ID" if word == "id" else word.capitalize() for word in field.split("_"))


def _customer_columns(request: ExportRequest, settings: SandboxSettings) -> list[str]:
    columns = []
    for field in request.fields:
        if field == "metadata" and settings.voucherify_export_metadata == "schema_columns":
            columns += [f"metadata.{key}" for key in METADATA_SCHEMA]
        else:
            columns.append(field)
    return columns


def _customer_rows(state: VoucherifyState, request: ExportRequest) -> list[Record]:
    store = state.store
    rows = [Record(c, *store.keys(c["id"])) for c in store.by_id.values()]
    rows = [row for row in rows if request.matches(row)]
    key = request.order.lstrip("-")
    if key in ("created_at", "updated_at"):
        sort_key: Callable[[Record], Any] = (
            (lambda r: (r.created_us, r.data["id"]))
            if key == "created_at"
            else (lambda r: (r.updated_us, r.data["id"]))
        )
    else:
        sort_key = lambda r: (r.data[key] is None, r.data[key] or "", r.data["id"])  # noqa: E731
    rows.sort(key=sort_key, reverse=request.order.startswith("-"))
    return rows


def _transaction_rows(state: VoucherifyState, request: ExportRequest) -> list[Record]:
    book = state.loyalty
    rows = []
    for tx in book.transactions.values():
        card = book.cards[tx.card_code]
        brief = {"id": tx.id, "campaign_id": card.campaign_id, "voucher_id": card.voucher_id}
        record = Record(brief, tx.created_us, aliases={"code": card.code})
        if request.matches(record):
            rows.append(record._replace(data=book.rendered(tx.id)))
    rows.sort(key=lambda r: (r.created_us, r.data["id"]), reverse=request.order.startswith("-"))
    return rows


def _transaction_cells(tx: dict[str, Any], columns: list[str]) -> list[str]:
    balance = tx["details"]["balance"]
    values = {**tx, "balance": balance["balance"], "amount": balance["points"]}
    return [cell(values[column]) for column in columns]


def _lines(columns: list[str], style: str, rows: Iterator[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([header(column, style) for column in columns])
    writer.writerows(rows)
    return buffer.getvalue().encode()


def render_files(
    state: VoucherifyState, request: ExportRequest, settings: SandboxSettings
) -> tuple[list[bytes], int]:
    """The export's CSV files (each with its header row) and the number of rows in all."""
    # Millions of cells trigger full GC passes over the whole dataset, doubling the time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _render(state, request, settings)
    finally:
        if collecting:
            gc.enable()


def _render(
    state: VoucherifyState, request: ExportRequest, settings: SandboxSettings
) -> tuple[list[bytes], int]:
    if request.exported_object == "customer":
        columns = _customer_columns(request, settings)
        getters = [_customer_getter(column) for column in columns]
        cells = [[cell(get(r.data)) for get in getters] for r in _customer_rows(state, request)]
    else:
        columns = list(request.fields)
        cells = [_transaction_cells(r.data, columns) for r in _transaction_rows(state, request)]
    size = settings.voucherify_export_rows_per_file or len(cells) or 1
    style = settings.voucherify_export_headers
    chunks = [cells[i : i + size] for i in range(0, len(cells), size)] or [[]]
    return [_lines(columns, style, iter(chunk)) for chunk in chunks], len(cells)
