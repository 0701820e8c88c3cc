"""Parse a customers CSV the way POST /v1/customers/importCSV maps its columns."""

from __future__ import annotations

import csv
import io
from typing import Any

from promosync.sandbox.voucherify.state import invalid_field

STANDARD = {
    "id": ("id",),
    "name": ("name",),
    "email": ("email",),
    "phone": ("phone",),
    "birthdate": ("birthdate",),
    "birthday": ("birthday",),
    "source_id": ("source_id",),
    "description": ("description",),
    "address_line_1": ("address", "line_1"),
    "address_line_2": ("address", "line_2"),
    "address_postal_code": ("address", "postal_code"),
    "address_city": ("address", "city"),
    "address_state": ("address", "state"),
    "address_country": ("address", "country"),
}

Row = tuple[int, str, dict[str, Any], str | None]  # (row number, source_id, fields, failure)


def _target(header: str) -> tuple[str, ...]:
    key = header.strip().lower()
    if key in STANDARD:
        return STANDARD[key]
    if key.startswith("metadata_") and len(header.strip()) > len("metadata_"):
        return ("metadata", header.strip()[len("metadata_") :])
    return ("metadata", header.strip())  # unmapped columns become metadata


def import_rows(raw: bytes) -> tuple[list[Row], str | None]:
    """Every data row mapped to customer fields, or a reason the file cannot be read at all."""
    try:
        text = raw.decode("utf-8-sig")
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except (UnicodeDecodeError, csv.Error) as exc:
        return [], f"The CSV file could not be parsed: {exc}"
    records = [r for r in records if any(cell.strip() for cell in r)]
    if not records:
        return [], "The CSV file is empty."
    header = records[0]
    if len(set(h.strip().lower() for h in header)) != len(header) or not all(
        h.strip() for h in header
    ):
        return [], "The CSV header has empty or duplicate column names."
    if len(records) == 1:
        return [], "The CSV file has no data rows."
    targets = [_target(h) for h in header]
    rows = []
    for number, record in enumerate(records[1:], start=1):
        if len(record) != len(header):
            reason = f"row has {len(record)} columns, the header has {len(header)}"
            rows.append((number, "", {}, reason))
            continue
        fields: dict[str, Any] = {}
        for target, cell in zip(targets, record, strict=True):
            if cell == "":
                continue
            if len(target) == 1:
                fields[target[0]] = cell
            else:
                fields.setdefault(target[0], {})[target[1]] = cell
        source_id = fields.get("source_id", "")
        reason = invalid_field(fields)
        if not source_id and not fields.get("id"):
            reason = "source_id: property is required"
        rows.append((number, source_id, fields, reason))
    return rows, None
