"""The single Dagster `Definitions` of promosync."""

from __future__ import annotations

import dagster as dg

from pipelines.resources import default_resources
from pipelines.voucherify_assets import VOUCHERIFY_ASSETS

voucherify_pull = dg.define_asset_job(
    "voucherify_pull",
    selection=dg.AssetSelection.groups("voucherify"),
    description="Pull every Voucherify stream into the warehouse (incremental by default).",
)

voucherify_hourly = dg.ScheduleDefinition(
    name="voucherify_pull_hourly",
    job=voucherify_pull,
    cron_schedule="7 * * * *",
    description="Incremental Voucherify pull, hourly at :07. Off until you turn it on.",
)

defs = dg.Definitions(
    assets=VOUCHERIFY_ASSETS,
    jobs=[voucherify_pull],
    schedules=[voucherify_hourly],
    resources=default_resources(),
)
