"""Push assets (group `push`): warehouse rows back to Voucherify and Talon.One, and their jobs.

No `from __future__ import annotations` here: Dagster reads the annotations of asset functions.
"""

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg
from promosync.connectors.push.audit import PushReport
from promosync.connectors.push.jobs import open_jobs
from promosync.connectors.push.runs import DEFAULT_LOCK_WAIT
from promosync.connectors.spending import counted
from promosync.connectors.talon_one import push as talon_one_push
from promosync.connectors.voucherify import push as voucherify_push
from promosync.pipelines.asset_policy import KINDS, fatal_errors
from promosync.pipelines.resources import WarehouseResource
from promosync.pipelines.wiring import STANDALONE, AssetJob, Wiring

GROUP = "push"
INPUT_GROUP = "push_inputs"
RESUME_AFTER_SECONDS = 600  # a pending set already handed to a run is asked again after this

INPUTS = {
    "push_voucherify_metadata": "Metadata analysts want on Voucherify customers.",
    "push_voucherify_customers": "Customer fields analysts want on Voucherify.",
    "push_talon_one_profiles": "Attributes analysts want on Talon.One profiles.",
    "push_talon_one_audiences": "Audience memberships analysts want on Talon.One.",
}
VOUCHERIFY_OPERATIONS = {  # operation: its input and description
    "metadata": (
        "push_voucherify_metadata",
        "Changed customer metadata pushed to Voucherify (bulk metadata async actions).",
    ),
    "customers": (
        "push_voucherify_customers",
        "Changed customer fields pushed to Voucherify (bulk customer update async actions).",
    ),
    "csv_import": (
        "push_voucherify_customers",
        "Changed customers imported into Voucherify as CSV files (importCSV async actions).",
    ),
}


