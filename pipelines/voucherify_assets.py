"""Voucherify pull assets: one per stream, in group `voucherify`.

No `from __future__ import annotations` here: Dagster reads the annotations of asset functions.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime

import dagster as dg
from promosync.connectors.cursor import parse_instant
from promosync.connectors.http import ApiError, ConfigError
from promosync.connectors.voucherify import sync
from promosync.connectors.warehouse import WarehouseError
from promosync.pipelines.resources import VoucherifyResource, WarehouseResource

GROUP = "voucherify"
KINDS = {"api", "sql"}
RETRY = dg.RetryPolicy(
    max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class CustomersConfig(dg.Config):
    """Customers: incremental (default), full refresh, backfill window, or reconciliation."""

    full_refresh: bool = False
    backfill_start: str | None = None  # ISO instant; with backfill_end, re-read that window only
    backfill_end: str | None = None
    reconcile: bool = False  # also read every id and mark customers gone from the API


class FanOutConfig(dg.Config):
    """Per-customer streams: changed customers only, or every customer on a full sweep."""

    full_sweep: bool = False
    concurrency: int = 4


def report_metadata(report: sync.SyncReport) -> dict[str, object]:
    """A stream report as materialization metadata."""
    data = asdict(report)
    data.pop("stream")
    return {key: value for key, value in data.items() if value is not None}


@contextmanager
def fatal_errors() -> Iterator[None]:
    """Bad credentials, bad config, refused requests and an unusable warehouse fail at once."""
    try:
        yield
    except (ApiError, ConfigError, WarehouseError) as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None


def backfill_window(config: CustomersConfig) -> tuple[datetime, datetime] | None:
    """The backfill window, or None; a clear error for a half-given or inverted window."""
    if config.backfill_start is None and config.backfill_end is None:
        return None
    if config.backfill_start is None or config.backfill_end is None:
        raise dg.Failure(
            "a backfill needs both backfill_start and backfill_end (ISO instants)",
            allow_retries=False,
        )
    start, end = parse_instant(config.backfill_start), parse_instant(config.backfill_end)
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
    with fatal_errors(), warehouse.warehouse() as store:
        client = voucherify.client()
        report = sync.sync_customers(client, store, full_refresh=config.full_refresh, window=window)
        metadata = report_metadata(report)
        if config.reconcile:
            metadata["deleted"] = sync.reconcile_customers(client, store).deleted
            metadata["requests"] = client.counters.requests
    context.log.info(f"voucherify_customers: {metadata}")
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(group_name=GROUP, kinds=KINDS, retry_policy=RETRY, deps=[voucherify_customers])
def voucherify_customer_activities(
    context: dg.AssetExecutionContext,
    config: FanOutConfig,
    voucherify: VoucherifyResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """New activity of changed Voucherify customers, by per-customer cursor."""
    with fatal_errors(), warehouse.warehouse() as store:
        report = sync.sync_activities(
            voucherify.client(), store, full_sweep=config.full_sweep, concurrency=config.concurrency
        )
    return dg.MaterializeResult(metadata=report_metadata(report))


@dg.asset(group_name=GROUP, kinds=KINDS, retry_policy=RETRY, deps=[voucherify_customers])
def voucherify_customer_segments(
    context: dg.AssetExecutionContext,
    config: FanOutConfig,
    voucherify: VoucherifyResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Current segments of changed Voucherify customers, replaced per customer."""
    with fatal_errors(), warehouse.warehouse() as store:
        report = sync.sync_segments(
            voucherify.client(), store, full_sweep=config.full_sweep, concurrency=config.concurrency
        )
    return dg.MaterializeResult(metadata=report_metadata(report))


@dg.asset(group_name=GROUP, kinds=KINDS, retry_policy=RETRY)
def voucherify_loyalty_transactions(
    context: dg.AssetExecutionContext, voucherify: VoucherifyResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Loyalty transactions of every Voucherify loyalty campaign, by per-campaign cursor."""
    with fatal_errors(), warehouse.warehouse() as store:
        report = sync.sync_loyalty_transactions(voucherify.client(), store)
    return dg.MaterializeResult(metadata=report_metadata(report))


VOUCHERIFY_ASSETS = [
    voucherify_customers,
    voucherify_customer_activities,
    voucherify_customer_segments,
    voucherify_loyalty_transactions,
]
