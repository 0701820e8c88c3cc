"""The single Dagster `Definitions` of promosync."""

from __future__ import annotations

import dagster as dg

from pipelines.push_assets import PUSH_ASSETS, PUSH_JOBS, PUSH_SENSORS
from pipelines.resources import default_resources
from pipelines.talon_one_assets import TALON_ONE_ASSETS, talon_one_resources
from pipelines.views_assets import VIEW_ASSETS
from pipelines.voucherify_assets import VOUCHERIFY_ASSETS

voucherify_pull = dg.define_asset_job(
    "voucherify_pull",
    selection=dg.AssetSelection.groups("voucherify"),
    description="Pull every Voucherify stream into the warehouse (incremental by default).",
)

talon_one_pull = dg.define_asset_job(
    "talon_one_pull",
    selection=dg.AssetSelection.groups("talon_one"),
    description="Pull every Talon.One stream into the warehouse (incremental by default).",
)

voucherify_reconcile = dg.define_asset_job(
    "voucherify_reconcile",
    selection=dg.AssetSelection.assets("voucherify_customers"),
    config={"ops": {"voucherify_customers": {"config": {"reconcile": True}}}},
    description="Read every Voucherify customer id and mark the ones gone with _deleted_at.",
)

voucherify_hourly = dg.ScheduleDefinition(
    name="voucherify_pull_hourly",
    job=voucherify_pull,
    cron_schedule="7 * * * *",
    description="Incremental Voucherify pull, hourly at :07. Off until you turn it on.",
)

talon_one_hourly = dg.ScheduleDefinition(
    name="talon_one_pull_hourly",
    job=talon_one_pull,
    cron_schedule="17 * * * *",
    description="Incremental Talon.One pull, hourly at :17. Off until you turn it on.",
)

voucherify_nightly_reconcile = dg.ScheduleDefinition(
    name="voucherify_reconcile_nightly",
    job=voucherify_reconcile,
    cron_schedule="30 3 * * *",
    description="Mark deleted Voucherify customers, nightly at 03:30. Off until you turn it on.",
)

defs = dg.Definitions(
    assets=[*VOUCHERIFY_ASSETS, *TALON_ONE_ASSETS, *PUSH_ASSETS, *VIEW_ASSETS],
    jobs=[voucherify_pull, talon_one_pull, voucherify_reconcile, *PUSH_JOBS],
    schedules=[voucherify_hourly, talon_one_hourly, voucherify_nightly_reconcile],
    sensors=PUSH_SENSORS,
    resources={**default_resources(), **talon_one_resources()},
)
