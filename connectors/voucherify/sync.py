"""Pull the Voucherify streams into the warehouse: incremental, tie-safe, crash-safe."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from promosync.connectors import visits
from promosync.connectors.batches import CUT_OFF, StreamWriter
from promosync.connectors.budget import BudgetSettings
from promosync.connectors.cursor import TICK, WHOLE_STREAM, format_instant, signpost
from promosync.connectors.fan_out import Fetch, MeteredClient, changed_since, fan_out
from promosync.connectors.http import ApiClient, ConfigError
from promosync.connectors.report import SyncReport, measured
from promosync.connectors.stream import Stream, pulls
from promosync.connectors.voucherify import client as api
from promosync.connectors.voucherify import signals
from promosync.connectors.voucherify.customer_reads import read_customers
from promosync.connectors.voucherify.export_ids import exported_digests, reconcile_path
from promosync.connectors.voucherify.exports import ExportFailed
from promosync.connectors.voucherify.loyalty_exports import read_campaign
from promosync.connectors.voucherify.segments import fetch_segments, sync_from_events
from promosync.connectors.voucherify.streams import (
    ACTIVITIES,
    CUSTOMERS,
    LOYALTY_TRANSACTIONS,
    SEGMENTS,
)
from promosync.connectors.warehouse import TableRows, Warehouse

log = logging.getLogger(__name__)

# Customers whose rows, cursors and queue marks commit together (bench/RESULTS.md); a cut-off
# run commits the visits it finished, whatever the batch.
FAN_OUT_BATCH = 1000
RECONCILE_HORIZON = timedelta(days=1)  # the id walk's upper bound, past any update made during it
CHILDREN = (ACTIVITIES.name, SEGMENTS.name)  # streams whose cursors are per customer
SOURCES = ("events", "per_customer")  # where the segments stream reads membership from


def sync_customers(
    client: ApiClient,
    warehouse: Warehouse,
    *,
    full_refresh: bool = False,
    window: tuple[datetime, datetime] | None = None,
    now: datetime | None = None,
    path: str = "auto",
) -> SyncReport:
    """Upsert customers changed since the cursor; a backfill `window` leaves the cursor alone.

    `path`: "auto" reads by the list or by an export, whichever costs fewer requests
    (connectors/voucherify/customer_reads.py); "list" or "export" forces one.
    """
    started = signpost(now)
    with measured(CUSTOMERS, client, warehouse) as report:
        if window:
            after = format_instant(window[0] - TICK)  # the API's bounds are strict
            before = format_instant(min(window[1], started))
        else:
            after = None if full_refresh else report.cursor_before
            before = format_instant(started)
        writer = StreamWriter(
            CUSTOMERS, warehouse, report, started, signals.watch(warehouse, report)
        )
        partition = WHOLE_STREAM if window is None else None
        cursor = read_customers(client, writer, partition, after, before, path)
        if partition is not None and cursor is not None:
            # Re-commit even when nothing changed: sync_state.updated_at is the last good run.
            writer.commit([], {partition: cursor})
    return report


def reconcile_customers(
    client: ApiClient, warehouse: Warehouse, *, path: str = "auto"
) -> SyncReport:
    """Read every customer id and stamp `_deleted_at` on warehouse rows the API no longer has,
    and on the segment and activity rows of those customers (whose cursors go too); customers
    whose counters' digest changed (connectors/voucherify/signals.py) are owed an activity visit.

    The ids and counters come from an export (a handful of requests at any size); the list
    walk (a request per 100) is the fallback, or the `path="list"` choice.
    """
    started = signpost()
    # No upper bound at the run's start: a customer updated during the walk moves ahead of the
    # keyset and is met again, where a bound would leave it out and mark it deleted.
    horizon = format_instant(started + RECONCILE_HORIZON)
    with measured(CUSTOMERS, client, warehouse) as report:
        choice = reconcile_path(warehouse, path)
        report.mode, report.mode_reason = choice.mode, choice.reason
        report.other_path_requests = choice.other_requests
        digests = None
        if choice.mode == "export":
            try:
                digests = exported_digests(client, warehouse)
            except ExportFailed as error:
                log.warning(
                    "%s: ids by export failed (%s); walking the list", CUSTOMERS.name, error
                )
                report.mode, report.mode_reason = "list", f"export failed ({error})"
        if digests is None:
            pages = api.customers(client, None, horizon)
            digests = {r["id"]: signals.record_digest(r) for page in pages for r in page}
        report.deleted = warehouse.mark_deleted(
            CUSTOMERS.name, "id", list(digests), datetime.now(UTC)
        )
        report.signals = signals.compare(warehouse, digests)
        cascaded = [
            warehouse.mark_children_deleted(child.name, "customer_id", CUSTOMERS.name, CHILDREN)
            for child in (SEGMENTS, ACTIVITIES)
        ]
        log.info(
            "%s: %d deleted; their rows marked: %d segment, %d activity",
            CUSTOMERS.name,
            report.deleted,
            *cascaded,
        )
    return report


@pulls(CUSTOMERS)
def pull_customers(
    client: ApiClient,
    warehouse: Warehouse,
    *,
    full_refresh: bool = False,
    window: tuple[datetime, datetime] | None = None,
    reconcile: bool = False,
) -> SyncReport:
    """The customers asset's run: the sync, then (`reconcile`, or after a `full_refresh`, which
    resets the cursor first) the deletes, in one report."""
    if full_refresh:
        warehouse.reset_cursors(CUSTOMERS.name)
    report = sync_customers(client, warehouse, full_refresh=full_refresh, window=window)
    if reconcile or full_refresh:
        deletes = reconcile_customers(client, warehouse)
        report.deleted = deletes.deleted
        report.mode = f"{report.mode or 'list'}; deletes by {deletes.mode}"
        report.requests += deletes.requests
        report.rate_limited += deletes.rate_limited
        report.seconds = round(report.seconds + deletes.seconds, 3)
    return report


def sweep_period(client: ApiClient, warehouse: Warehouse, days: float | None = None) -> timedelta:
    """The rolling sweep's period: `days`, else the budget's (the run's ledger, else the
    environment's PROMOSYNC_VOUCHERIFY_SWEEP_DAYS; unset, a week stretched to what the share
    affords for the customers held)."""
    spending = getattr(client, "spending", None)
    settings = spending.settings if spending is not None else BudgetSettings.from_env()
    if days is not None:
        settings = dataclasses.replace(settings, sweep_days=days)
    live = warehouse.query(f"SELECT count(*) AS n FROM {CUSTOMERS.name} WHERE _deleted_at IS NULL")
    return settings.sweep_period(int(live[0]["n"]))


def _per_customer(
    client: ApiClient,
    warehouse: Warehouse,
    stream: Stream,
    fetch: Fetch[str],
    full_sweep: bool,
    concurrency: int,
    replace: bool,
    full_refresh: bool,
    period: timedelta,
    now: datetime | None = None,
) -> SyncReport:
    """Visit the customers owed a visit: those changed since the stream's watermark (all on a
    full sweep) and the rolling sweep's slice (the least recently verified, `period` paced: see
    visits.sweep_slice) join the visit queue with the watermark, then the queue is visited
    oldest change first, each visit committing with its rows and its "done" mark. A run cut off
    (allowance, vendor block, signal) leaves the rest queued for the next run. A full refresh
    visits every customer from the start and, once the queue is drained, marks the rows it did
    not meet again."""
    if full_refresh:
        warehouse.reset_cursors(stream.name)
    clock = now or datetime.now(UTC)  # `now`: a simulated clock (tests, bench) stamps visits too
    everyone = full_sweep or full_refresh
    changes, watermark = changed_since(warehouse, CUSTOMERS, stream, everyone)
    reason = "full refresh" if full_refresh else "full sweep" if full_sweep else "changed"
    # Left by a run cut off before this one (not owed by a customers read's change signals).
    resumed = visits.deferred(warehouse, stream.name, but=signals.REASON)
    first = warehouse.read_cursor(stream.name) is None  # a first load visits everyone anyway
    skip = () if everyone or first else [entity for entity, _ in changes]
    swept = visits.sweep(warehouse, stream.name, CUSTOMERS.name, period, clock, skip)
    if everyone or first:
        swept = visits.Sweep([], swept.mark)
    owed = visits.merged(visits.owed_since(warehouse, stream.name), [*changes, *swept.entities])
    cursors = {WHOLE_STREAM: watermark} if watermark is not None else None
    selected = [changes]

    def enqueue() -> None:
        """The selection joins the queue with its watermark and the sweep's mark, once: before
        the first visit commits, or as the run is cut off (a fatal answer first leaves
        everything as it was)."""
        if selected:
            visits.enqueue(warehouse, stream.name, swept.entities, visits.SWEEP, also=[swept.mark])
            visits.enqueue(warehouse, stream.name, selected.pop(), reason, cursors)

    def done(keys: list[str]) -> TableRows:
        enqueue()
        return visits.done_rows(stream.name, keys, now)

    with measured(stream, client, warehouse) as report:
        writer = StreamWriter(stream, warehouse, report, signpost())
        report.cursor_after = watermark
        report.sweep = len(swept.entities)
        try:
            fan_out(
                writer, client, owed, fetch, concurrency=concurrency, batch_size=FAN_OUT_BATCH,
                skip_missing=True, parent_column="customer_id", replace=replace, done=done,
            )  # fmt: skip
        except CUT_OFF:
            enqueue()
            raise
        enqueue()
        # Re-commit even when nothing changed: sync_state.updated_at is the last good run.
        writer.commit([], {WHOLE_STREAM: watermark})
        if full_refresh and not resumed:  # every row written since this run's start
            report.deleted = writer.mark_unwritten_deleted()
    report.deferred = visits.deferred(warehouse, stream.name)
    return report


def _fetch_activity(
    customer_id: str, after_id: str | None, client: MeteredClient
) -> tuple[list[dict[str, Any]], str | None]:
    records: list[dict[str, Any]] = []
    cursor = after_id
    for page in api.customer_activity(client, customer_id, after_id):
        records += page
        cursor = page.cursor
    return records, cursor


@pulls(ACTIVITIES)
def sync_activities(
    client: ApiClient,
    warehouse: Warehouse,
    *,
    full_sweep: bool = False,
    concurrency: int = 4,
    full_refresh: bool = False,
    sweep_days: float | None = None,
    now: datetime | None = None,
) -> SyncReport:
    """New activity of the customers whose change signals moved since the last run (updated_at,
    or the digest of their counters, connectors/voucherify/signals.py), plus the rolling sweep's
    slice of the least recently verified (every customer within `sweep_days`, by default the
    budget's); every customer on a full sweep."""
    return _per_customer(
        client, warehouse, ACTIVITIES, _fetch_activity, full_sweep, concurrency,
        replace=False, full_refresh=full_refresh,
        period=sweep_period(client, warehouse, sweep_days),
        now=now,
    )  # fmt: skip


@pulls(SEGMENTS)
def sync_segments(
    client: ApiClient,
    warehouse: Warehouse,
    *,
    full_sweep: bool = False,
    concurrency: int = 4,
    full_refresh: bool = False,
    source: str = "events",
    sweep_days: float | None = None,
) -> SyncReport:
    """The current segments of the customers whose activity was visited since the last run,
    from their segment events and checked on a sample (connectors/voucherify/segments.py);
    `source="per_customer"`, or a full sweep, reads them per customer as the API lists them."""
    if source not in SOURCES:
        raise ConfigError(f"segments source {source!r}: use one of {', '.join(SOURCES)}")
    if full_sweep or source == "per_customer":
        return _per_customer(
            client, warehouse, SEGMENTS, fetch_segments, full_sweep, concurrency,
            replace=True, full_refresh=full_refresh,
            period=sweep_period(client, warehouse, sweep_days),
        )  # fmt: skip
    if full_refresh:
        warehouse.reset_cursors(SEGMENTS.name)
    with measured(SEGMENTS, client, warehouse) as report:
        writer = StreamWriter(SEGMENTS, warehouse, report, signpost())
        sync_from_events(client, writer, report, concurrency)
    return report


@pulls(LOYALTY_TRANSACTIONS)
def sync_loyalty_transactions(
    client: ApiClient, warehouse: Warehouse, *, full_refresh: bool = False, path: str = "auto"
) -> SyncReport:
    """New transactions of every loyalty campaign, each campaign by its own id cursor; a full
    refresh reads every campaign from the start and marks the rows it did not meet again.

    A campaign read from its start whose first page is full is read by its export instead
    (connectors/voucherify/loyalty_exports.py); `path` "list" or "export" forces one way."""
    stream = LOYALTY_TRANSACTIONS
    if full_refresh:
        warehouse.reset_cursors(stream.name)
    synced_at = signpost()
    with measured(stream, client, warehouse) as report:
        writer = StreamWriter(stream, warehouse, report, synced_at)
        cursors = warehouse.read_cursors(stream.name)
        campaigns = api.loyalty_campaigns(client)
        report.plan(stream, len(campaigns))
        modes: list[str] = []
        for campaign in campaigns:
            campaign_id, start = campaign["id"], cursors.get(campaign["id"])
            report.entities += 1
            modes.append(read_campaign(client, writer, campaign_id, start, path))
            log.info("%s: campaign %s read, %d rows", stream.name, campaign_id, report.written)
        report.mode = ", ".join(f"{modes.count(m)} by {m}" for m in sorted(set(modes))) or None
        # The stream-wide entry marks the last complete run (cursors are per campaign).
        writer.commit([], {WHOLE_STREAM: format_instant(synced_at)})
        if full_refresh:
            report.deleted = writer.mark_unwritten_deleted()
    return report
