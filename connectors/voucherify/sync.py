"""Pull the Voucherify streams into the warehouse: incremental, tie-safe, crash-safe."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from itertools import chain, islice
from typing import Any

from promosync.connectors.cursor import TICK, format_instant, parse_instant, signpost, tie_window
from promosync.connectors.http import ApiClient, ApiError, UnexpectedAnswer
from promosync.connectors.read_ahead import read_ahead
from promosync.connectors.report import SyncReport
from promosync.connectors.report import measured as _measured
from promosync.connectors.voucherify import client as api
from promosync.connectors.voucherify.streams import (
    ACTIVITIES,
    CUSTOMERS,
    LOYALTY_TRANSACTIONS,
    SEGMENTS,
    Stream,
)
from promosync.connectors.warehouse import Warehouse

log = logging.getLogger(__name__)

WHOLE_STREAM = ""  # the partition of a stream-wide cursor
FAN_OUT_BATCH = 1000  # customers whose rows and cursors commit together (bench/RESULTS.md)
PREFETCH = 2  # batches fetched ahead of the one being written
# Rows gathered before one write: each DuckDB statement costs tens of milliseconds, so writing
# every 100-row page on its own cost more than fetching it (bench/RESULTS.md).
WRITE_ROWS = 2000
RECONCILE_HORIZON = timedelta(days=1)  # the id walk's upper bound, past any update made during it


def _rows(stream: Stream, records: list[dict[str, Any]], synced_at: datetime) -> list[dict]:
    return [stream.to_row(record, synced_at) for record in records]


def walk_customers(
    client: ApiClient, after: str | None, before: str
) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
    """Customers with after < updated_at < before, in updated_at order, with a safe cursor.

    Each page comes with the instant up to which every customer has now been read (None while
    inside a tie group). A page ends in the middle of the group of customers sharing its last
    `updated_at`, so the cursor stops before that group and the next page re-reads it; a group
    filling a whole page is read completely by page number inside a one-instant window.
    """
    while True:
        params = {"order": "updated_at", "updated_at[before]": before}
        if after:
            params["updated_at[after]"] = after
        page = api.list_customers(client, params)
        records = page["customers"]
        if not records:
            return
        if after and parse_instant(records[0]["updated_at"]) <= parse_instant(after):
            raise UnexpectedAnswer(
                "voucherify", "GET", "/v1/customers",
                f"the page after updated_at {after} starts at {records[0]['updated_at']}, not"
                " after it: the API ignored the cursor; stopped so as not to loop",
            )  # fmt: skip
        last = records[-1]["updated_at"]
        if len(records) < api.PAGE_LIMIT or not page.get("has_more"):
            yield records, last
            return
        if records[0]["updated_at"] == last:
            yield from _tie_group(client, last)
            after = last
            continue
        complete = max(
            (r["updated_at"] for r in records if r["updated_at"] != last), key=parse_instant
        )
        yield records, complete
        after = complete


def _tie_group(
    client: ApiClient, instant: str
) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
    """Every customer stamped `instant`, by page number, last page first, page 1 last.

    A member updated meanwhile leaves the group and shifts the members after it one place
    forward: read backwards, those were already read, and a member that slides onto a page
    still to come is only read twice (and upserted once). Page 1 is asked first for the size
    of the group; if the group shrank before the other pages were read, a member may have
    slid onto page 1, so it is read again.
    """
    after, before = tie_window(instant)
    window = {"order": "updated_at", "updated_at[after]": after, "updated_at[before]": before}
    first = api.list_customers(client, {**window, "page": 1})
    pages = max(1, -(-first["total"] // api.PAGE_LIMIT))
    if pages > api.PAGE_CAP:
        raise ApiError(
            "voucherify", "GET", "/v1/customers", None,
            f"more than {api.PAGE_CAP * api.PAGE_LIMIT} customers share updated_at {instant};"
            " the API cannot page past that",
        )  # fmt: skip
    total = first["total"]
    previous = (1, [record["id"] for record in first["customers"]])
    for number in range(pages, 1, -1):
        page = api.list_customers(client, {**window, "page": number})
        ids = [record["id"] for record in page["customers"]]
        if ids and ids == previous[1]:
            raise UnexpectedAnswer(
                "voucherify", "GET", "/v1/customers",
                f"page {number} of the customers sharing updated_at {instant} repeats page"
                f" {previous[0]}: the API ignored `page`; stopped so as not to loop",
            )  # fmt: skip
        previous = (number, ids)
        yield page["customers"], None
        total = page["total"]
    if total < first["total"]:
        first = api.list_customers(client, {**window, "page": 1})
    yield first["customers"], instant


def sync_customers(
    client: ApiClient,
    warehouse: Warehouse,
    *,
    full_refresh: bool = False,
    window: tuple[datetime, datetime] | None = None,
    now: datetime | None = None,
) -> SyncReport:
    """Upsert customers changed since the cursor; a backfill `window` leaves the cursor alone."""
    started = signpost(now)
    with _measured(CUSTOMERS, client, warehouse) as report:
        if window:
            after = format_instant(window[0] - TICK)  # the API's bounds are strict
            before = format_instant(min(window[1], started))
        else:
            after = None if full_refresh else report.cursor_before
            before = format_instant(started)
        cursor, pending = after, []

        def flush() -> None:
            cursors = {(CUSTOMERS.name, WHOLE_STREAM): cursor} if window is None else None
            result = warehouse.write_batch(CUSTOMERS.name, CUSTOMERS.primary_key, pending, cursors)
            report.add(result.inserted, result.updated)
            pending.clear()
            log.info("%s: %d rows written, up to %s", CUSTOMERS.name, report.written, cursor)

        # Pages are fetched ahead while earlier ones are written.
        with closing(read_ahead(walk_customers(client, after, before))) as pages:
            for records, complete in pages:
                pending.extend(_rows(CUSTOMERS, records, started))
                if complete is not None:
                    cursor = complete
                    if len(pending) >= WRITE_ROWS:  # only where every row up to `cursor` is read
                        flush()
        if pending:
            flush()
        if window is None and cursor is not None:
            # Re-commit even when nothing changed: sync_state.updated_at is the last good run.
            warehouse.write_batch(CUSTOMERS.name, (), [], {(CUSTOMERS.name, WHOLE_STREAM): cursor})
    return report


def _changed_customers(
    warehouse: Warehouse, stream: Stream, full_sweep: bool
) -> tuple[list[str], str | None]:
    """Live customers whose updated_at moved past the stream's watermark, and the new watermark."""
    watermark = None if full_sweep else warehouse.read_cursor(stream.name)
    sql = "SELECT id, updated_at FROM voucherify_customers WHERE _deleted_at IS NULL"
    params = {}
    if watermark:
        sql += " AND updated_at > CAST(:watermark AS TIMESTAMPTZ)"
        params["watermark"] = watermark
    rows = warehouse.query(sql + " ORDER BY updated_at, id", params)
    newest = max((row["updated_at"] for row in rows), default=None)
    return [row["id"] for row in rows], format_instant(newest) if newest else watermark


