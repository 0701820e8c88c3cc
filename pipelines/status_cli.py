"""`promosync status`: per stream cursor, last sync, rows and age; pending pushes; failed checks."""

from __future__ import annotations

import dataclasses
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
import typer
from promosync.connectors import health, reject_log
from promosync.connectors.http import ApiError, ConfigError
from promosync.connectors.voucherify.client import voucherify_client
from promosync.connectors.warehouse import Warehouse, warehouse_url

VOUCHERIFY_ENV = ("VOUCHERIFY_BASE_URL", "VOUCHERIFY_APP_ID", "VOUCHERIFY_APP_TOKEN")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `2h` or `1d` as a timedelta; BadParameter otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise typer.BadParameter(f"{text!r} is not a duration such as 30m, 2h or 1d")
    return timedelta(**{_UNITS[match[2]]: float(match[1])})


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _cursor_cell(state: health.StreamState) -> str:
    partitions = f"{state.partitions} partitions" if state.partitions else ""
    if state.cursor and partitions:
        return f"{state.cursor} (+{partitions})"
    return state.cursor or partitions or "-"


def _stream_table(states: list[health.StreamState], now: datetime, stale: set[str]) -> str:
    rows = [("stream", "cursor", "last sync", "age", "rows", "state")]
    for state in states:
        last, age, verdict = "never", "-", "never synced"
        if state.last_sync:
            last = state.last_sync.strftime("%Y-%m-%d %H:%M:%SZ")
            age = health.format_age(now - state.last_sync)
            verdict = "STALE" if state.stream in stale else "ok"
        rows.append((state.stream, _cursor_cell(state), last, age, str(state.rows), verdict))
    return _table(rows)


def _stale(
    states: list[health.StreamState], now: datetime, max_age: timedelta
) -> list[health.Finding]:
    """Streams synced once and not since `max_age`; never-synced ones only if none ever synced."""
    synced = [state for state in states if state.last_sync]
    if not synced:
        return [health.Finding("fresh", "streams", False, "no stream has synced yet")]
    findings = [health.freshness(s.stream, s.last_sync, now, max_age) for s in synced]
    return [finding for finding in findings if not finding.passed]


def _materialized(streams: list[str]) -> dict[str, datetime]:
    """Each stream's latest materialization in the Dagster instance under DAGSTER_HOME, if set."""
    if not os.environ.get("DAGSTER_HOME"):
        return {}
    import dagster as dg  # only here: without an instance, status stays quick

    found = {}
    with dg.DagsterInstance.get() as instance:
        for stream in streams:
            event = instance.get_latest_materialization_event(dg.AssetKey(stream))
            if event:
                found[stream] = datetime.fromtimestamp(event.timestamp, UTC)
    return found


def _with_runs(states: list[health.StreamState]) -> list[health.StreamState]:
    """States whose last sync also counts successful runs that committed nothing (no change)."""
    runs = _materialized([state.stream for state in states])
    updated = []
    for state in states:
        last = max((t for t in (state.last_sync, runs.get(state.stream)) if t), default=None)
        updated.append(dataclasses.replace(state, last_sync=last))
    return updated


def _api_reconciliation(store: Warehouse) -> health.Finding | None:
    """Live customers against Voucherify's total, when its credentials are in the environment."""
    if not all(os.environ.get(name) for name in VOUCHERIFY_ENV):
        return None
    base_url, app_id, app_token = (os.environ[name] for name in VOUCHERIFY_ENV)
    try:
        total = health.voucherify_customer_total(voucherify_client(base_url, app_id, app_token))
    except (ApiError, ConfigError) as error:
        summary = f"voucherify_customers: could not read the API's total: {error}"
        return health.Finding("count_matches_api", "voucherify_customers", False, summary)
    rows = health.live_rows(store, "voucherify_customers")
    return health.count_matches("voucherify_customers", rows, total)


def _missing_warehouse(url: str) -> bool:
    """True when the URL names a DuckDB file that does not exist (status creates nothing)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "duckdb" or parsed.database in (None, "", ":memory:"):
        return False
    return not Path(parsed.database).exists()


def status(
    max_age: str = typer.Option(
        "2h", help="A stream last synced longer ago than this is stale (30m, 2h, 1d)."
    ),
    pending_max_age: str = typer.Option(
        "1h", help="A push job left pending longer than this needs attention."
    ),
) -> None:
    """Show each stream's state, pending pushes and failed checks; exit 1 if one needs attention."""
    # A stream never synced is listed but not counted (a platform you do not use is no fault),
    # unless nothing has synced at all. The API count only warns: deletes show after the nightly
    # reconciliation.
    stale_after, pending_after = parse_duration(max_age), parse_duration(pending_max_age)
    url = warehouse_url()
    shown_url = sa.engine.make_url(url).render_as_string(hide_password=True)
    if _missing_warehouse(url):
        typer.echo(f"warehouse {shown_url} does not exist: run `promosync sync` first")
        raise typer.Exit(1)
    now = datetime.now(UTC)
    store = Warehouse(url)
    try:
        missing = health.missing_tables(store)
        if missing:
            typer.echo(f"warehouse {shown_url} lacks {', '.join(missing)}: run `promosync sync`")
            raise typer.Exit(1)
        states = _with_runs(health.stream_states(store))
        pending = health.pending_pushes(store, now, pending_after)
        stale = _stale(states, now, stale_after)
        failed = [
            *stale,
            *(health.duplicate_keys(store, table, key) for table, key in health.RAW_TABLES.items()),
            *reject_log.unresolved(store, list(health.RAW_TABLES)),
            pending,
        ]
        reconciliation = _api_reconciliation(store)
    finally:
        store.dispose()

    failed = [finding for finding in failed if not finding.passed]
    checks = [f"  FAIL  {finding.check}: {finding.summary}" for finding in failed]
    if reconciliation and not reconciliation.passed:
        checks.append(f"  WARN  {reconciliation.check}: {reconciliation.summary}")
    table = _stream_table(states, now, {finding.subject for finding in stale})
    lines = [f"warehouse  {shown_url}", "", table, "", f"pending pushes  {pending.summary}"]
    lines.append("failed checks" + ("" if checks else "  none"))
    lines += checks
    lines.append("needs attention" if failed else "ok")
    typer.echo("\n".join(lines))
    if failed:
        raise typer.Exit(1)
