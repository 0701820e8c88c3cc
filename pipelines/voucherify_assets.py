"""Voucherify pull assets: one per stream, in group `voucherify`.

No `from __future__ import annotations` here: Dagster reads the annotations of asset functions.
"""

from datetime import datetime

import dagster as dg
from promosync.connectors.cursor import parse_instant
from promosync.connectors.voucherify import sync
from promosync.pipelines.pull_step import fatal_errors, pull_step, report_metadata
from promosync.pipelines.resources import VoucherifyResource, WarehouseResource

__all__ = ["KINDS", "RETRY", "VOUCHERIFY_ASSETS", "fatal_errors", "report_metadata"]

GROUP = "voucherify"
KINDS = {"api", "sql"}
# Only a transient warehouse error reaches the policy: everything else fails the step at once
# (`fatal_errors`), since a retry a few seconds later cannot pass where the client's own retries
# (up to 8 attempts, honouring Retry-After) did not.
RETRY = dg.RetryPolicy(
    max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class CustomersConfig(dg.Config):
    """Customers: incremental (default), full refresh, backfill window, or reconciliation."""

    full_refresh: bool = False  # reset the cursor, re-read all, mark the customers gone
    backfill_start: str | None = None  # ISO instant; with backfill_end, re-read that window only
    backfill_end: str | None = None
    reconcile: bool = False  # also read every id and mark customers gone from the API


class FanOutConfig(dg.Config):
    """Per-customer streams: changed customers only, or every customer on a full sweep."""

    full_sweep: bool = False
    full_refresh: bool = False  # reset every customer's cursor, sweep all, mark rows gone
    concurrency: int = 4


class LoyaltyConfig(dg.Config):
    """Loyalty transactions: per-campaign cursors, or a full refresh of every campaign."""

    full_refresh: bool = False  # reset every campaign's cursor, re-read all, mark rows gone


def backfill_window(config: CustomersConfig) -> tuple[datetime, datetime] | None:
    """The backfill window, or None; a clear error for a half-given or inverted window."""
    if config.backfill_start is None and config.backfill_end is None:
        return None
    if config.backfill_start is None or config.backfill_end is None:
        raise dg.Failure(
            "a backfill needs both backfill_start and backfill_end (ISO instants)",
            allow_retries=False,
        )
    if config.full_refresh:
        raise dg.Failure(
            "full_refresh re-reads everything and a backfill one window: set one of them",
            allow_retries=False,
        )
    try:
        start, end = parse_instant(config.backfill_start), parse_instant(config.backfill_end)
    except ValueError as error:
        raise dg.Failure(
            f"backfill_start and backfill_end must be ISO instants: {error}", allow_retries=False
        ) from None
    if start >= end:
        raise dg.Failure(
            f"backfill_start {start} must be before backfill_end {end}", allow_retries=False
        )
    return start, end


@dg.asset(group_name=GROUP, kinds=KINDS, retry_policy=RETRY)
def voucherify_customers(
    context: dg.AssetExecutionContext,
    config: CustomersConfig,
    voucherify: VoucherifyResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Voucherify customers changed since the last run, upserted by id."""
    window = backfill_window(config)
    with pull_step("voucherify_customers", warehouse, full_refresh=config.full_refresh) as step:
        client = step.track(voucherify.client())
        report = sync.sync_customers(
            client, step.store, full_refresh=config.full_refresh, window=window
        )
        if config.reconcile or config.full_refresh:
            report.deleted = sync.reconcile_customers(client, step.store).deleted
            report.requests = client.counters.requests
        result = step.result(report)
    context.log.info(f"voucherify_customers: {result.metadata}")
    return result


def _fan_out(stream: str, config: FanOutConfig, voucherify, warehouse) -> dg.MaterializeResult:
    """Activities or segments: one stream's fan-out, a full refresh marking the rows gone."""
    sync_stream = sync.sync_activities if stream.endswith("activities") else sync.sync_segments
    with pull_step(stream, warehouse, full_refresh=config.full_refresh) as step:
        report = sync_stream(
            step.track(voucherify.client()),
            step.store,
            full_sweep=config.full_sweep or config.full_refresh,
            concurrency=config.concurrency,
        )
        if config.full_refresh:
            report.deleted = step.mark_unseen_deleted()
        return step.result(report)


@dg.asset(group_name=GROUP, kinds=KINDS, retry_policy=RETRY, deps=[voucherify_customers])
def voucherify_customer_activities(
    context: dg.AssetExecutionContext,
    config: FanOutConfig,
    voucherify: VoucherifyResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """New activity of changed Voucherify customers, by per-customer cursor."""
    return _fan_out("voucherify_customer_activities", config, voucherify, warehouse)


@dg.asset(group_name=GROUP, kinds=KINDS, retry_policy=RETRY, deps=[voucherify_customers])
def voucherify_customer_segments(
    context: dg.AssetExecutionContext,
    config: FanOutConfig,
    voucherify: VoucherifyResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Current segments of changed Voucherify customers, replaced per customer."""
    return _fan_out("voucherify_customer_segments", config, voucherify, warehouse)


@dg.asset(group_name=GROUP, kinds=KINDS, retry_policy=RETRY)
def voucherify_loyalty_transactions(
    context: dg.AssetExecutionContext,
    config: LoyaltyConfig,
    voucherify: VoucherifyResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Loyalty transactions of every Voucherify loyalty campaign, by per-campaign cursor."""
    stream = "voucherify_loyalty_transactions"
    with pull_step(stream, warehouse, full_refresh=config.full_refresh) as step:
        report = sync.sync_loyalty_transactions(step.track(voucherify.client()), step.store)
        if config.full_refresh:
            report.deleted = step.mark_unseen_deleted()
        return step.result(report)


VOUCHERIFY_ASSETS = [
    voucherify_customers,
    voucherify_customer_activities,
    voucherify_customer_segments,
    voucherify_loyalty_transactions,
]
