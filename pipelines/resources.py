"""Dagster resources: the APIs and the warehouse, configured from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from promosync.connectors import config
from promosync.connectors.database import display_url
from promosync.connectors.http import ApiClient, HttpSettings
from promosync.connectors.warehouse import Warehouse, warehouse_url


class HttpConfig(dg.Config):
    """Limits of each request; 0 takes its PROMOSYNC_HTTP_* variable, else the default."""

    connect_timeout: float = 0.0  # seconds
    read_timeout: float = 0.0  # seconds of silence while waiting for the next bytes
    total_timeout: float = 0.0  # seconds from sending a request to its answer's last byte
    max_response_bytes: int = 0  # body size as it arrives
    max_decompressed_bytes: int = 0  # body size once inflated (gzip, deflate)

    def settings(self) -> HttpSettings:
        """These limits over the environment's and the defaults."""
        return config.http_settings(**self.model_dump())


class VoucherifyResource(dg.ConfigurableResource):
    """Voucherify API: base URL, app-key pair, the request budget of the plan, request limits."""

    base_url: str
    app_id: str
    app_token: str
    # 0: PROMOSYNC_VOUCHERIFY_REQUESTS_PER_MINUTE, else pace by the server's X-Rate-Limit headers
    requests_per_minute: int = 0
    http: HttpConfig = HttpConfig()

    def client(self) -> ApiClient:
        """A fresh client (its counters measure one asset's requests), built as the CLI's is."""
        return config.voucherify(
            base_url=self.base_url, app_id=self.app_id, app_token=self.app_token,
            requests_per_minute=self.requests_per_minute, http=self.http.model_dump(),
        ).client()  # fmt: skip


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


def voucherify_resource(**fields: object) -> VoucherifyResource:
    """The Voucherify resource on its variables, read when a run starts (never at import time)."""
    base_url, app_id, app_token = map(dg.EnvVar, config.REQUIRED["voucherify"])
    return VoucherifyResource(base_url=base_url, app_id=app_id, app_token=app_token, **fields)


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources read from the environment when a run starts (never at import time)."""
    return {
        "voucherify": voucherify_resource(),
        "warehouse": WarehouseResource(),  # reads WAREHOUSE_URL when a run starts
    }
