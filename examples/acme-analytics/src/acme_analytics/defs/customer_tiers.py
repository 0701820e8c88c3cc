"""The team's own warehouse resource and an asset of its own, downstream of promosync's table."""

import dagster as dg
import sqlalchemy as sa


class AnalyticsWarehouse(dg.ConfigurableResource):
    """The team's warehouse, the one promosync writes into (WAREHOUSE_URL)."""

    url: str

    def count(self, sql: str) -> int:
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                return int(conn.exec_driver_sql(sql).scalar_one())
        finally:
            engine.dispose()


@dg.asset(
    deps=[dg.AssetKey(["promosync", "voucherify_customers"])],
    group_name="marketing",
    kinds={"sql"},
    pool="promosync_warehouse",  # an embedded DuckDB file takes one process at a time
)
def customers_with_email(warehouse: AnalyticsWarehouse) -> dg.MaterializeResult:
    """Live Voucherify customers that have an email address."""
    rows = warehouse.count(
        "SELECT count(*) FROM voucherify_customers WHERE _deleted_at IS NULL AND email IS NOT NULL"
    )
    return dg.MaterializeResult(metadata={"rows": rows})
