"""Push assets (group `push`): warehouse rows back to Voucherify and Talon.One, and their jobs.

No `from __future__ import annotations` here: Dagster reads the annotations of asset functions.
"""

import json
import time

import dagster as dg
from promosync.connectors.push.audit import PushReport
from promosync.connectors.push.jobs import open_jobs
from promosync.connectors.push.runs import DEFAULT_LOCK_WAIT
from promosync.connectors.talon_one import push as talon_one_push
from promosync.connectors.voucherify import push as voucherify_push
from promosync.pipelines.resources import VoucherifyResource, WarehouseResource
from promosync.pipelines.talon_one_assets import TalonOneResource
from promosync.pipelines.voucherify_assets import KINDS, fatal_errors

GROUP = "push"
INPUT_GROUP = "push_inputs"
RESUME_AFTER_SECONDS = 600  # a pending set already handed to a run is asked again after this

PUSH_INPUTS = [
    dg.AssetSpec(name, group_name=INPUT_GROUP, kinds={"sql"}, description=description)
    for name, description in (
        ("push_voucherify_metadata", "Metadata analysts want on Voucherify customers."),
        ("push_voucherify_customers", "Customer fields analysts want on Voucherify."),
        ("push_talon_one_profiles", "Attributes analysts want on Talon.One profiles."),
        ("push_talon_one_audiences", "Audience memberships analysts want on Talon.One."),
    )
]


class PushConfig(dg.Config):
    """Where rows come from and how the push behaves."""

    query: str = ""  # a query name in sql/push/; empty: the operation's default
    file: str = ""  # a CSV file (a regular file) instead of a query
    force: bool = False  # send unchanged rows too
    dry_run: bool = False  # plan the batches, send nothing
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT  # while another run of this push holds its lock


class VoucherifyPushConfig(PushConfig):
    """A Voucherify push: also how long to wait for its async actions."""

    deadline_seconds: float = voucherify_push.DEFAULT_DEADLINE
    resume_only: bool = False  # only poll actions earlier runs left pending


class ProfilesPushConfig(PushConfig):
    """A Talon.One profile push: `row_results` asks for per-row results (`silent=no`)."""

    row_results: bool = False


def push_result(context: dg.AssetExecutionContext, report: PushReport) -> dg.MaterializeResult:
    """The report as metadata; a failed push fails the step with its counts."""
    metadata = report.metadata()
    for line in report.batches:
        context.log.info(line)
    for problem in report.problems[:20]:
        context.log.warning(f"row {problem.number} ({problem.key}): {problem.reason}")
    if report.outcome == "failed":
        raise dg.Failure(
            description=report.error or f"{report.rows_failed} row(s) failed; see push_row_results",
            metadata=metadata,
            allow_retries=False,
        )
    return dg.MaterializeResult(metadata=metadata)


