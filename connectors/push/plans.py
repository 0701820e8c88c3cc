"""Voucherify bulk requests planned under the 10 MB body limit, in as few requests as it allows."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from promosync.connectors.push.audit import RowResult
from promosync.connectors.push.batching import MAX_BODY_BYTES, pack
from promosync.connectors.push.customers import csv_columns, csv_header, csv_record
from promosync.connectors.push.hashing import Change

METADATA = ("/v1/customers/metadata/async", "CUSTOMERS.METADATA_UPDATE")
BULK = ("/v1/customers/bulk/async", "CUSTOMERS.BULK_UPDATE")
IMPORT_CSV = ("/v1/customers/importCSV", "CUSTOMERS.IMPORT_CSV")
MULTIPART_MARGIN = 4096  # boundary lines and part headers around the CSV file


@dataclass(frozen=True)
class Batch:
    """One request: endpoint, the async action type it starts, its rows and its exact body."""

    path: str
    action_type: str
    changes: list[Change]
    body: bytes
    is_csv: bool = False

    def describe(self, number: int) -> str:
        """One line for a dry run: where it goes, how many rows, how big, which keys."""
        keys = [c.row.key for c in self.changes]
        shown = ", ".join(keys[:3]) + (f", … {keys[-1]}" if len(keys) > 3 else "")
        return (
            f"batch {number}: POST {self.path} — {len(keys)} rows, {len(self.body):,} bytes"
            f" — {shown}"
        )


def _too_big(change: Change, size: int) -> RowResult:
    reason = f"the row alone is {size:,} bytes, over the {MAX_BODY_BYTES:,}-byte limit"
    return RowResult(change.row.number, change.row.key, "invalid", reason)


def json_array_batches(
    changes: list[Change], item: Callable[[Change], Any], endpoint: tuple[str, str]
) -> tuple[list[Batch], list[RowResult]]:
    """Requests whose body is a JSON array of one item per row."""
    encoded = [(change, orjson.dumps(item(change))) for change in changes]
    fits = [(c, e) for c, e in encoded if len(e) + 2 <= MAX_BODY_BYTES]
    refused = [_too_big(c, len(e)) for c, e in encoded if len(e) + 2 > MAX_BODY_BYTES]
    groups = pack(fits, lambda pair: len(pair[1]), limit=MAX_BODY_BYTES, base=2)
    batches = [
        Batch(*endpoint, [c for c, _ in group], b"[" + b",".join(e for _, e in group) + b"]")
        for group in groups
    ]
    return batches, refused


def customers_batches(changes: list[Change]) -> tuple[list[Batch], list[RowResult]]:
    """`POST /v1/customers/bulk/async` requests: arrays of customer objects."""
    return json_array_batches(changes, lambda change: change.row.payload, BULK)


def _metadata_item(change: Change) -> dict[str, Any]:
    return {"source_id": change.row.key, "metadata": change.row.payload}


@dataclass
class _Group:
    changes: list[Change]
    base: int  # bytes of {"source_ids":[],"metadata":{...}}
    ids: list[bytes]
    bulk_bytes: int  # the same rows as bulk items, with separators

    def requests(self) -> list[list[int]]:
        return pack(range(len(self.ids)), lambda i: len(self.ids[i]),
                    limit=MAX_BODY_BYTES, base=self.base)  # fmt: skip


def metadata_batches(changes: list[Change]) -> tuple[list[Batch], list[RowResult]]:
    """Rows with identical metadata share a `metadata/async` request when that saves requests.

    A metadata request carries one metadata object for many ids, so a large group is cheapest
    there; rows whose metadata is (nearly) unique are packed together as `bulk/async` items
    `{source_id, metadata}`, which update metadata the same way. Groups go to metadata requests
    largest first while that lowers the total count of requests.
    """
    by_metadata: dict[str, list[Change]] = {}
    for change in changes:
        by_metadata.setdefault(change.hash, []).append(change)
    groups = []
    for members in by_metadata.values():
        metadata = members[0].row.payload
        base = len(orjson.dumps({"source_ids": [], "metadata": metadata}))
        bulk = sum(len(orjson.dumps(_metadata_item(c))) + 1 for c in members)
        ids = [orjson.dumps(c.row.key) for c in members]
        if base + max(map(len, ids)) <= MAX_BODY_BYTES:
            groups.append(_Group(members, base, ids, bulk))
    groups.sort(key=lambda g: g.bulk_bytes, reverse=True)
    pool = sum(g.bulk_bytes for g in groups)
    best, best_count, grouped_requests = 0, math.ceil(pool / (MAX_BODY_BYTES - 2)), 0
    for index, group in enumerate(groups, start=1):
        grouped_requests += len(group.requests())
        pool -= group.bulk_bytes
        count = grouped_requests + math.ceil(pool / (MAX_BODY_BYTES - 2))
        if count <= best_count:  # on a tie, grouping sends fewer bytes
            best, best_count = index, count
    batches = []
    for group in groups[:best]:
        for request in group.requests():
            ids = [group.changes[i].row.key for i in request]
            body = orjson.dumps({"source_ids": ids, "metadata": group.changes[0].row.payload})
            batches.append(Batch(*METADATA, [group.changes[i] for i in request], body))
    grouped = {id(c) for g in groups[:best] for c in g.changes}
    rest = [c for c in changes if id(c) not in grouped]
    bulk, refused = json_array_batches(rest, _metadata_item, BULK)
    return batches + bulk, refused


def csv_batches(changes: list[Change]) -> tuple[list[Batch], list[RowResult]]:
    """`POST /v1/customers/importCSV` uploads: one header, then rows, each file under the limit."""
    if not changes:
        return [], []
    columns = csv_columns([change.row.payload for change in changes])
    header = csv_header(columns)
    limit = MAX_BODY_BYTES - MULTIPART_MARGIN
    lines = [(change, csv_record(change.row.payload, columns)) for change in changes]
    fits = [(c, line) for c, line in lines if len(header) + len(line) <= limit]
    refused = [_too_big(c, len(line)) for c, line in lines if len(header) + len(line) > limit]
    groups = pack(fits, lambda pair: len(pair[1]), limit=limit, base=len(header), separator=0)
    batches = [
        Batch(*IMPORT_CSV, [c for c, _ in group], header + b"".join(line for _, line in group),
              is_csv=True)
        for group in groups
    ]  # fmt: skip
    return batches, refused
