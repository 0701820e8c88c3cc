"""Segment membership from the segment events the activity stream already read, instead of a
request per customer, checked each run against the API on a random sample.

A customer's `customer.segment.entered` / `customer.segment.left` events, replayed oldest first,
end in the segments `GET /v1/customers/{id}/segments` lists (each event's data names the segment
as `{id, name, object}`, the list's own shape). So once a customer's activity visit has
committed, its segments are known without a request. Which customers: those whose activity
visit committed since this stream's cursor (the instant of the last such visit it derived),
whatever brought the visit (a change signal, the rolling sweep), so a move that did not touch
`updated_at` arrives when the sweep (or a later signal) visits the customer, as its events do.

The derivation is only as good as the vendor's events. Each run reads a random sample of the
customers it derived (SAMPLE, from the API) and compares ids and names; if any disagrees, this
run reads every one of those customers' segments per customer instead, and says so (`warning`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from promosync.connectors.batches import StreamWriter
from promosync.connectors.cursor import WHOLE_STREAM, parse_instant
from promosync.connectors.fan_out import MeteredClient, fan_out
from promosync.connectors.http import ApiClient, ApiError
from promosync.connectors.report import SyncReport
from promosync.connectors.visits import TABLE as QUEUE
from promosync.connectors.voucherify import client as api
from promosync.connectors.voucherify.streams import ACTIVITIES, CUSTOMERS, SEGMENTS

log = logging.getLogger(__name__)

ENTERED, LEFT = "customer.segment.entered", "customer.segment.left"
SAMPLE = 3  # customers checked against the API per run: part of the rolling sweep's slice
BATCH = 1000  # customers whose rows commit together


def derived(events: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each customer's segments from its segment events (oldest first): the segment objects
    entered and not left since, by customer, in the order they were entered."""
    members: dict[str, dict[str, dict[str, Any]]] = {}
    for event in events:
        data = event["data"]
        data = orjson.loads(data) if isinstance(data, str | bytes) else data
        segment = (data or {}).get("segment") or {}
        held = members.setdefault(event["customer_id"], {})
        if not segment.get("id"):
            continue
        if event["type"] == ENTERED:
            held[segment["id"]] = dict(segment)
        else:
            held.pop(segment["id"], None)
    return {customer: list(held.values()) for customer, held in members.items()}


def _visited(warehouse: Any, since: datetime | None) -> list[tuple[str, datetime]]:
    """Live customers whose activity visit committed after `since` (all: None), with the instant
    it did (a batch's visits share one, stamped as it commits, in order)."""
    sql = (
        f"SELECT q.entity_id AS id, q.verified_at AS at FROM {QUEUE} q"
        f" JOIN {CUSTOMERS.name} c ON c.id = q.entity_id AND c._deleted_at IS NULL"
        " WHERE q.stream = :stream AND q.verified_at IS NOT NULL"
    )
    params: dict[str, Any] = {"stream": ACTIVITIES.name}
    if since is not None:
        sql += " AND q.verified_at > :since"
        params["since"] = since
    rows = warehouse.query(sql + " ORDER BY q.entity_id", params)
    return [(row["id"], row["at"]) for row in rows]


def _events(warehouse: Any, since: datetime | None) -> list[dict[str, Any]]:
    """The live segment events of the customers `_visited` finds, oldest first per customer."""
    sql = (
        f"SELECT a.customer_id, a.type, a.data FROM {ACTIVITIES.name} a"
        f" JOIN {QUEUE} q ON q.stream = :stream AND q.entity_id = a.customer_id"
        f" WHERE a._deleted_at IS NULL AND a.type IN ('{ENTERED}', '{LEFT}')"
        " AND q.verified_at IS NOT NULL"
    )
    params: dict[str, Any] = {"stream": ACTIVITIES.name}
    if since is not None:
        sql += " AND q.verified_at > :since"
        params["since"] = since
    return warehouse.query(sql + " ORDER BY a.customer_id, a.created_at, a.id", params)


def _pairs(segments: Iterable[Mapping[str, Any]]) -> list[tuple[str, Any]]:
    return sorted((segment.get("id"), segment.get("name")) for segment in segments)


def disagreement(
    client: ApiClient, known: Mapping[str, list[dict[str, Any]]], sample: list[str]
) -> str | None:
    """The first sampled customer whose listed segments differ from `known`, in words; None
    when every one agrees (a customer deleted meanwhile, 404, proves nothing either way)."""
    for customer in sample:
        try:
            listed = api.customer_segments(client, customer)
        except ApiError as error:
            if error.status == 404:
                continue
            raise
        if _pairs(listed) != _pairs(known.get(customer, [])):
            return (
                f"{customer}: events give {_pairs(known.get(customer, []))},"
                f" the API lists {_pairs(listed)}"
            )
    return None


def sync_from_events(
    client: ApiClient, writer: StreamWriter, report: SyncReport, concurrency: int
) -> None:
    """Derive the segments of the customers visited since the cursor, check a sample, write
    them (or, on a disagreement, what the API lists for each of them) with the new cursor."""
    warehouse = writer.warehouse
    cursor = warehouse.read_cursor(SEGMENTS.name)
    since = parse_instant(cursor) if cursor else None
    visited = _visited(warehouse, since)
    customers = [customer for customer, _ in visited]
    newest = max((at for _, at in visited), default=None)
    # Microseconds kept: the next run derives the visits after this one's last, none again.
    after = newest.astimezone(UTC).isoformat() if newest is not None else cursor
    known = derived(_events(warehouse, since))
    sample = random.sample(customers, min(SAMPLE, len(customers)))
    report.entities = report.deferred = len(customers)  # until their rows commit
    report.plan(SEGMENTS, len(sample))  # the sample's requests; per customer would be all
    report.mode = "events"
    report.other_path_requests = len(customers) * SEGMENTS.required("cost_per_entity")
    report.mode_reason = "derived from the segment events read by the activity stream"
    wrong = disagreement(MeteredClient(client), known, sample)
    report.sample = f"{len(sample)} of {len(customers)} checked: " + (
        "all agree" if wrong is None else f"disagree ({wrong})"
    )
    if wrong is not None:
        report.mode, report.mode_reason = "per customer", "a sampled customer disagreed"
        report.warning = f"segments read per customer this run: the events disagree for {wrong}"
        log.warning("%s: %s", SEGMENTS.name, report.warning)
        report.entities = 0  # the fan-out counts its visits
        fan_out(
            writer, client, customers, fetch_segments, concurrency=concurrency, batch_size=BATCH,
            skip_missing=True, parent_column="customer_id", replace=True,
        )  # fmt: skip
    else:
        for start in range(0, len(customers), BATCH):
            batch = customers[start : start + BATCH]
            rows = [
                row
                for customer in batch
                for row in writer.rows(known.get(customer, []), {"customer_id": customer})
            ]
            writer.commit(rows, None, ("customer_id", batch))
    writer.commit([], {WHOLE_STREAM: after})
    report.cursor_after, report.deferred = after, 0


def fetch_segments(
    customer_id: str, _: str | None, client: MeteredClient
) -> tuple[list[dict[str, Any]], str | None]:
    """One customer's segments as the API lists them now (a fan-out's visit)."""
    return api.customer_segments(client, customer_id), None
