"""Asset checks of the pull and push assets: thin adapters over `connectors.health`.

No `from __future__ import annotations` here: Dagster reads the annotations of check functions.

A check runs after its asset when a run selects the asset with its checks (a materialization
from the UI, the push jobs), and alone in the `promosync_checks` job (`pipelines.schedules`).
None blocks a downstream asset.
"""

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import dagster as dg
from promosync.connectors import catalog, cycle_report, health, reject_log
from promosync.connectors.stream import (
    COUNT_MATCHES_API,
    CURSOR_FORWARD,
    FRESH,
    REJECTS_RESOLVED,
    UNIQUE_KEY,
    WITHIN_BUDGET,
    Stream,
)
from promosync.connectors.voucherify.client import list_total
from promosync.pipelines.asset_policy import fatal_errors
from promosync.pipelines.resources import WarehouseResource
from promosync.pipelines.wiring import STANDALONE, Wiring

VOUCHERIFY_PUSH_OPERATIONS = ("metadata", "customers", "csv_import")  # voucherify_push_<operation>
CURSOR_HISTORY = 10  # earlier evaluations searched for the cursor's high-water mark
# A DuckDB file admits one process at a time: a check meeting a writing step's lock tries again.
RETRY = dg.RetryPolicy(
    max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class FreshnessConfig(dg.Config):
    """How old a stream's last successful sync may be."""

    max_age_minutes: float = 120.0  # two missed hourly pulls


class PendingPushConfig(dg.Config):
    """How long a Voucherify async action may stay open."""

    max_age_minutes: float = 60.0  # actions take seconds to minutes; the resume sensor polls them


def check_result(
    finding: health.Finding, severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR
) -> dg.AssetCheckResult:
    """A finding as a check result: its summary as description, its numbers as metadata."""
    metadata = {key: value for key, value in finding.details.items() if value is not None}
    return dg.AssetCheckResult(
        passed=finding.passed, description=finding.summary, metadata=metadata, severity=severity
    )


def _warehouse(context: dg.AssetCheckExecutionContext, wiring: Wiring) -> WarehouseResource:
    return getattr(context.resources, wiring.warehouse)


def _check(stream: Stream, name: str, wiring: Wiring, description: str, keys=()):
    """The decorator of `stream`'s check `name`: on the stream's (translated) asset, with the
    warehouse's resource key (and `keys`), in the warehouse's pool."""
    return dg.asset_check(
        asset=wiring.key(stream.name),
        name=name,
        description=description,
        retry_policy=RETRY,
        required_resource_keys={wiring.warehouse, *keys},
        pool=wiring.pool,
    )


def _unique_key_check(stream: Stream, wiring: Wiring) -> dg.AssetChecksDefinition:
    table, key = stream.name, stream.primary_key
    about = f"No two rows of {table} share a primary key ({', '.join(key)})."

    @_check(stream, UNIQUE_KEY, wiring, about)
    def _unique(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        with _warehouse(context, wiring).warehouse() as store:
            return check_result(health.duplicate_keys(store, table, key))

    return _unique


def _freshness_check(stream: Stream, wiring: Wiring) -> dg.AssetChecksDefinition:
    name = stream.name
    about = (
        "Last successful sync (materialization or committed cursor) within max_age_minutes,"
        " 120 by default."
    )

    @_check(stream, FRESH, wiring, about)
    def _fresh(
        context: dg.AssetCheckExecutionContext, config: FreshnessConfig
    ) -> dg.AssetCheckResult:
        event = context.instance.get_latest_materialization_event(wiring.key(name))
        materialized = datetime.fromtimestamp(event.timestamp, UTC) if event else None
        with _warehouse(context, wiring).warehouse() as store:
            committed = health.last_sync(store, name)
        last = max((t for t in (materialized, committed) if t), default=None)
        max_age = timedelta(minutes=config.max_age_minutes)
        return check_result(health.freshness(name, last, datetime.now(UTC), max_age))

    return _fresh


def previous_high_water(instance: dg.DagsterInstance, key: dg.AssetCheckKey) -> str | None:
    """The cursor high-water mark recorded by this check's latest finished evaluation."""
    history = instance.event_log_storage.get_asset_check_execution_history(
        key, limit=CURSOR_HISTORY
    )
    for record in history:  # newest first; this run's own planned record has no evaluation
        if isinstance(record.evaluation, dg.AssetCheckEvaluation):
            entry = record.evaluation.metadata.get("high_water")
            if entry is not None:
                return entry.value
    return None


def _cursor_check(stream: Stream, wiring: Wiring) -> dg.AssetChecksDefinition:
    name = stream.name
    about = (
        "The stream-wide cursor never falls behind the highest value an earlier evaluation"
        " recorded (its `high_water` metadata)."
    )

    @_check(stream, CURSOR_FORWARD, wiring, about)
    def _forward(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        key = dg.AssetCheckKey(wiring.key(name), CURSOR_FORWARD)
        high_water = previous_high_water(context.instance, key)
        with _warehouse(context, wiring).warehouse() as store:
            current = store.read_cursor(name)
        return check_result(health.cursor_progress(name, high_water, current))

    return _forward


# The `total` of a platform's top-level list, for the count check (Talon.One lists report none).
API_TOTALS: dict[str, Callable[..., int]] = {"voucherify": list_total}


def _count_check(stream: Stream, wiring: Wiring) -> dg.AssetChecksDefinition:
    if stream.platform not in API_TOTALS:
        raise ValueError(f"{stream.name}: {stream.platform} lists report no total to count against")
    total_of = API_TOTALS[stream.platform]
    api_key = wiring.resource_keys.api(stream.platform)
    about = (
        f"Live {stream.name} rows equal the API's `total` (GET {stream.endpoint}?limit=1)."
        " A warning: rows deleted in the API count until a reconciliation marks them."
    )

    @_check(stream, COUNT_MATCHES_API, wiring, about, keys=(api_key,))
    def _count(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        with fatal_errors():  # credentials or config: a retry cannot help
            total = total_of(getattr(context.resources, api_key).client(), stream)
        with _warehouse(context, wiring).warehouse() as store:
            rows = health.live_rows(store, stream.name)
        finding = health.count_matches(stream.name, rows, total)
        return check_result(finding, dg.AssetCheckSeverity.WARN)

    return _count


def _rejects_check(stream: Stream, wiring: Wiring) -> dg.AssetChecksDefinition:
    name = stream.name
    about = (
        "No record of the stream was rejected (sync_rejects) and left unresolved; a reject is"
        " resolved once its key is read cleanly or `promosync rejects resolve` marks it."
    )

    @_check(stream, REJECTS_RESOLVED, wiring, about)
    def _resolved(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        with _warehouse(context, wiring).warehouse() as store:
            return check_result(reject_log.unresolved(store, [name])[0])

    return _resolved


def _budget_check(stream: Stream, wiring: Wiring) -> dg.AssetChecksDefinition:
    name = stream.name
    api_key = wiring.resource_keys.api(stream.platform)
    about = (
        "The billing cycle's requests (request_ledger, every run and process) stay under"
        f" {cycle_report.WARN_AT:.0%} of promosync's share; a warning past it, with the"
        " projection to the cycle's end and this stream's part."
    )

    @_check(stream, WITHIN_BUDGET, wiring, about, keys=(api_key,))
    def _within(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        api = getattr(context.resources, api_key)
        with fatal_errors():  # a bad budget setting: a retry cannot help
            settings = api.budget_settings()
        now = datetime.now(UTC)
        with _warehouse(context, wiring).warehouse() as store:
            spend = cycle_report.account_spend(store, settings, api.account(), now)
            mine = cycle_report.stream_spent(store, spend, name)
        finding = cycle_report.budget_finding(spend, now)
        finding = replace(finding, details={**finding.details, "stream_spent": mine})
        return check_result(finding, dg.AssetCheckSeverity.WARN)

    return _within


# How each check a stream may declare is built.
PULL_CHECKS: dict[str, Callable[[Stream, Wiring], dg.AssetChecksDefinition]] = {
    UNIQUE_KEY: _unique_key_check,
    FRESH: _freshness_check,
    CURSOR_FORWARD: _cursor_check,
    COUNT_MATCHES_API: _count_check,
    REJECTS_RESOLVED: _rejects_check,
    WITHIN_BUDGET: _budget_check,  # the platform's resource has budget_settings() and account()
}


def pull_checks(
    streams: Iterable[Stream] | None = None, wiring: Wiring = STANDALONE
) -> list[dg.AssetChecksDefinition]:
    """The checks each stream declares (every declared stream by default)."""
    chosen = catalog.STREAMS if streams is None else streams
    return [PULL_CHECKS[check](stream, wiring) for stream in chosen for check in stream.checks]


def pending_push_check(operation: str, wiring: Wiring = STANDALONE) -> dg.AssetChecksDefinition:
    """The check that no Voucherify `operation` push left an async action open too long."""

    @dg.asset_check(
        asset=wiring.key(f"voucherify_push_{operation}"),
        name="no_stale_pending_jobs",
        description=f"No Voucherify {operation} async action open longer than max_age_minutes,"
        " 60 by default.",
        retry_policy=RETRY,
        required_resource_keys={wiring.warehouse},
        pool=wiring.pool,
    )
    def _pending(
        context: dg.AssetCheckExecutionContext, config: PendingPushConfig
    ) -> dg.AssetCheckResult:
        max_age = timedelta(minutes=config.max_age_minutes)
        with _warehouse(context, wiring).warehouse() as store:
            finding = health.pending_pushes(store, datetime.now(UTC), max_age, operation)
        return check_result(finding)

    return _pending


def push_checks(wiring: Wiring = STANDALONE) -> list[dg.AssetChecksDefinition]:
    """The checks of the Voucherify push assets."""
    return [pending_push_check(operation, wiring) for operation in VOUCHERIFY_PUSH_OPERATIONS]


ASSET_CHECKS = [*pull_checks(), *push_checks()]
