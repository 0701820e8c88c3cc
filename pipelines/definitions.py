"""The single Dagster `Definitions` of promosync."""

from __future__ import annotations

import dagster as dg
from promosync.pipelines.checks import ASSET_CHECKS
from promosync.pipelines.push_assets import PUSH_ASSETS, PUSH_JOBS, PUSH_SENSORS
from promosync.pipelines.resources import default_resources
from promosync.pipelines.schedules import EXTRA_JOBS, SCHEDULES, SENSORS
from promosync.pipelines.stream_assets import PULL_ASSETS
from promosync.pipelines.talon_one_assets import talon_one_resources
from promosync.pipelines.views_assets import VIEW_ASSETS

voucherify_pull = dg.define_asset_job(
    "voucherify_pull",
    selection=dg.AssetSelection.groups("voucherify").without_checks(),
    description="Pull every Voucherify stream into the warehouse (incremental by default).",
)

talon_one_pull = dg.define_asset_job(
    "talon_one_pull",
    selection=dg.AssetSelection.groups("talon_one").without_checks(),
    description="Pull every Talon.One stream into the warehouse (incremental by default).",
)

voucherify_reconcile = dg.define_asset_job(
    "voucherify_reconcile",
    selection=dg.AssetSelection.assets("voucherify_customers").without_checks(),
    config={"ops": {"voucherify_customers": {"config": {"reconcile": True}}}},
    description="Read every Voucherify customer id and mark the ones gone with _deleted_at.",
)

# The embedded DuckDB warehouse takes one writer process at a time, so a run's steps share one
# process; with a PostgreSQL warehouse, `dg.multiprocess_executor` may run them in parallel
# (docs/PRODUCTION.md).
defs = dg.Definitions(
    assets=[*PULL_ASSETS, *PUSH_ASSETS, *VIEW_ASSETS],
    asset_checks=ASSET_CHECKS,
    jobs=[voucherify_pull, talon_one_pull, voucherify_reconcile, *PUSH_JOBS, *EXTRA_JOBS],
    schedules=SCHEDULES,
    sensors=[*PUSH_SENSORS, *SENSORS],
    resources={**default_resources(), **talon_one_resources()},
    executor=dg.in_process_executor,
)
