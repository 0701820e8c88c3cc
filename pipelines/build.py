"""`build_definitions`: promosync's Dagster definitions with a user's choices, to merge into the
user's own project (`dg.Definitions.merge`, or a `defs/` folder through `PromosyncComponent`).

What it never does: impose an executor, take a resource key a user is likely to use
(`warehouse`), name a job by a string, or select by group or "all checks" (which would catch a
user's own assets and checks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
from promosync.connectors import catalog
from promosync.connectors.stream import Stream
from promosync.pipelines.checks import pull_checks, push_checks
from promosync.pipelines.jobs import Jobs, pull_jobs
from promosync.pipelines.push_assets import Push, push_definitions
from promosync.pipelines.resources import WarehouseResource, voucherify_resource
from promosync.pipelines.schedules import failure_sensor, schedules
from promosync.pipelines.stream_assets import pull_assets
from promosync.pipelines.talon_one_assets import talon_one_resource
from promosync.pipelines.views_assets import views_asset
from promosync.pipelines.wiring import PromosyncTranslator, ResourceKeys, Wiring

WAREHOUSE_POOL = "promosync_warehouse"
SCHEDULE_CHOICES = ("none", "stopped", "running")


@dataclass
class Parts:
    """Everything one build made, before it becomes a `Definitions`."""

    assets: list[dg.AssetsDefinition | dg.AssetSpec]
    checks: list[dg.AssetChecksDefinition]
    jobs: Jobs
    schedules: list[dg.ScheduleDefinition]
    sensors: list[dg.SensorDefinition]


def chosen_streams(
    platforms: Iterable[str] | None = None, streams: Iterable[str] | None = None
) -> list[Stream]:
    """The declared streams of `platforms` (both by default), only `streams` if named (with the
    streams they depend on); ValueError naming the choices for an unknown name."""
    platforms = list(catalog.PLATFORMS if platforms is None else platforms)
    unknown = [p for p in platforms if p not in catalog.PLATFORMS]
    if unknown:
        raise ValueError(f"unknown platform {unknown[0]!r}; choose from {list(catalog.PLATFORMS)}")
    candidates = [s for s in catalog.STREAMS if s.platform in platforms]
    if streams is None:
        return candidates
    by_name = {stream.name: stream for stream in candidates}
    wanted = list(streams)
    for name in wanted:
        if name not in by_name:
            raise ValueError(
                f"unknown stream {name!r} for platforms {platforms}; choose from {sorted(by_name)}"
            )
        wanted.extend(d for d in by_name[name].depends_on if d not in wanted)
    return [stream for stream in candidates if stream.name in wanted]


def assemble(
    pulled: dict[str, list[dg.AssetsDefinition]],
    streams: Iterable[Stream],
    checks: list[dg.AssetChecksDefinition],
    push: Push,
    views: list[dg.AssetsDefinition],
    wiring: Wiring,
    schedule_status: str = "stopped",
    watch_every_job: bool = False,
) -> Parts:
    """Jobs, schedules and sensors over already built assets and checks (one object per job, so
    every schedule and sensor names the very job the definitions hold); `pulled` holds each
    platform's pull assets, built from the declarations `streams`. The run-failure sensor
    watches promosync's jobs, or every job of the code location (`watch_every_job`: the
    standalone project, where a materialization from the UI runs an implicit job)."""
    if schedule_status not in SCHEDULE_CHOICES:
        raise ValueError(f"schedules: {schedule_status!r}; choose from {list(SCHEDULE_CHOICES)}")
    jobs = pull_jobs(pulled, streams, checks, wiring)
    jobs.push = dict(push.job_of)
    made_schedules, sensors = [], []
    if schedule_status != "none":
        running = schedule_status == "running"
        made_schedules = schedules(jobs, wiring, running)
        watched = None if watch_every_job else jobs.all()
        sensors = [*push.sensors, failure_sensor(watched, wiring, running)]
    assets = [asset for platform_assets in pulled.values() for asset in platform_assets]
    return Parts([*assets, *push.assets, *views], checks, jobs, made_schedules, sensors)


def promosync_resources(
    keys: ResourceKeys,
    platforms: Iterable[str],
    warehouse_url: str | None = None,
    budget: Mapping[str, Any] | None = None,
) -> dict[str, dg.ConfigurableResource]:
    """The resources under `keys`, read from the environment when a run starts (never at import
    time); `warehouse_url` instead of WAREHOUSE_URL if given; `budget` (Voucherify's request
    budget) passed to the Voucherify resource only when given."""
    resources: dict[str, dg.ConfigurableResource] = {
        keys.warehouse: WarehouseResource(url=warehouse_url or "")
    }
    if "voucherify" in platforms:
        resources[keys.voucherify] = voucherify_resource(
            **({"budget": dict(budget)} if budget else {})
        )
    if "talon_one" in platforms:
        resources[keys.talon_one] = talon_one_resource()
    return resources


def build_definitions(
    *,
    platforms: Iterable[str] | None = None,
    streams: Iterable[str] | None = None,
    key_prefix: str | Sequence[str] | None = None,
    group_names: Mapping[str, str] | None = None,
    translator: PromosyncTranslator | None = None,
    resource_keys: ResourceKeys | None = None,
    resources: bool = True,
    warehouse_url: str | None = None,
    budget: Mapping[str, Any] | None = None,
    push: bool = True,
    views: bool = True,
    schedules: str = "stopped",
    warehouse_pool: str | None = WAREHOUSE_POOL,
) -> dg.Definitions:
    """promosync's assets, checks, jobs, schedules, sensors and resources, to merge into a
    user's project.

    - `platforms` ("voucherify", "talon_one"; both by default) and `streams` (stream names of
      those platforms; all by default; a stream brings the streams it depends on).
    - `key_prefix` goes before every asset key (dependencies and checks follow it) and, joined
      by `_`, before every job, schedule and sensor name; `group_names` renames promosync's
      groups (`voucherify`, `talon_one`, `push`, `push_inputs`, `analytics`); `translator` (a
      `PromosyncTranslator` subclass) renames keys, groups and jobs any other way.
    - `resource_keys`: the keys promosync's assets ask for, `promosync_warehouse`,
      `promosync_voucherify`, `promosync_talon_one` by default; `resources=False` leaves them to
      the user, else they are read from the environment when a run starts (`warehouse_url`
      instead of WAREHOUSE_URL if given; `budget`, Voucherify's request budget, if given).
    - `push`, `views`: the push assets and jobs, the analyst views (both on by default).
    - `schedules`: "stopped" (defined, off until turned on; the default), "running", or "none".
    - `warehouse_pool`: the concurrency pool of every step that uses the warehouse; give it a
      limit of 1 in the instance for an embedded DuckDB file (one writer at a time), leave it
      unlimited (or pass None) for PostgreSQL. No executor is set: the project's own applies.
    """
    if translator is not None and (key_prefix is not None or group_names is not None):
        raise ValueError("give key_prefix and group_names, or a translator holding them; not both")
    wiring = Wiring(
        translator=translator or PromosyncTranslator(key_prefix, group_names),
        resource_keys=resource_keys or ResourceKeys(),
        pool=warehouse_pool,
    )
    chosen = chosen_streams(platforms, streams)
    platforms_used = [p for p in catalog.PLATFORMS if any(s.platform == p for s in chosen)]
    pushed = push_definitions(platforms_used if push else [], wiring)
    checks = pull_checks(chosen, wiring)
    if push and "voucherify" in platforms_used:
        checks += push_checks(wiring)
    view_assets = [views_asset(wiring, [s.name for s in chosen])] if views else []
    pulled = {p: pull_assets(s, wiring) for p, s in catalog.by_platform(chosen).items() if s}
    parts = assemble(pulled, chosen, checks, pushed, view_assets, wiring, schedules)
    return dg.Definitions(
        assets=parts.assets,
        asset_checks=parts.checks,
        jobs=parts.jobs.all(),
        schedules=parts.schedules,
        sensors=parts.sensors,
        resources=(
            promosync_resources(wiring.resource_keys, platforms_used, warehouse_url, budget)
            if resources
            else None
        ),
    )