@contextmanager
def _fetch_pool(concurrency: int) -> Iterator[ThreadPoolExecutor]:
    """A thread pool that, on an error, drops the fetches not yet started instead of running
    them (up to PREFETCH batches of requests that would only spend the rate budget)."""
    pool = ThreadPoolExecutor(max_workers=concurrency)
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


def _fan_out(
    client: ApiClient,
    warehouse: Warehouse,
    stream: Stream,
    fetch,
    customer_ids: list[str],
    watermark: str | None,
    concurrency: int,
    replace: bool,
) -> SyncReport:
    """Fetch per-customer rows with bounded concurrency; commit rows and cursors per batch."""
    synced_at = signpost()
    with _measured(stream, client, warehouse) as report:
        cursors = warehouse.read_cursors(stream.name)
        with _fetch_pool(concurrency) as pool:
            batches = [
                customer_ids[start : start + FAN_OUT_BATCH]
                for start in range(0, len(customer_ids), FAN_OUT_BATCH)
            ]
            # Batches are fetched PREFETCH ahead of the one being written, so the pool never
            # idles while the warehouse writes; batches still commit in order.
            fetching: deque[list[Future]] = deque()
            upcoming = iter(batches)
            for batch in batches:
                for ahead in islice(upcoming, PREFETCH + 1 - len(fetching)):
                    fetching.append(
                        [pool.submit(fetch, client, cid, cursors.get(cid)) for cid in ahead]
                    )
                results = [future.result() for future in fetching.popleft()]
                rows: list[dict] = []
                batch_cursors: dict[tuple[str, str], str | None] = {}
                for customer_id, (records, cursor) in zip(batch, results, strict=True):
                    for record in records:
                        row = stream.to_row(record, synced_at)
                        row["customer_id"] = customer_id
                        rows.append(row)
                    if cursor is not None:
                        batch_cursors[(stream.name, customer_id)] = cursor
                result = warehouse.write_batch(
                    stream.name,
                    stream.primary_key,
                    rows,
                    batch_cursors,
                    replace=("customer_id", batch) if replace else None,
                )
                report.add(result.inserted, result.updated)
                report.entities += len(batch)
                log.info(
                    "%s: %d of %d customers visited, %d rows written",
                    stream.name, report.entities, len(customer_ids), report.written,
                )  # fmt: skip
        watermark_cursor = {(stream.name, WHOLE_STREAM): watermark}
        warehouse.write_batch(stream.name, stream.primary_key, [], watermark_cursor)
        report.cursor_after = watermark
    return report


