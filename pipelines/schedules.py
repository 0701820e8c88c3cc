"""Schedules, the run-failure sensor and the jobs only they need. Every one is off until turned on.

Times are UTC and staggered, and this module's jobs run their steps in one process, because an
embedded DuckDB file admits one process at a time.

No `from __future__ import annotations` here: Dagster reads the sensor's annotations.
"""

import os
import re
from collections.abc import Iterable

import dagster as dg
from dagster_shared.error import SerializableErrorInfo
from promosync.connectors.secrets import SECRET_VARIABLES, scrub

STOPPED = dg.DefaultScheduleStatus.STOPPED
MESSAGE_CHARS = 500  # of each step's error in the summary
_WRAPPER = "DagsterExecutionStepExecutionError"  # Dagster's wrapper around the user's exception
_QUALIFIED = re.compile(r"^[\w.]+\.(\w+): ")
FULL_SWEEP = {"config": {"full_sweep": True}}

voucherify_full_sweep = dg.define_asset_job(
    "voucherify_full_sweep",
    selection=dg.AssetSelection.assets(
        "voucherify_customers", "voucherify_customer_activities", "voucherify_customer_segments"
    ).without_checks(),
    config={
        "ops": {
            "voucherify_customer_activities": FULL_SWEEP,
            "voucherify_customer_segments": FULL_SWEEP,
        }
    },
    executor_def=dg.in_process_executor,
    description="Pull customers, then visit every customer's activity and segments"
    " (catches events that did not touch a customer's updated_at). Not scheduled: at 100,000"
    " customers one run costs 200,000 requests, two thirds of an Organization cycle; the"
    " hourly pull re-verifies a slice of unchanged customers instead (`promosync plan`).",
)

promosync_checks = dg.define_asset_job(
    "promosync_checks",
    selection=dg.AssetSelection.all_asset_checks(),
    executor_def=dg.in_process_executor,
    description="Evaluate every asset check (keys, freshness, counts, cursors, pending pushes)"
    " without materializing anything.",
)


def _stopped(name: str, job: object, cron: str, what: str) -> dg.ScheduleDefinition:
    """A UTC schedule of `job` (a name or a job) that stays off until someone turns it on."""
    target = {"job_name": job} if isinstance(job, str) else {"job": job}
    return dg.ScheduleDefinition(
        name=name,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=STOPPED,
        description=f"{what} Off until you turn it on.",
        **target,
    )


SCHEDULES = [
    _stopped(
        "voucherify_pull_hourly", "voucherify_pull", "7 * * * *",
        "Incremental Voucherify pull, hourly at :07 UTC.",
    ),
    _stopped(
        "talon_one_pull_hourly", "talon_one_pull", "17 * * * *",
        "Incremental Talon.One pull, hourly at :17 UTC.",
    ),
    _stopped(
        "voucherify_reconcile_nightly", "voucherify_reconcile", "30 3 * * *",
        "Mark deleted Voucherify customers, nightly at 03:30 UTC.",
    ),
    _stopped(
        "voucherify_push_daily", "voucherify_push", "0 6 * * *",
        "Push changed rows to Voucherify, daily at 06:00 UTC (the resume sensor finishes what it"
        " leaves pending).",
    ),
    _stopped(
        "talon_one_push_daily", "talon_one_push", "20 6 * * *",
        "Push changed profiles and audiences to Talon.One, daily at 06:20 UTC.",
    ),
    _stopped(
        "promosync_checks_hourly", promosync_checks, "45 * * * *",
        "Evaluate every asset check, hourly at :45 UTC (after both pulls), so a stream that"
        " stopped syncing shows up.",
    ),
]  # fmt: skip


def error_text(error: SerializableErrorInfo) -> str:
    """The user's own error inside Dagster's wrapper, as `ClassName: message`."""
    while error.cause and _WRAPPER in error.message:
        error = error.cause
    return _QUALIFIED.sub(r"\1: ", error.message.strip())


def failure_summary(
    job: str, run_id: str, steps: list[tuple[str, str]], run_message: str, secrets: Iterable[str]
) -> str:
    """A failed run in a few lines: job, run id, and each failed step with its error."""
    lines = [f"run failed: job {job}, run {run_id}"]
    for step, message in steps or [("run", run_message)]:
        text = " ".join(message.split())
        if len(text) > MESSAGE_CHARS:
            text = text[: MESSAGE_CHARS - 1] + "…"
        lines.append(f"  {step}: {text}")
    return scrub("\n".join(lines), secrets)


@dg.run_failure_sensor(
    name="promosync_run_failures",
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Log a summary of every failed run: job, run id, failed steps and their errors"
    " (credentials masked). Off until you turn it on.",
)
def promosync_run_failures(context: dg.RunFailureSensorContext) -> None:
    """Log which job failed, its run id, and each failed step's error."""
    steps = [
        (event.step_key or "run", error_text(event.step_failure_data.error))
        for event in context.get_step_failure_events()
        if event.step_failure_data.error
    ]
    secrets = [os.environ.get(name, "") for name in SECRET_VARIABLES]
    run = context.dagster_run
    summary = failure_summary(
        run.job_name, run.run_id, steps, context.failure_event.message or "", secrets
    )
    context.log.error(summary)


SENSORS = [promosync_run_failures]
EXTRA_JOBS = [voucherify_full_sweep, promosync_checks]
