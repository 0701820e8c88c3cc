"""`promosync status`: per stream cursor, last sync, rows and age; pending pushes; the billing
cycle's spend, share and projection; deferred visits; failed checks."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

import typer
from promosync.connectors import config, cycle_report, health, preflight, reject_log
from promosync.connectors.budget import BudgetSettings
from promosync.connectors.database import display_url, missing_duckdb_file
from promosync.connectors.http import ApiError, ConfigError
from promosync.connectors.warehouse import (
    DATABASE_ERRORS,
    Warehouse,
    WarehouseError,
    warehouse_error,
    warehouse_url,
)

EXIT_BUSY = 75  # EX_TEMPFAIL: another process holds the warehouse file; try again later
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `2h` or `1d` as a timedelta; BadParameter otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise typer.BadParameter(f"{text!r} is not a duration such as 30m, 2h or 1d")
    return timedelta(**{_UNITS[match[2]]: float(match[1])})


def text_table(rows: list[tuple[str, ...]]) -> str:
    """Rows as left-aligned columns two spaces apart (the first row is the header)."""
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
    return text_table(rows)


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
    """Each stream's latest materialization in the Dagster instance under DAGSTER_HOME, if set
    and readable (status reads the warehouse either way)."""
    if not config.dagster_home():
        return {}
    import dagster as dg  # only here: without an instance, status stays quick

    found = {}
    try:
        with dg.DagsterInstance.get() as instance:
            for stream in streams:
                event = instance.get_latest_materialization_event(dg.AssetKey(stream))
                if event:
                    found[stream] = datetime.fromtimestamp(event.timestamp, UTC)
    except Exception as error:  # a read-only or foreign DAGSTER_HOME: only committed cursors count
        typer.echo(f"note: Dagster runs under DAGSTER_HOME not read ({type(error).__name__})")
    return found


def _with_runs(states: list[health.StreamState]) -> list[health.StreamState]:
    """States whose last sync also counts successful runs that committed nothing (no change)."""
    runs = _materialized([state.stream for state in states])
    updated = []
    for state in states:
        last = max((t for t in (state.last_sync, runs.get(state.stream)) if t), default=None)
        updated.append(dataclasses.replace(state, last_sync=last))
    return updated


def _api_reconciliation(store: Warehouse, tolerance: float) -> health.Finding | None:
    """Live customers against Voucherify's total, when its credentials are in the environment."""
    if config.missing(["voucherify"]):
        return None
    try:  # the settings the Dagster resource uses
        total = health.voucherify_customer_total(config.voucherify().client())
    except ConfigError as error:  # a key no sync can use: the next run fails the same way
        summary = f"voucherify_customers: the configured credentials cannot be used: {error}"
        return health.Finding("credentials", "voucherify_customers", False, summary)
    except ApiError as error:  # a warning: the API, not the warehouse, is at fault
        summary = f"voucherify_customers: could not read the API's total: {error}"
        return health.Finding("api_total", "voucherify_customers", False, summary)
    rows = health.live_rows(store, "voucherify_customers")
    return health.count_matches("voucherify_customers", rows, total, tolerance)


def _unreadable(error: WarehouseError, shown: str) -> typer.Exit:
    """Say why the warehouse cannot be read now; EXIT_BUSY when a sync holds the file."""
    holder = _LOCK_HOLDER.search(str(error))
    if holder:
        typer.echo(
            f"warehouse {shown} is in use by another process ({holder[1]}, PID {holder[2]}; a"
            " sync?): DuckDB lets no other process read it meanwhile; run `promosync status`"
            " again when it ends"
        )
        return typer.Exit(EXIT_BUSY)
    typer.echo(f"warehouse {shown} cannot be read: {error}")
    return typer.Exit(1)


def _open_read_only(url: str) -> Warehouse:
    """The warehouse opened to read only (a read-only file or role is enough). In a process that
    already writes to the same DuckDB file (a library user), DuckDB wants that mode: that one."""
    store = Warehouse(url, read_only=True)
    try:
        with store.engine.connect():
            return store
    except DATABASE_ERRORS as error:
        if "different configuration" not in str(error):
            raise
    store.dispose()
    return Warehouse(url)


def _checks(
    store: Warehouse,
    now: datetime,
    shown_url: str,
    stale_after: timedelta,
    pending_after: timedelta,
    count_tolerance: float,
) -> tuple:
    """Stream states, pending pushes, stale streams, every finding, and the API's count."""
    missing = health.missing_tables(store)
    if missing:
        typer.echo(f"warehouse {shown_url} lacks {', '.join(missing)}: run `promosync sync`")
        raise typer.Exit(1)
    states = _with_runs(health.stream_states(store))
    pending = health.pending_pushes(store, now, pending_after)
    stale = _stale(states, now, stale_after)
    findings = [
        *stale,
        *(health.duplicate_keys(store, table, key) for table, key in health.RAW_TABLES.items()),
        *reject_log.unresolved(store, list(health.RAW_TABLES)),
        pending,
        *(
            health.Finding("warehouse", p.stream, False, str(p))
            for p in preflight.find_problems(store, now)
        ),
    ]
    return states, pending, stale, findings, _api_reconciliation(store, count_tolerance)


