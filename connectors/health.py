"""Warehouse health as plain functions: unique keys, freshness, counts, cursors, pending pushes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from promosync.connectors.cursor import parse_instant
from promosync.connectors.http import ApiClient
from promosync.connectors.push.jobs import OPEN
from promosync.connectors.talon_one.streams import STREAMS as TALON_ONE_STREAMS
from promosync.connectors.voucherify import client as voucherify_api
from promosync.connectors.voucherify.streams import STREAMS as VOUCHERIFY_STREAMS
from promosync.connectors.warehouse import Warehouse

# Every pull stream's table (named after the stream) and its primary key.
RAW_TABLES: dict[str, tuple[str, ...]] = {
    name: stream.primary_key for name, stream in {**VOUCHERIFY_STREAMS, **TALON_ONE_STREAMS}.items()
}
EXAMPLES = 5  # duplicate keys named in a finding

_sync_state = sa.table(
    "sync_state",
    sa.column("stream"),
    sa.column("partition_key"),
    sa.column("cursor_value"),
    sa.column("updated_at"),
)
_push_jobs = sa.table(
    "push_jobs",
    sa.column("job_id"),
    sa.column("destination"),
    sa.column("operation"),
    sa.column("status"),
    sa.column("intent_at"),
)


@dataclass(frozen=True)
class Finding:
    """One check's outcome: passed or not, a one-line summary, and its numbers."""

    check: str
    subject: str
    passed: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamState:
    """What the warehouse knows of one stream: cursor, partitions, last commit, live rows."""

    stream: str
    cursor: str | None  # the stream-wide cursor ('' partition)
    partitions: int  # per-entity cursors (campaigns, customers, ledgers)
    last_sync: datetime | None
    rows: int


def utc(value: datetime | None) -> datetime | None:
    """A database timestamp as an aware UTC datetime (a naive one is taken as UTC)."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def format_age(age: timedelta) -> str:
    """A duration the way a person reads it: 45s, 12m, 3h 5m, 2d 4h."""
    seconds = max(int(age.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m" if minutes else f"{seconds}s"


def missing_tables(warehouse: Warehouse) -> list[str]:
    """The tables health reads (state, push ledger, raw tables) that the warehouse lacks."""
    inspector = sa.inspect(warehouse.engine)
    needed = ("sync_state", "push_jobs", *RAW_TABLES)
    return [table for table in needed if not inspector.has_table(table)]


def duplicate_keys(warehouse: Warehouse, table: str, key: Sequence[str]) -> Finding:
    """Primary key values held by more than one row (a table not created from sql/ may allow it)."""
    target = sa.table(table, *(sa.column(column) for column in key))
    groups = (
        sa.select(*target.c, sa.func.count().label("copies"))
        .group_by(*target.c)
        .having(sa.func.count() > 1)
    )
    totals = groups.subquery()
    with warehouse.engine.connect() as conn:
        keys, copies = conn.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(totals.c.copies), 0))
        ).one()
        examples = conn.execute(groups.order_by(*target.c).limit(EXAMPLES)).all()
    named = [", ".join(str(value) for value in row[:-1]) for row in examples]
    if not keys:
        return Finding("primary_key_unique", table, True, f"{table}: every key is unique")
    summary = f"{table}: {keys} key(s) held by more than one row, e.g. {'; '.join(named)}"
    details = {
        "duplicate_keys": int(keys),
        "extra_rows": int(copies) - int(keys),
        "examples": named,
    }
    return Finding("primary_key_unique", table, False, summary, details)


def _commits(
    warehouse: Warehouse, streams: Sequence[str]
) -> dict[str, tuple[str | None, int, datetime | None]]:
    """Per stream: its stream-wide cursor, how many per-entity cursors, and its newest commit."""
    state = _sync_state.c
    query = (
        sa.select(
            state.stream,
            sa.func.max(sa.case((state.partition_key == "", state.cursor_value))),
            sa.func.count().filter(state.partition_key != ""),
            sa.func.max(state.updated_at),
        )
        .where(state.stream.in_(list(streams)))
        .group_by(state.stream)
    )
    with warehouse.engine.connect() as conn:
        return {row[0]: (row[1], int(row[2]), utc(row[3])) for row in conn.execute(query)}


def last_written(warehouse: Warehouse, table: str) -> datetime | None:
    """The latest `_synced_at` of a raw table, or None when it is empty."""
    query = sa.select(sa.func.max(sa.column("_synced_at"))).select_from(sa.table(table))
    with warehouse.engine.connect() as conn:
        return utc(conn.execute(query).scalar_one())


def last_sync(warehouse: Warehouse, stream: str) -> datetime | None:
    """When the stream last committed: its newest cursor, else its newest row."""
    _, _, last = _commits(warehouse, [stream]).get(stream, (None, 0, None))
    # Snapshot streams keep no cursor: their rows' _synced_at says when they last ran.
    return last or last_written(warehouse, stream)


def stream_states(
    warehouse: Warehouse, streams: Sequence[str] = tuple(RAW_TABLES)
) -> list[StreamState]:
    """Cursor, partitions, last commit and live rows of each stream, from the warehouse alone."""
    commits = _commits(warehouse, streams)
    states = []
    for stream in streams:
        cursor, partitions, last = commits.get(stream, (None, 0, None))
        last = last or last_written(warehouse, stream)
        states.append(StreamState(stream, cursor, partitions, last, live_rows(warehouse, stream)))
    return states


def live_rows(warehouse: Warehouse, table: str) -> int:
    """Rows of a raw table not marked deleted."""
    query = (
        sa.select(sa.func.count())
        .select_from(sa.table(table))
        .where(sa.column("_deleted_at").is_(None))
    )
    with warehouse.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def freshness(stream: str, last: datetime | None, now: datetime, max_age: timedelta) -> Finding:
    """The stream synced successfully within `max_age` of `now`."""
    limit = format_age(max_age)
    if last is None:
        return Finding("fresh", stream, False, f"{stream}: never synced", {"max_age": limit})
    age = now - last
    details = {"last_sync": last.isoformat(), "age": format_age(age), "max_age": limit}
    if age > max_age:
        return Finding(
            "fresh",
            stream,
            False,
            f"{stream}: last synced {format_age(age)} ago (> {limit})",
            details,
        )
    return Finding("fresh", stream, True, f"{stream}: synced {format_age(age)} ago", details)


def voucherify_customer_total(client: ApiClient) -> int:
    """The number of customers Voucherify holds: `total` of `GET /v1/customers?limit=1`."""
    return int(voucherify_api.list_customers(client, {"limit": 1})["total"])


def count_matches(
    table: str, warehouse_rows: int, api_total: int, tolerance_percent: float = 0.0
) -> Finding:
    """The warehouse holds as many live rows as the API reports, within `tolerance_percent` of
    the API's total (deletes since the last reconciliation, rows created since the last sync)."""
    gap = abs(warehouse_rows - api_total)
    details = {"warehouse_rows": warehouse_rows, "api_total": api_total}
    summary = f"{table}: {warehouse_rows} live rows, the API reports {api_total}"
    if gap == 0:
        summary = f"{table}: {api_total} rows, as the API"
    if gap <= api_total * tolerance_percent / 100:
        return Finding("count_matches_api", table, True, summary, details)
    if tolerance_percent:
        summary += (
            f" (off by {gap}, over {tolerance_percent:g} %); run `promosync sync --only"
            f" {table}`, and `--full-refresh` if the gap stays"
        )
    return Finding("count_matches_api", table, False, summary, details)


