"""Analyst views asset (group `analytics`): the sql/views files over both platforms' raw tables.

No `from __future__ import annotations` here: Dagster reads the annotations of asset functions.
"""

import dagster as dg
from promosync.connectors import catalog
from promosync.connectors.views import count_rows, create_views
from promosync.pipelines.resources import WarehouseResource
from promosync.pipelines.wiring import STANDALONE, Wiring

RAW_TABLES = [stream.name for stream in catalog.STREAMS]  # the views read them


def views_asset(
    wiring: Wiring = STANDALONE, tables: list[str] | None = None
) -> dg.AssetsDefinition:
    """The analyst views asset, downstream of `tables` (every raw table by default)."""

    @dg.asset(
        key=wiring.key("analyst_views"),
        group_name=wiring.group("analytics"),
        kinds={"sql"},
        deps=[wiring.key(table) for table in (RAW_TABLES if tables is None else tables)],
        required_resource_keys={wiring.warehouse},
        pool=wiring.pool,
    )
    def analyst_views(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        """Analyst views over both platforms: customer_360, loyalty_ledger, activity, balances."""
        warehouse: WarehouseResource = getattr(context.resources, wiring.warehouse)
        with warehouse.warehouse() as store:
            counts = count_rows(store, create_views(store))
        context.log.info(f"analyst_views: {counts}")
        metadata = {f"{view}_rows": rows for view, rows in counts.items()}
        return dg.MaterializeResult(metadata=metadata)

    return analyst_views


analyst_views = views_asset()
VIEW_ASSETS = [analyst_views]