def _cycle_lines(
    store: Warehouse, now: datetime
) -> tuple[list[str], list[health.Finding], list[health.Finding]]:
    """The billing cycle's spend per account (share, projection to its end) and the visits
    deferred, as lines, with the findings they warn or fail on."""
    try:
        settings = BudgetSettings.from_env()
    except ConfigError as error:
        return [], [health.Finding("budget", "settings", False, str(error))], []
    start, end = settings.cycle(now)
    cap = settings.cap()
    share = f"share {settings.share:.0%} = {cap:,} requests" if cap else "no cycle quota"
    lines = [f"billing cycle  {start:%Y-%m-%d %H:%M}Z to {end:%Y-%m-%d %H:%M}Z, {share}"]
    warned = []
    spends = cycle_report.cycle_spend(store, settings, now)
    for spend in spends:
        finding = cycle_report.budget_finding(spend, now)
        used = f" ({spend.spent / cap:.0%})" if cap else ""
        lines.append(
            f"  {spend.account}  spent {spend.spent:,}{used}, projected"
            f" {spend.projected(now):,} by the cycle's end"
        )
        if not finding.passed:
            warned.append(finding)
        elif cap and spend.projected(now) > cap:
            summary = (
                f"{spend.projected(now):,} requests projected by the cycle's end, past the share's"
                f" {cap:,}: runs will defer work; see `promosync plan`"
            )
            warned.append(health.Finding("budget", spend.account, False, summary))
    if not spends:
        lines.append("  nothing spent this cycle")
    deferred = cycle_report.deferred_visits(store)
    lines.append("deferred visits" + ("" if deferred else "  none"))
    lines += [f"  {cycle_report.deferred_line(entry, now)}" for entry in deferred]
    return lines, [], warned


def status(
    max_age: str = typer.Option(
        "2h", help="A stream last synced longer ago than this is stale (30m, 2h, 1d)."
    ),
    pending_max_age: str = typer.Option(
        "1h", help="A push job left pending longer than this needs attention."
    ),
    count_tolerance: float = typer.Option(
        5.0,
        min=0.0,
        help="Percent by which live customers may differ from the API's total (deletes since"
        " the last reconciliation, customers created since the last sync) and still pass.",
    ),
) -> None:
    """Show each stream's state, pending pushes and failed checks; exit 1 if one needs attention.

    Exit 75 when another process (a sync) holds the DuckDB file; status only ever reads.
    """
    # A stream never synced is listed but not counted (a platform you do not use is no fault),
    # unless nothing has synced at all.
    stale_after, pending_after = parse_duration(max_age), parse_duration(pending_max_age)
    url = warehouse_url()
    shown_url = display_url(url)
    store, now = None, datetime.now(UTC)
    try:
        if missing_duckdb_file(url):
            typer.echo(f"warehouse {shown_url} does not exist: run `promosync sync` first")
            raise typer.Exit(1)
        store = _open_read_only(url)
        states, pending, stale, failed, reconciliation = _checks(
            store, now, shown_url, stale_after, pending_after, count_tolerance
        )
        cycle, budget_failed, budget_warned = _cycle_lines(store, now)
    except WarehouseError as error:
        typer.echo(f"warehouse {shown_url}: {error}")
        raise typer.Exit(1) from None
    except DATABASE_ERRORS as error:
        raise _unreadable(warehouse_error(error, url, "reading"), shown_url) from None
    finally:
        if store is not None:
            store.dispose()

    failed = [finding for finding in [*failed, *budget_failed] if not finding.passed]
    warned = budget_warned
    if reconciliation and not reconciliation.passed:
        (warned if reconciliation.check == "api_total" else failed).append(reconciliation)
    checks = [f"  FAIL  {finding.check}: {finding.summary}" for finding in failed]
    checks += [f"  WARN  {finding.check}: {finding.summary}" for finding in warned]
    table = _stream_table(states, now, {finding.subject for finding in stale})
    lines = [f"warehouse  {shown_url}", "", table, "", f"pending pushes  {pending.summary}"]
    lines += cycle
    lines.append("failed checks" + ("" if checks else "  none"))
    lines += checks
    lines.append("needs attention" if failed else "ok")
    typer.echo("\n".join(lines))
    if failed:
        raise typer.Exit(1)
