"""Dagster resources: the APIs and the warehouse, configured from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from promosync.connectors.database import display_url
from promosync.connectors.http import ApiClient
from promosync.connectors.voucherify.client import voucherify_client
from promosync.connectors.warehouse import Warehouse, warehouse_url


class VoucherifyResource(dg.ConfigurableResource):
    """Voucherify API: base URL, app-key pair and the request budget of the plan."""

    base_url: str
    app_id: str
    app_token: str
    requests_per_minute: int = 0  # 0: pace by the server's X-Rate-Limit headers alone

    def client(self) -> ApiClient:
        """A fresh client (its counters measure one asset's requests)."""
        return voucherify_client(
            self.base_url, self.app_id, self.app_token, self.requests_per_minute or None
        )


class WarehouseResource(dg.ConfigurableResource):
    """The SQL warehouse; an empty URL means `WAREHOUSE_URL` or the embedded DuckDB file."""

    url: str = ""
    # A URL whose database ends with the process (`duckdb:///`, `:memory:`) is refused unless
    # this (or PROMOSYNC_ALLOW_EPHEMERAL_WAREHOUSE=1) allows it, for an experiment.
    allow_ephemeral: bool = False

    @contextmanager
    def warehouse(self, create_tables: bool = True) -> Iterator[Warehouse]:
        """The warehouse, with every promosync table created unless told not to (the pull steps
        check what is missing first); its connections closed afterwards."""
        store = Warehouse(self.url or warehouse_url(), allow_ephemeral=self.allow_ephemeral or None)
        try:
            if create_tables:
                store.create_tables()
            yield store
        finally:
            store.dispose()

    def display_url(self) -> str:
        """The URL with any password masked, for logs and metadata."""
        return display_url(self.url or warehouse_url())


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources read from the environment when a run starts (never at import time)."""
    return {
        "voucherify": VoucherifyResource(
            base_url=dg.EnvVar("VOUCHERIFY_BASE_URL"),
            app_id=dg.EnvVar("VOUCHERIFY_APP_ID"),
            app_token=dg.EnvVar("VOUCHERIFY_APP_TOKEN"),
        ),
        "warehouse": WarehouseResource(),  # reads WAREHOUSE_URL when a run starts
    }
