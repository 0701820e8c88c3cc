"""`PromosyncComponent`: promosync in a Dagster project's `defs/` folder, from a `defs.yaml`.

    type: promosync.pipelines.component.PromosyncComponent
    attributes:
      platforms: [voucherify]
      key_prefix: promosync
      schedules: stopped

`dg scaffold defs promosync.pipelines.component.PromosyncComponent <name>` writes one; every
attribute is a `build_definitions` argument (README, "Use promosync in your own Dagster
project"). Registered for `dg` through the `dagster_dg_cli.registry_modules` entry point.
"""

from __future__ import annotations

from typing import Any, Literal

import dagster as dg
from promosync.pipelines.build import WAREHOUSE_POOL, build_definitions
from promosync.pipelines.wiring import ResourceKeys


class PromosyncResourceKeys(dg.Model):
    """The resource keys promosync's assets ask for."""

    warehouse: str = "promosync_warehouse"
    voucherify: str = "promosync_voucherify"
    talon_one: str = "promosync_talon_one"


# What `dg scaffold defs` writes: the usual choices spelled out, every other attribute defaulted.
SCAFFOLDED = {
    "platforms": ["voucherify", "talon_one"],
    "key_prefix": "promosync",
    "schedules": "stopped",
}


class PromosyncScaffolder(dg.Scaffolder):
    """Writes a `defs.yaml` with both platforms, the `promosync` key prefix, schedules off."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        dg.scaffold_component(request, SCAFFOLDED)


@dg.scaffold_with(PromosyncScaffolder)
class PromosyncComponent(dg.Component, dg.Model, dg.Resolvable):
    """promosync's pull and push assets, checks, jobs, schedules and resources: a SQL warehouse
    in two-way sync with Voucherify and Talon.One."""

    platforms: list[Literal["voucherify", "talon_one"]] | None = None  # None: both
    streams: list[str] | None = None  # stream names of those platforms; None: all
    warehouse_url: str | None = None  # None: WAREHOUSE_URL when a run starts
    key_prefix: str | list[str] | None = None
    group_names: dict[str, str] | None = None  # promosync's group: yours
    resource_keys: PromosyncResourceKeys = PromosyncResourceKeys()
    resources: bool = True  # False: your project provides the resources under those keys
    push: bool = True
    views: bool = True
    schedules: Literal["none", "stopped", "running"] = "stopped"
    warehouse_pool: str | None = WAREHOUSE_POOL
    budget: dict[str, Any] | None = None  # Voucherify's request budget, passed on when given

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return build_definitions(
            platforms=self.platforms,
            streams=self.streams,
            key_prefix=self.key_prefix,
            group_names=self.group_names,
            resource_keys=ResourceKeys(**self.resource_keys.model_dump()),
            resources=self.resources,
            warehouse_url=self.warehouse_url,
            budget=self.budget,
            push=self.push,
            views=self.views,
            schedules=self.schedules,
            warehouse_pool=self.warehouse_pool,
        )
