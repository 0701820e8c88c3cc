"""The team's resources. Its warehouse's key is `warehouse`, the most common name there is:
promosync's own resources use `promosync_warehouse`, `promosync_voucherify` and
`promosync_talon_one`, so both live side by side.
"""

import dagster as dg

from acme_analytics.defs.customer_tiers import AnalyticsWarehouse


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={"warehouse": AnalyticsWarehouse(url=dg.EnvVar("WAREHOUSE_URL"))}
    )