def push_inputs(platforms: Iterable[str], wiring: Wiring = STANDALONE) -> list[dg.AssetSpec]:
    """The warehouse tables or views analysts fill for `platforms`' pushes (not materialized)."""
    return [
        dg.AssetSpec(
            wiring.key(name),
            group_name=wiring.group(INPUT_GROUP),
            kinds={"sql"},
            description=description,
        )
        for name, description in INPUTS.items()
        if any(name.startswith(f"push_{platform}_") for platform in platforms)
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


def _resources(context: dg.AssetExecutionContext, wiring: Wiring, platform: str):
    return (
        getattr(context.resources, wiring.resource_keys.api(platform)),
        getattr(context.resources, wiring.warehouse),
    )


def _push_asset(name: str, platform: str, input_name: str, wiring: Wiring, description: str):
    """The decorator of push asset `name`: its input, the platform's API and the warehouse."""
    return dg.asset(
        key=wiring.key(name),
        group_name=wiring.group(GROUP),
        kinds=KINDS,
        deps=[wiring.key(input_name)],
        description=description,
        required_resource_keys={wiring.resource_keys.api(platform), wiring.warehouse},
        pool=wiring.pool,
    )


def voucherify_push_asset(operation: str, wiring: Wiring = STANDALONE) -> dg.AssetsDefinition:
    """The asset pushing changed rows to Voucherify with `operation` (metadata, customers,
    csv_import) through async actions."""
    input_name, description = VOUCHERIFY_OPERATIONS[operation]
    name = f"voucherify_push_{operation}"

    @_push_asset(name, "voucherify", input_name, wiring, description)
    def _push(
        context: dg.AssetExecutionContext, config: VoucherifyPushConfig
    ) -> dg.MaterializeResult:
        voucherify, warehouse = _resources(context, wiring, "voucherify")
        settings, stream = voucherify.settings(), f"voucherify_push_{operation}"
        client = settings.client()
        with (
            fatal_errors(),
            warehouse.warehouse() as store,
            counted(client, store, settings.budget, settings.account(), stream, context.run.run_id),
        ):
            report = voucherify_push.push(
                client, store, operation,
                query=config.query or None, file=config.file or None, force=config.force,
                dry_run=config.dry_run, resume_only=config.resume_only,
                deadline_seconds=config.deadline_seconds,
                lock_wait_seconds=config.lock_wait_seconds,
            )  # fmt: skip
        return push_result(context, report)

    return _push


def talon_one_push_assets(wiring: Wiring = STANDALONE) -> list[dg.AssetsDefinition]:
    """The Talon.One push assets: profile attributes, then audience memberships."""

    @_push_asset(
        "talon_one_push_profiles", "talon_one", "push_talon_one_profiles", wiring,
        "Changed profile attributes pushed to Talon.One, 1,000 profiles a request.",
    )  # fmt: skip
    def talon_one_push_profiles(
        context: dg.AssetExecutionContext, config: ProfilesPushConfig
    ) -> dg.MaterializeResult:
        talon_one, warehouse = _resources(context, wiring, "talon_one")
        with fatal_errors(), warehouse.warehouse() as store:
            report = talon_one_push.push_profiles(
                talon_one.client(), store, query=config.query or None, file=config.file or None,
                force=config.force, dry_run=config.dry_run, row_results=config.row_results,
                lock_wait_seconds=config.lock_wait_seconds,
            )  # fmt: skip
        return push_result(context, report)

    @_push_asset(
        "talon_one_push_audiences", "talon_one", "push_talon_one_audiences", wiring,
        "Changed audience memberships pushed to Talon.One, 1,000 changes a request.",
    )  # fmt: skip
    def talon_one_push_audiences(
        context: dg.AssetExecutionContext, config: PushConfig
    ) -> dg.MaterializeResult:
        talon_one, warehouse = _resources(context, wiring, "talon_one")
        with fatal_errors(), warehouse.warehouse() as store:
            report = talon_one_push.push_audiences(
                talon_one.client(), store, query=config.query or None, file=config.file or None,
                force=config.force, dry_run=config.dry_run,
                lock_wait_seconds=config.lock_wait_seconds,
            )  # fmt: skip
        return push_result(context, report)

    return [talon_one_push_profiles, talon_one_push_audiences]


def resume_request(
    pending: dict[str, list[str]], cursor: str | None, now: float, wiring: Wiring = STANDALONE
):
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
    names = {operation: f"voucherify_push_{operation}" for operation in pending}
    request = dg.RunRequest(
        run_key=f"resume:{signature}:{int(now)}",
        asset_selection=[wiring.key(name) for name in names.values()],
        run_config={
            "ops": {wiring.op(name): {"config": {"resume_only": True}} for name in names.values()}
        },
        tags={"promosync/resume": signature[:200]},
    )
    return request, json.dumps({"signature": signature, "at": now})


def resume_sensor(job: AssetJob, wiring: Wiring = STANDALONE):
    """The sensor that asks `job` (the Voucherify push) to resume pending async actions."""

    @dg.sensor(
        name=wiring.name("voucherify_push_resume"),
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Resume Voucherify async actions an earlier push left pending; never re-send.",
        required_resource_keys={wiring.warehouse},
    )
    def voucherify_push_resume(context: dg.SensorEvaluationContext):
        """Request a resume-only push run while the ledger holds open async actions."""
        warehouse: WarehouseResource = getattr(context.resources, wiring.warehouse)
        with warehouse.warehouse() as store:
            pending: dict[str, list[str]] = {}
            for job in open_jobs(store, voucherify_push.DESTINATION):
                pending.setdefault(job.operation, []).append(job.async_action_id or job.job_id)
        result, cursor = resume_request(pending, context.cursor, time.time(), wiring)
        if cursor != context.cursor:
            context.update_cursor(cursor)
        return result

    return voucherify_push_resume


@dataclass(frozen=True)
class Push:
    """The push assets, jobs and sensors of some platforms."""

    assets: list[dg.AssetsDefinition | dg.AssetSpec]
    jobs: list[AssetJob]
    sensors: list[dg.SensorDefinition]
    job_of: dict[str, AssetJob]  # platform: its push job


def push_definitions(
    platforms: Iterable[str] = ("voucherify", "talon_one"), wiring: Wiring = STANDALONE
) -> Push:
    """Push assets (inputs included), one push job per platform, and the Voucherify resume
    sensor, for `platforms`."""
    platforms = list(platforms)
    push = Push(push_inputs(platforms, wiring), [], [], {})
    if "voucherify" in platforms:
        assets = [voucherify_push_asset(operation, wiring) for operation in VOUCHERIFY_OPERATIONS]
        job = dg.define_asset_job(
            wiring.name("voucherify_push"),
            selection=dg.AssetSelection.assets(*assets),
            description="Push changed rows to Voucherify; wait for async actions or leave them"
            " pending.",
        )
        push.assets.extend(assets)
        push.jobs.append(job)
        push.job_of["voucherify"] = job
        push.sensors.append(resume_sensor(job, wiring))
    if "talon_one" in platforms:
        assets = talon_one_push_assets(wiring)
        job = dg.define_asset_job(
            wiring.name("talon_one_push"),
            selection=dg.AssetSelection.assets(*assets),
            description="Push changed profiles and audience memberships to Talon.One.",
        )
        push.assets.extend(assets)
        push.jobs.append(job)
        push.job_of["talon_one"] = job
    return push


STANDALONE_PUSH = push_definitions()
PUSH_ASSETS = STANDALONE_PUSH.assets
PUSH_JOBS = STANDALONE_PUSH.jobs
PUSH_SENSORS = STANDALONE_PUSH.sensors
