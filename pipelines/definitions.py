"""The single Dagster `Definitions` of the standalone promosync project (`make ui`, `promosync
sync`): plain asset keys, the resource keys `warehouse`, `voucherify`, `talon_one`, and the
in-process executor. A user's own project uses `promosync.build_definitions` instead.
"""

from __future__ import annotations

import dagster as dg
from promosync.connectors import catalog
from promosync.pipelines.build import assemble
from promosync.pipelines.checks import ASSET_CHECKS
from promosync.pipelines.push_assets import STANDALONE_PUSH
from promosync.pipelines.resources import default_resources
from promosync.pipelines.talon_one_assets import TALON_ONE_ASSETS, talon_one_resources
from promosync.pipelines.views_assets import VIEW_ASSETS
from promosync.pipelines.voucherify_assets import VOUCHERIFY_ASSETS
from promosync.pipelines.wiring import STANDALONE

PULLED = {"voucherify": VOUCHERIFY_ASSETS, "talon_one": TALON_ONE_ASSETS}
PARTS = assemble(
    PULLED, catalog.STREAMS, ASSET_CHECKS, STANDALONE_PUSH, VIEW_ASSETS, STANDALONE,
    watch_every_job=True,
)  # fmt: skip

voucherify_pull = PARTS.jobs.pull["voucherify"]
talon_one_pull = PARTS.jobs.pull["talon_one"]
voucherify_reconcile = PARTS.jobs.reconcile
voucherify_full_sweep = PARTS.jobs.full_sweep
promosync_checks = PARTS.jobs.checks
EXTRA_JOBS = [voucherify_full_sweep, promosync_checks]
SCHEDULES = PARTS.schedules
SENSORS = [sensor for sensor in PARTS.sensors if sensor not in STANDALONE_PUSH.sensors]
(promosync_run_failures,) = SENSORS

# The embedded DuckDB warehouse takes one writer process at a time, so a run's steps share one
# process; with a PostgreSQL warehouse, `dg.multiprocess_executor` may run them in parallel
# (docs/PRODUCTION.md).
defs = dg.Definitions(
    assets=PARTS.assets,
    asset_checks=PARTS.checks,
    jobs=PARTS.jobs.all(),
    schedules=PARTS.schedules,
    sensors=PARTS.sensors,
    resources={**default_resources(), **talon_one_resources()},
    executor=dg.in_process_executor,
)
