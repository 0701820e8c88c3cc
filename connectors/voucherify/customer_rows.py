"""Voucherify customer rows: fields from input columns, and the importCSV file format."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

import orjson
from promosync.connectors.push.validate import (
    RowProblem,
    calendar_date,
    email,
    json_object,
    required_text,
)

TEXT_FIELDS = ("name", "email", "phone", "birthdate", "description")
ADDRESS_FIELDS = ("line_1", "line_2", "city", "state", "postal_code", "country")
# importCSV's standard headers, by customer field (address fields as address_<name>).
CSV_HEADERS = {
    "name": "Name",
    "email": "Email",
    "phone": "Phone",
    "birthdate": "Birthdate",
    "source_id": "Source_id",
    "address_line_1": "Address_line_1",
    "address_line_2": "Address_line_2",
    "address_postal_code": "Address_Postal_Code",
    "address_city": "Address_City",
    "address_state": "Address_State",
    "address_country": "Address_Country",
    "description": "Description",
}
_KNOWN = {"source_id", "metadata", "address", "id", *TEXT_FIELDS}
_KNOWN |= {f"address_{name}" for name in ADDRESS_FIELDS}
_RESERVED = {*CSV_HEADERS, "id", "birthday"}  # headers importCSV maps to customer fields


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def metadata_row(fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(source_id, metadata): a `metadata` JSON object, or else every other column as a key."""
    source_id = required_text(fields, "source_id")
    if "metadata" in fields:
        if fields["metadata"] is None:
            raise RowProblem("metadata is missing")
        return source_id, json_object(fields["metadata"], "metadata")
    metadata = {k: v for k, v in fields.items() if k != "source_id" and v is not None}
    if not metadata:
        raise RowProblem("no metadata: give a metadata column (JSON object) or metadata columns")
    return source_id, metadata


def customer_row(fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(source_id, customer object) for a bulk update; unmapped columns become metadata keys."""
    source_id = required_text(fields, "source_id")
    customer: dict[str, Any] = {"source_id": source_id}
    for name in TEXT_FIELDS:
        if fields.get(name) is not None:
            customer[name] = str(fields[name])
    if "email" in customer:
        email(customer["email"])
    if "birthdate" in customer:
        calendar_date(customer["birthdate"], "birthdate")
    address = json_object(fields["address"], "address") if fields.get("address") else {}
    for name in ADDRESS_FIELDS:
        if fields.get(f"address_{name}") is not None:
            address[name] = str(fields[f"address_{name}"])
    if address:
        customer["address"] = address
    metadata = json_object(fields["metadata"], "metadata") if fields.get("metadata") else {}
    metadata.update({k: v for k, v in fields.items() if k not in _KNOWN and v is not None})
    if metadata:
        customer["metadata"] = metadata
    return source_id, customer


def csv_import_row(fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A customer as importCSV can carry it: flat text only, metadata keys as extra columns."""
    source_id, customer = customer_row(fields)
    metadata = customer.get("metadata", {})
    for key, value in metadata.items():
        if isinstance(value, dict | list):
            raise RowProblem(
                f"metadata {key!r} is nested; a CSV import carries text only (use `customers`)"
            )
        if key.lower() in _RESERVED or key.lower().startswith("metadata_"):
            raise RowProblem(f"metadata key {key!r} clashes with an importCSV header")
    if metadata:
        customer["metadata"] = {key: _text(value) for key, value in metadata.items()}
    return source_id, customer


def csv_columns(customers: Iterable[dict[str, Any]]) -> list[str]:
    """Columns of an import file: the standard ones in use, then every metadata key."""
    used: set[str] = set()
    keys: dict[str, None] = {}
    for customer in customers:
        used.update(customer)
        used.update(f"address_{name}" for name in customer.get("address", {}))
        keys.update(dict.fromkeys(customer.get("metadata", {})))
    return [c for c in CSV_HEADERS if c in used] + [f"metadata:{key}" for key in keys]


def csv_header(columns: list[str]) -> bytes:
    """The header line: standard Voucherify names, metadata keys as they are."""
    return csv_line([CSV_HEADERS.get(c) or c.removeprefix("metadata:") for c in columns])


def csv_record(customer: dict[str, Any], columns: list[str]) -> bytes:
    """One customer as a CSV line in `columns` order (an empty cell leaves a field as it is)."""
    cells = []
    for column in columns:
        if column.startswith("metadata:"):
            value = customer.get("metadata", {}).get(column.removeprefix("metadata:"))
        elif column.startswith("address_"):
            value = customer.get("address", {}).get(column.removeprefix("address_"))
        else:
            value = customer.get(column)
        cells.append("" if value is None else value)
    return csv_line(cells)


def csv_line(cells: list[str]) -> bytes:
    """Cells as one RFC 4180 line, UTF-8."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue().encode()