def _fetch_activity(
    client: ApiClient, customer_id: str, after_id: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    records: list[dict[str, Any]] = []
    try:
        for page in api.customer_activity(client, customer_id, after_id):
            records.extend(page)
    except ApiError as error:
        if error.status != 404:  # a customer deleted since the customers stream ran
            raise
    return records, records[-1]["id"] if records else after_id


def _fetch_segments(
    client: ApiClient, customer_id: str, _: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    try:
        return api.customer_segments(client, customer_id), None
    except ApiError as error:
        if error.status != 404:
            raise
        return [], None


def sync_activities(
    client: ApiClient, warehouse: Warehouse, *, full_sweep: bool = False, concurrency: int = 4
) -> SyncReport:
    """New activity of customers changed since the last run (all customers on a full sweep)."""
    customer_ids, watermark = _changed_customers(warehouse, ACTIVITIES, full_sweep)
    return _fan_out(
        client, warehouse, ACTIVITIES, _fetch_activity, customer_ids, watermark, concurrency, False
    )


def sync_segments(
    client: ApiClient, warehouse: Warehouse, *, full_sweep: bool = False, concurrency: int = 4
) -> SyncReport:
    """The current segments of customers changed since the last run, replacing what was there."""
    customer_ids, watermark = _changed_customers(warehouse, SEGMENTS, full_sweep)
    return _fan_out(
        client, warehouse, SEGMENTS, _fetch_segments, customer_ids, watermark, concurrency, True
    )


def sync_loyalty_transactions(client: ApiClient, warehouse: Warehouse) -> SyncReport:
    """New transactions of every loyalty campaign, each campaign by its own id cursor."""
    stream = LOYALTY_TRANSACTIONS
    synced_at = signpost()
    with _measured(stream, client, warehouse) as report:
        cursors = warehouse.read_cursors(stream.name)
        for campaign in api.loyalty_campaigns(client):
            campaign_id = campaign["id"]
            report.entities += 1
            pending: list[dict] = []
            source = api.loyalty_transactions(client, campaign_id, cursors.get(campaign_id))
            with closing(read_ahead(source)) as pages:
                for records in chain(pages, [[]]):  # the empty page at the end flushes the rest
                    for row in _rows(stream, records, synced_at):
                        row["campaign_id"] = row["campaign_id"] or campaign_id
                        pending.append(row)
                    if pending and (len(pending) >= WRITE_ROWS or not records):
                        cursor = {(stream.name, campaign_id): pending[-1]["id"]}
                        result = warehouse.write_batch(
                            stream.name, stream.primary_key, pending, cursor
                        )
                        report.add(result.inserted, result.updated)
                        pending = []
            log.info("%s: campaign %s read, %d rows", stream.name, campaign_id, report.written)
        # The stream-wide entry marks the last complete run (cursors are per campaign).
        run_mark = {(stream.name, WHOLE_STREAM): format_instant(synced_at)}
        warehouse.write_batch(stream.name, stream.primary_key, [], run_mark)
    return report


def reconcile_customers(client: ApiClient, warehouse: Warehouse) -> SyncReport:
    """Read every customer id and stamp `_deleted_at` on warehouse rows the API no longer has."""
    started = signpost()
    # No upper bound at the run's start: a customer updated during the walk moves ahead of the
    # keyset and is met again, where a bound would leave it out and mark it deleted.
    horizon = format_instant(started + RECONCILE_HORIZON)
    with _measured(CUSTOMERS, client, warehouse) as report:
        present: list[str] = []
        for records, _ in walk_customers(client, None, horizon):
            present.extend(record["id"] for record in records)
        report.deleted = warehouse.mark_deleted(CUSTOMERS.name, "id", present, datetime.now(UTC))
    return report
