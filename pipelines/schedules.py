"""Schedules and the run-failure sensor. Every one is off until turned on (unless a build asks
for them running). Times are UTC and staggered.

No `from __future__ import annotations` here: Dagster reads the sensor's annotations.
"""

import re
from collections.abc import Iterable

import dagster as dg
from dagster_shared.error import SerializableErrorInfo
from promosync.connectors import config
from promosync.connectors.secrets import SECRET_VARIABLES, scrub
from promosync.pipelines.jobs import Jobs
from promosync.pipelines.wiring import STANDALONE, AssetJob, Wiring

MESSAGE_CHARS = 500  # of each step's error in the summary
_WRAPPER = "DagsterExecutionStepExecutionError"  # Dagster's wrapper around the user's exception
_QUALIFIED = re.compile(r"^[\w.]+\.(\w+): ")

# Each schedule: the job it runs (a `Jobs` field, then a platform for pull/push), cron, what.
PLAN = [
    ("voucherify_pull_hourly", ("pull", "voucherify"), "7 * * * *",
     "Incremental Voucherify pull, hourly at :07 UTC."),
    ("talon_one_pull_hourly", ("pull", "talon_one"), "17 * * * *",
     "Incremental Talon.One pull, hourly at :17 UTC."),
    ("voucherify_reconcile_nightly", ("reconcile",), "30 3 * * *",
     "Mark deleted Voucherify customers, nightly at 03:30 UTC."),
    ("voucherify_push_daily", ("push", "voucherify"), "0 6 * * *",
     "Push changed rows to Voucherify, daily at 06:00 UTC (the resume sensor finishes what it"
     " leaves pending)."),
    ("talon_one_push_daily", ("push", "talon_one"), "20 6 * * *",
     "Push changed profiles and audiences to Talon.One, daily at 06:20 UTC."),
    ("promosync_checks_hourly", ("checks",), "45 * * * *",
     "Evaluate every asset check, hourly at :45 UTC (after both pulls), so a stream that"
     " stopped syncing shows up."),
]  # fmt: skip


def schedules(
    jobs: Jobs, wiring: Wiring = STANDALONE, running: bool = False
) -> list[dg.ScheduleDefinition]:
    """A UTC schedule of each job in `jobs` that has one, off until someone turns it on (unless
    `running`); each names its job object, so assets plus schedules load without the jobs."""
    status = dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED
    made = []
    for name, (kind, *platform), cron, what in PLAN:
        job = getattr(jobs, kind)
        job = job.get(platform[0]) if platform else job
        if job is None:
            continue
        made.append(
            dg.ScheduleDefinition(
                name=wiring.name(name),
                cron_schedule=cron,
                execution_timezone="UTC",
                default_status=status,
                description=what if running else f"{what} Off until you turn it on.",
                job=job,
            )
        )
    return made


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


def log_failure(context: dg.RunFailureSensorContext) -> None:
    """Log which job failed, its run id, and each failed step's error."""
    steps = [
        (event.step_key or "run", error_text(event.step_failure_data.error))
        for event in context.get_step_failure_events()
        if event.step_failure_data.error
    ]
    secrets = [config.secret(name) for name in SECRET_VARIABLES]
    run = context.dagster_run
    summary = failure_summary(
        run.job_name, run.run_id, steps, context.failure_event.message or "", secrets
    )
    context.log.error(summary)


def failure_sensor(
    jobs: list[AssetJob] | None = None,
    wiring: Wiring = STANDALONE,
    running: bool = False,
) -> dg.SensorDefinition:
    """The sensor logging a summary of each failed run of `jobs` (every job when None)."""
    status = dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED

    @dg.run_failure_sensor(
        name=wiring.name("promosync_run_failures"),
        monitored_jobs=jobs,
        default_status=status,
        description="Log a summary of every failed run: job, run id, failed steps and their"
        " errors (credentials masked)." + ("" if running else " Off until you turn it on."),
    )
    def promosync_run_failures(context: dg.RunFailureSensorContext) -> None:
        """Log which job failed, its run id, and each failed step's error."""
        log_failure(context)

    return promosync_run_failures
