"""Analyst views asset (group `analytics`): the sql/views files over both platforms' raw tables.

No `from __future__ import annotations` here: Dagster reads the annotations of asset functions.
"""

import dagster as dg
from promosync.connectors.views import count_rows, create_views
from promosync.pipelines.resources import WarehouseResource

RAW_TABLES = [
    "voucherify_customers",
    "voucherify_customer_activities",
    "voucherify_customer_segments",
    "voucherify_loyalty_transactions",
    "talon_one_customer_profiles",
    "talon_one_loyalty_transactions",
    "talon_one_loyalty_balances",
    "talon_one_loyalty_cards",
]


@dg.asset(group_name="analytics", kinds={"sql"}, deps=RAW_TABLES)
def analyst_views(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Analyst views over both platforms: customer_360, loyalty_ledger, activity and balances."""
    with warehouse.warehouse() as store:
        counts = count_rows(store, create_views(store))
    context.log.info(f"analyst_views: {counts}")
    return dg.MaterializeResult(metadata={f"{view}_rows": rows for view, rows in counts.items()})


VIEW_ASSETS = [analyst_views]
