"""Run the pull jobs in-process through Dagster, as `promosync sync` does."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from promosync.connectors import catalog, config
from promosync.pipelines.definitions import defs
from promosync.pipelines.stream_options import option_fields

PLATFORM_JOBS = {"voucherify": "voucherify_pull", "talon_one": "talon_one_pull"}


@dataclass(frozen=True)
class StreamSummary:
    """One asset's outcome, as the CLI's closing table shows it.

    `status` is "ok", "failed", "stopped" (by a signal, `metadata` then holds what it committed)
    or "skipped" (a stream it depends on failed, or the run stopped first).
    """

    stream: str
    metadata: dict[str, Any]
    status: str = "ok"


@dataclass(frozen=True)
class StepFailure:
    """Why a stream failed: the one line a person reads first, and the trace behind it."""

    stream: str
    message: str
    trace: str


@dataclass
class PullOutcome:
    """What one platform's pull did: every selected stream, the failures, a stop if any."""

    platform: str
    summaries: list[StreamSummary] = field(default_factory=list)
    failures: list[StepFailure] = field(default_factory=list)
    stopped_by: str | None = None  # SIGINT or SIGTERM

    @property
    def succeeded(self) -> bool:
        return not self.failures and self.stopped_by is None


def run_config(
    platform: str, full_refresh: bool, backfill: tuple[str, str] | None, full_sweep: bool
) -> dict[str, Any]:
    """Run config of a platform's pull job for the CLI's options: each option sets the config
    field of its name in every stream whose declared options have that field."""
    if platform not in PLATFORM_JOBS:
        raise ValueError(f"unknown platform {platform!r}; choose one of {sorted(PLATFORM_JOBS)}")
    chosen: dict[str, Any] = {"full_refresh": full_refresh, "full_sweep": full_sweep}
    if backfill:
        chosen["backfill_start"], chosen["backfill_end"] = backfill
    ops = {}
    for stream in catalog.by_platform()[platform]:
        config = {name: value for name, value in chosen.items() if name in option_fields(stream)}
        if config:
            ops[stream.name] = {"config": config}
    return {"ops": ops}


def instance() -> dg.DagsterInstance:
    """The instance under DAGSTER_HOME when set (runs show in `dagster dev`), else in memory.

    Use it as a context manager: an instance left open keeps run objects alive until exit.
    """
    if config.dagster_home():
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def streams_by_platform() -> dict[str, list[str]]:
    """Every pull stream (asset) name, by platform (asset group), from the declarations."""
    return {
        platform: sorted(stream.name for stream in streams)
        for platform, streams in catalog.by_platform().items()
    }


def resolve_only(only: str | None) -> dict[str, list[str] | None]:
    """What `--only` selects: {platform: streams or None for all}; ValueError if unknown."""
    known = streams_by_platform()
    if only is None:
        return dict.fromkeys(known)
    if only in known:
        return {only: None}
    for platform, streams in known.items():
        if only in streams:
            return {platform: [only]}
    choices = ", ".join([*known, *(s for names in known.values() for s in names)])
    raise ValueError(f"unknown platform or stream {only!r}; choose one of: {choices}")


# Dagster's frames around a step's own error: the message worth reading is in their cause.
_WRAPPERS = {
    "DagsterExecutionStepExecutionError",
    "RetryRequested",
    "DagsterUserCodeExecutionError",
}


def failure_text(error: Any) -> str:
    """A step's error as a person reads it: the real cause's one line, not Dagster's wrappers
    ("Exceeded max_retries of 2", "Error occurred while executing op …") nor a class path."""
    chain = [error]
    while chain[-1].cause is not None:
        chain.append(chain[-1].cause)
    wrapped = [e for e in chain if e.cls_name not in _WRAPPERS and "max_retries" not in e.message]
    cause = wrapped[0] if wrapped else chain[-1]
    message = (cause.message.strip().splitlines() or [""])[0]
    # Dagster's text starts with the class's path: dagster._core.definitions.events.Failure: …
    message = re.sub(rf"^([\w.]+\.)?{re.escape(cause.cls_name)}: ", "", message)
    if cause.cls_name != "Failure":  # raised past the asset's own handling: name its class
        message = f"{cause.cls_name}: {message}"
    return message


def _outcome(platform: str, selected: list[str], result: dg.ExecuteInProcessResult) -> PullOutcome:
    """Sort the run's events into a summary per selected stream and its failures."""
    outcome = PullOutcome(platform)
    done: dict[str, StreamSummary] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        metadata = {key: value.value for key, value in materialization.metadata.items()}
        stream = materialization.asset_key.to_user_string()
        done[stream] = StreamSummary(stream, metadata)
    for event in result.all_events:
        if not (event.is_step_failure and event.event_specific_data):
            continue
        stream, data = event.step_key, event.event_specific_data
        partial = data.user_failure_data.metadata if data.user_failure_data else {}
        metadata = {key: value.value for key, value in partial.items()}
        if "stopped_by" in metadata:
            outcome.stopped_by = outcome.stopped_by or str(metadata["stopped_by"])
            if "inserted" in metadata:  # else it stopped before it began
                done[stream] = StreamSummary(stream, metadata, "stopped")
            continue
        done[stream] = StreamSummary(stream, metadata, "failed")
        outcome.failures.append(
            StepFailure(stream, failure_text(data.error), data.error.to_string())
        )
    ran = [stream for stream in done if stream in selected]  # in the order they ended
    rest = [StreamSummary(s, {}, "skipped") for s in selected if s not in done]
    outcome.summaries = [done[stream] for stream in ran] + rest
    return outcome


def execute_pull(
    platform: str,
    *,
    streams: list[str] | None = None,
    full_refresh: bool = False,
    backfill: tuple[str, str] | None = None,
    full_sweep: bool = False,
    allow_ephemeral: bool = False,
) -> PullOutcome:
    """Execute the platform's pull job once (or only `streams` of it); what each stream did."""
    job = defs.resolve_job_def(PLATFORM_JOBS[platform])
    config = run_config(platform, full_refresh, backfill, full_sweep)
    if streams:
        config["ops"] = {op: value for op, value in config["ops"].items() if op in streams}
    if allow_ephemeral:
        config["resources"] = {"warehouse": {"config": {"allow_ephemeral": True}}}
    # The CLI shows each failure as one line (and the trace with --verbose), not Dagster's log.
    config["loggers"] = {"console": {"config": {"log_level": "CRITICAL"}}}
    if streams:  # those assets alone: not their checks, which a selection would bring along
        keys = {dg.AssetKey(name) for name in streams}
        job = job.get_subset(asset_selection=keys, asset_check_selection=set())
    with instance() as run_instance:
        result = job.execute_in_process(
            run_config=config, instance=run_instance, raise_on_error=False
        )
    return _outcome(platform, streams or streams_by_platform()[platform], result)


def run_pull(platform: str, **options: Any) -> list[StreamSummary]:
    """Execute the platform's pull job (see `execute_pull`); RuntimeError if a stream failed."""
    outcome = execute_pull(platform, **options)
    if outcome.stopped_by:
        raise RuntimeError(f"stopped by {outcome.stopped_by}")
    if outcome.failures:
        raise RuntimeError("; ".join(failure.message for failure in outcome.failures))
    return outcome.summaries
