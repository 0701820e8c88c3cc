"""Run the pull jobs in-process through Dagster, as `promosync sync` does."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg

from pipelines.definitions import defs

PLATFORM_JOBS = {"voucherify": "voucherify_pull"}


@dataclass(frozen=True)
class StreamSummary:
    """One asset's materialization, as the CLI's closing table shows it."""

    stream: str
    metadata: dict[str, Any]


def run_config(
    platform: str, full_refresh: bool, backfill: tuple[str, str] | None, full_sweep: bool
) -> dict[str, Any]:
    """Run config of a platform's pull job for the CLI's options."""
    if platform != "voucherify":
        raise ValueError(f"unknown platform {platform!r}; choose one of {sorted(PLATFORM_JOBS)}")
    customers: dict[str, Any] = {"full_refresh": full_refresh}
    if backfill:
        customers["backfill_start"], customers["backfill_end"] = backfill
    fan_out = {"full_sweep": full_sweep or full_refresh}
    return {
        "ops": {
            "voucherify_customers": {"config": customers},
            "voucherify_customer_activities": {"config": fan_out},
            "voucherify_customer_segments": {"config": fan_out},
        }
    }


def instance() -> dg.DagsterInstance:
    """The instance under DAGSTER_HOME when set (runs show in `dagster dev`), else in memory.

    Use it as a context manager: an instance left open keeps run objects alive until exit.
    """
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def run_pull(
    platform: str,
    *,
    full_refresh: bool = False,
    backfill: tuple[str, str] | None = None,
    full_sweep: bool = False,
    on_stream: Callable[[StreamSummary], None] | None = None,
) -> list[StreamSummary]:
    """Execute the platform's pull job once; return each stream's metadata."""
    job = defs.resolve_job_def(PLATFORM_JOBS[platform])
    config = run_config(platform, full_refresh, backfill, full_sweep)
    config["loggers"] = {"console": {"config": {"log_level": "WARNING"}}}
    with instance() as run_instance:
        result = job.execute_in_process(
            run_config=config, instance=run_instance, raise_on_error=False
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
            event.event_specific_data.error.message.strip()
            for event in result.all_events
            if event.is_step_failure and event.event_specific_data
        ]
        raise RuntimeError("; ".join(failures) or "the pull job failed")
    return summaries
