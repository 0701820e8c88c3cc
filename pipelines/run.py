"""Run the pull jobs in-process through Dagster, as `promosync sync` does."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg
from promosync.connectors import catalog
from promosync.pipelines.definitions import defs

PLATFORM_JOBS = {"voucherify": "voucherify_pull", "talon_one": "talon_one_pull"}


@dataclass(frozen=True)
class StreamSummary:
    """One asset's materialization, as the CLI's closing table shows it."""

    stream: str
    metadata: dict[str, Any]


def run_config(
    platform: str, full_refresh: bool, backfill: tuple[str, str] | None, full_sweep: bool
) -> dict[str, Any]:
    """Run config of a platform's pull job for the CLI's options."""
    window: dict[str, Any] = {"full_refresh": full_refresh}
    if backfill:
        window["backfill_start"], window["backfill_end"] = backfill
    if platform == "voucherify":
        fan_out = {"full_sweep": full_sweep or full_refresh}
        return {
            "ops": {
                "voucherify_customers": {"config": window},
                "voucherify_customer_activities": {"config": fan_out},
                "voucherify_customer_segments": {"config": fan_out},
            }
        }
    if platform == "talon_one":
        return {"ops": {"talon_one_loyalty_transactions": {"config": window}}}
    raise ValueError(f"unknown platform {platform!r}; choose one of {sorted(PLATFORM_JOBS)}")


def instance() -> dg.DagsterInstance:
    """The instance under DAGSTER_HOME when set (runs show in `dagster dev`), else in memory.

    Use it as a context manager: an instance left open keeps run objects alive until exit.
    """
    if os.environ.get("DAGSTER_HOME"):
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


def _failure_text(error: Any) -> str:
    """A step's error as a user reads it: a `dg.Failure`'s description without its class path."""
    message = error.message.strip()
    if error.cls_name == "Failure":
        message = message.split(": ", 1)[-1]
    return message


def run_pull(
    platform: str,
    *,
    streams: list[str] | None = None,
    full_refresh: bool = False,
    backfill: tuple[str, str] | None = None,
    full_sweep: bool = False,
    on_stream: Callable[[StreamSummary], None] | None = None,
) -> list[StreamSummary]:
    """Execute the platform's pull job once (or only `streams` of it); return their metadata."""
    job = defs.resolve_job_def(PLATFORM_JOBS[platform])
    config = run_config(platform, full_refresh, backfill, full_sweep)
    config["loggers"] = {"console": {"config": {"log_level": "WARNING"}}}
    if streams:
        config["ops"] = {op: value for op, value in config["ops"].items() if op in streams}
    selection = [dg.AssetKey(name) for name in streams] if streams else None
    with instance() as run_instance:
        result = job.execute_in_process(
            run_config=config,
            instance=run_instance,
            raise_on_error=False,
            asset_selection=selection,
        )
    summaries = []
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        metadata = {key: value.value for key, value in materialization.metadata.items()}
        summary = StreamSummary(materialization.asset_key.to_user_string(), metadata)
        summaries.append(summary)
        if on_stream:
            on_stream(summary)
    if not result.success:
        failures = [
            _failure_text(event.event_specific_data.error)
            for event in result.all_events
            if event.is_step_failure and event.event_specific_data
        ]
        raise RuntimeError("; ".join(failures) or "the pull job failed")
    return summaries