def cursor_progress(stream: str, high_water: str | None, current: str | None) -> Finding:
    """The stream-wide cursor is not behind the highest value seen before (`high_water`)."""
    newest = max(
        (value for value in (high_water, current) if value), key=parse_instant, default=None
    )
    details = {"cursor": current, "high_water": newest}
    if high_water and not current:
        summary = f"{stream}: cursor gone, it was {high_water}"
        return Finding("cursor_forward", stream, False, summary, details)
    if high_water and current and parse_instant(current) < parse_instant(high_water):
        summary = f"{stream}: cursor moved back from {high_water} to {current}"
        return Finding("cursor_forward", stream, False, summary, details)
    return Finding("cursor_forward", stream, True, f"{stream}: cursor at {current or '-'}", details)


def pending_pushes(
    warehouse: Warehouse, now: datetime, max_age: timedelta, operation: str | None = None
) -> Finding:
    """Async push jobs still open (`intent` or `sent`), and none open longer than `max_age`."""
    jobs = _push_jobs.c
    query = sa.select(jobs.job_id, jobs.destination, jobs.operation, jobs.intent_at).where(
        jobs.status.in_(OPEN)
    )
    if operation:
        query = query.where(jobs.operation == operation)
    with warehouse.engine.connect() as conn:
        open_jobs = [(row[0], row[1], row[2], utc(row[3])) for row in conn.execute(query)]
    subject = f"push_jobs:{operation}" if operation else "push_jobs"
    if not open_jobs:
        return Finding("pending_pushes", subject, True, "no pending push", {"pending": 0})
    job_id, destination, job_operation, intent_at = min(open_jobs, key=lambda job: job[3])
    oldest = now - intent_at
    stale = sum(1 for *_, at in open_jobs if now - at > max_age)
    details = {
        "pending": len(open_jobs),
        "stale": stale,
        "oldest_age": format_age(oldest),
        "oldest_job": job_id,
        "oldest_operation": f"{destination} {job_operation}",
        "max_age": format_age(max_age),
    }
    summary = (
        f"{len(open_jobs)} pending push job(s), oldest {format_age(oldest)}"
        f" ({destination} {job_operation}, {job_id})"
    )
    if stale:
        summary += f"; {stale} older than {format_age(max_age)}"
    return Finding("pending_pushes", subject, stale == 0, summary, details)
