"""Asset checks of the pull and push assets: thin adapters over `connectors.health`.

No `from __future__ import annotations` here: Dagster reads the annotations of check functions.

A check runs after its asset when a run selects the asset with its checks (a materialization
from the UI, the push jobs), and alone in the `promosync_checks` job (`pipelines.schedules`).
None blocks a downstream asset.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
from promosync.connectors import health
from promosync.pipelines.resources import VoucherifyResource, WarehouseResource
from promosync.pipelines.voucherify_assets import fatal_errors

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


def _unique_key_check(table: str, key: tuple[str, ...]) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=table,
        name="primary_key_unique",
        description=f"No two rows of {table} share a primary key ({', '.join(key)}).",
        retry_policy=RETRY,
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.warehouse() as store:
            return check_result(health.duplicate_keys(store, table, key))

    return _check


def _freshness_check(stream: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=stream,
        name="fresh",
        description="Last successful sync (materialization or committed cursor) within"
        " max_age_minutes, 120 by default.",
        retry_policy=RETRY,
    )
    def _check(
        context: dg.AssetCheckExecutionContext,
        config: FreshnessConfig,
        warehouse: WarehouseResource,
    ) -> dg.AssetCheckResult:
        event = context.instance.get_latest_materialization_event(dg.AssetKey(stream))
        materialized = datetime.fromtimestamp(event.timestamp, UTC) if event else None
        with warehouse.warehouse() as store:
            committed = health.last_sync(store, stream)
        last = max((t for t in (materialized, committed) if t), default=None)
        max_age = timedelta(minutes=config.max_age_minutes)
        return check_result(health.freshness(stream, last, datetime.now(UTC), max_age))

    return _check


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


def _cursor_check(stream: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=stream,
        name="cursor_forward",
        description="The stream-wide cursor never falls behind the highest value an earlier"
        " evaluation recorded (its `high_water` metadata).",
        retry_policy=RETRY,
    )
    def _check(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        key = dg.AssetCheckKey(dg.AssetKey(stream), "cursor_forward")
        high_water = previous_high_water(context.instance, key)
        with warehouse.warehouse() as store:
            current = store.read_cursor(stream)
        return check_result(health.cursor_progress(stream, high_water, current))

    return _check


@dg.asset_check(
    asset="voucherify_customers",
    name="count_matches_api",
    description="Live voucherify_customers rows equal the API's `total`"
    " (GET /v1/customers?limit=1). A warning: deletes show only after the nightly reconcile.",
    retry_policy=RETRY,
)
def voucherify_customers_count_matches_api(
    voucherify: VoucherifyResource, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    """Compare the warehouse's live customers with Voucherify's count."""
    with fatal_errors():  # credentials or config: a retry cannot help
        total = health.voucherify_customer_total(voucherify.client())
    with warehouse.warehouse() as store:
        rows = health.live_rows(store, "voucherify_customers")
    finding = health.count_matches("voucherify_customers", rows, total)
    return check_result(finding, dg.AssetCheckSeverity.WARN)


def _pending_push_check(operation: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=f"voucherify_push_{operation}",
        name="no_stale_pending_jobs",
        description=f"No Voucherify {operation} async action open longer than max_age_minutes,"
        " 60 by default.",
        retry_policy=RETRY,
    )
    def _check(config: PendingPushConfig, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        max_age = timedelta(minutes=config.max_age_minutes)
        with warehouse.warehouse() as store:
            finding = health.pending_pushes(store, datetime.now(UTC), max_age, operation)
        return check_result(finding)

    return _check


ASSET_CHECKS = [
    *(_unique_key_check(table, key) for table, key in health.RAW_TABLES.items()),
    *(_freshness_check(stream) for stream in health.RAW_TABLES),
    *(_cursor_check(stream) for stream in health.INSTANT_CURSOR_STREAMS),
    voucherify_customers_count_matches_api,
    *(_pending_push_check(operation) for operation in VOUCHERIFY_PUSH_OPERATIONS),
]
