"""Dagster resources: the APIs and the warehouse, configured from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from promosync.connectors import config
from promosync.connectors.budget import BudgetSettings
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


class BudgetConfig(dg.Config):
    """Voucherify's request budget per billing cycle (connectors/budget.py); each field left
    unset takes its PROMOSYNC_VOUCHERIFY_* variable, else the default."""

    plan: str | None = None  # business, organization, sandbox, unlimited; empty: the numbers
    requests_per_cycle: int | None = None  # over the plan's; 0 with no plan: no cycle quota
    requests_per_hour: int | None = None  # over the plan's (a Sandbox project: 100)
    share: float | None = None  # of each cycle, for routine runs (default 0.2)
    first_load_share: float | None = None  # of a cycle, for a first load or backfill (0.5)
    cycle_start_day: int | None = None  # day of the month (1 to 28) a cycle starts (1)
    runs_per_cycle: int | None = None  # scheduled runs sharing a cycle (720: hourly)
    cycle_seconds: float | None = None  # a compressed cycle's length (tests, benchmarks)
    cycle_start: str | None = None  # the instant compressed cycles count from
    sweep_days: float | None = None  # every customer's activity re-verified within (7)


class VoucherifyResource(dg.ConfigurableResource):
    """Voucherify API: base URL, app-key pair, the request budget of the plan, request limits."""

    base_url: str
    app_id: str
    app_token: str
    # 0: PROMOSYNC_VOUCHERIFY_REQUESTS_PER_MINUTE, else pace by the server's X-Rate-Limit headers
    requests_per_minute: int = 0
    http: HttpConfig = HttpConfig()
    budget: BudgetConfig = BudgetConfig()

    def client(self) -> ApiClient:
        """A fresh client (its counters measure one asset's requests), built as the CLI's is."""
        return self.settings().client()

    def settings(self) -> config.VoucherifySettings:
        """This resource's fields over the environment's (connectors/config.py)."""
        return config.voucherify(
            base_url=self.base_url, app_id=self.app_id, app_token=self.app_token,
            requests_per_minute=self.requests_per_minute, http=self.http.model_dump(),
            budget=self.budget.model_dump(),
        )  # fmt: skip

    def budget_settings(self) -> BudgetSettings:
        """The request budget the pull steps keep (through the request ledger)."""
        return self.settings().budget

    def account(self) -> str:
        """The request ledger's name of this project: API host and app id, never the token."""
        return self.settings().account()


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