def _voucherify_asset(name: str, operation: str, deps: list[str], description: str):
    @dg.asset(name=name, group_name=GROUP, kinds=KINDS, deps=deps, description=description)
    def _push(
        context: dg.AssetExecutionContext,
        config: VoucherifyPushConfig,
        voucherify: VoucherifyResource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult:
        with fatal_errors(), warehouse.warehouse() as store:
            report = voucherify_push.push(
                voucherify.client(), store, operation,
                query=config.query or None, file=config.file or None, force=config.force,
                dry_run=config.dry_run, resume_only=config.resume_only,
                deadline_seconds=config.deadline_seconds,
                lock_wait_seconds=config.lock_wait_seconds,
            )  # fmt: skip
        return push_result(context, report)

    return _push


voucherify_push_metadata = _voucherify_asset(
    "voucherify_push_metadata", "metadata", ["push_voucherify_metadata"],
    "Changed customer metadata pushed to Voucherify (bulk metadata async actions).",
)  # fmt: skip
voucherify_push_customers = _voucherify_asset(
    "voucherify_push_customers", "customers", ["push_voucherify_customers"],
    "Changed customer fields pushed to Voucherify (bulk customer update async actions).",
)  # fmt: skip
voucherify_push_csv_import = _voucherify_asset(
    "voucherify_push_csv_import", "csv_import", ["push_voucherify_customers"],
    "Changed customers imported into Voucherify as CSV files (importCSV async actions).",
)  # fmt: skip


@dg.asset(group_name=GROUP, kinds=KINDS, deps=["push_talon_one_profiles"])
def talon_one_push_profiles(
    context: dg.AssetExecutionContext,
    config: ProfilesPushConfig,
    talon_one: TalonOneResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Changed profile attributes pushed to Talon.One, 1,000 profiles a request."""
    with fatal_errors(), warehouse.warehouse() as store:
        report = talon_one_push.push_profiles(
            talon_one.client(), store, query=config.query or None, file=config.file or None,
            force=config.force, dry_run=config.dry_run, row_results=config.row_results,
            lock_wait_seconds=config.lock_wait_seconds,
        )  # fmt: skip
    return push_result(context, report)


@dg.asset(group_name=GROUP, kinds=KINDS, deps=["push_talon_one_audiences"])
def talon_one_push_audiences(
    context: dg.AssetExecutionContext,
    config: PushConfig,
    talon_one: TalonOneResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Changed audience memberships pushed to Talon.One, 1,000 changes a request."""
    with fatal_errors(), warehouse.warehouse() as store:
        report = talon_one_push.push_audiences(
            talon_one.client(), store, query=config.query or None, file=config.file or None,
            force=config.force, dry_run=config.dry_run, lock_wait_seconds=config.lock_wait_seconds,
        )  # fmt: skip
    return push_result(context, report)


VOUCHERIFY_PUSH_ASSETS = {
    "metadata": voucherify_push_metadata,
    "customers": voucherify_push_customers,
    "csv_import": voucherify_push_csv_import,
}

voucherify_push_job = dg.define_asset_job(
    "voucherify_push",
    selection=dg.AssetSelection.assets(*VOUCHERIFY_PUSH_ASSETS.values()),
    description="Push changed rows to Voucherify; wait for async actions or leave them pending.",
)
talon_one_push_job = dg.define_asset_job(
    "talon_one_push",
    selection=dg.AssetSelection.assets(talon_one_push_profiles, talon_one_push_audiences),
    description="Push changed profiles and audience memberships to Talon.One.",
)


def resume_request(pending: dict[str, list[str]], cursor: str | None, now: float):
    """A RunRequest resuming `pending` (operation -> action ids) or a SkipReason, and the cursor."""
    if not pending:
        return dg.SkipReason("no pending Voucherify async action"), cursor
    signature = ",".join(sorted(i for ids in pending.values() for i in ids))
    last = json.loads(cursor) if cursor else {}
    waited = now - last.get("at", 0)
    if last.get("signature") == signature and waited < RESUME_AFTER_SECONDS:
        count = signature.count(",") + 1
        reason = f"{count} pending action(s) handed to a run {waited:.0f} s ago; waiting for it"
        return dg.SkipReason(reason), cursor
    ops = {
        VOUCHERIFY_PUSH_ASSETS[operation].key.to_python_identifier(): {
            "config": {"resume_only": True}
        }
        for operation in pending
    }
    request = dg.RunRequest(
        run_key=f"resume:{signature}:{int(now)}",
        asset_selection=[VOUCHERIFY_PUSH_ASSETS[operation].key for operation in pending],
        run_config={"ops": ops},
        tags={"promosync/resume": signature[:200]},
    )
    return request, json.dumps({"signature": signature, "at": now})


@dg.sensor(
    job=voucherify_push_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Resume Voucherify async actions an earlier push left pending; never re-send.",
)
def voucherify_push_resume(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    """Request a resume-only push run while the ledger holds open async actions."""
    with warehouse.warehouse() as store:
        pending: dict[str, list[str]] = {}
        for job in open_jobs(store, voucherify_push.DESTINATION):
            pending.setdefault(job.operation, []).append(job.async_action_id or job.job_id)
    result, cursor = resume_request(pending, context.cursor, time.time())
    if cursor != context.cursor:
        context.update_cursor(cursor)
    return result


PUSH_ASSETS = [
    *PUSH_INPUTS,
    *VOUCHERIFY_PUSH_ASSETS.values(),
    talon_one_push_profiles,
    talon_one_push_audiences,
]
PUSH_JOBS = [voucherify_push_job, talon_one_push_job]
PUSH_SENSORS = [voucherify_push_resume]
