"""Talon.One pull assets: one per stream, in group `talon_one`.

No `from __future__ import annotations` here: Dagster reads the annotations of asset functions.
"""

from collections.abc import Callable
from datetime import timedelta

import dagster as dg
from promosync.connectors.report import SyncReport
from promosync.connectors.talon_one import balances, snapshots, transactions
from promosync.connectors.talon_one.client import MANAGEMENT_PER_SECOND, TalonOne, talon_one_client
from promosync.connectors.talon_one.entities import EntitySource
from promosync.pipelines.resources import HttpConfig, WarehouseResource
from promosync.pipelines.voucherify_assets import (
    KINDS,
    RETRY,
    backfill_window,
    fatal_errors,
    report_metadata,
)

GROUP = "talon_one"


class TalonOneResource(dg.ConfigurableResource):
    """Talon.One: base URL, Integration API key, optionally a Management API key; limits."""

    base_url: str
    api_key: str
    management_key: str = ""  # empty: read TALON_ONE_MANAGEMENT_KEY when a run starts, if set
    requests_per_minute: int = 0  # Integration API budget; 0: the spec states none
    management_requests_per_second: float = MANAGEMENT_PER_SECOND  # per endpoint
    http: HttpConfig = HttpConfig()

    def client(self) -> TalonOne:
        """Fresh clients (their counters measure one asset's requests)."""
        management_key = self.management_key or dg.EnvVar("TALON_ONE_MANAGEMENT_KEY").get_value("")
        return talon_one_client(
            self.base_url,
            self.api_key,
            management_key or "",
            requests_per_minute=self.requests_per_minute or None,
            management_per_second=self.management_requests_per_second or None,
            settings=self.http.settings(),
        )


def talon_one_resources() -> dict[str, dg.ConfigurableResource]:
    """The Talon.One resource read from the environment when a run starts."""
    return {
        "talon_one": TalonOneResource(
            base_url=dg.EnvVar("TALON_ONE_BASE_URL"), api_key=dg.EnvVar("TALON_ONE_API_KEY")
        )
    }


class FanOutSourceConfig(dg.Config):
    """Which path to take, and what to visit when no Management key lists the entities."""

    mode: str = "auto"  # auto (fewest requests the keys allow); transactions: program|entity,
    # balances: export|entity
    concurrency: int = 8
    profiles_table: str = "voucherify_customers"
    profiles_column: str = "source_id"
    cards_table: str = "talon_one_loyalty_cards"
    cards_column: str = "identifier"
    profile_program_ids: list[int] = []  # the programs, when no Management key can list them
    card_program_ids: list[int] = []

    def programs(self) -> dict[int, bool] | None:
        """Configured programs (id -> card-based), or None to find them."""
        configured = {i: False for i in self.profile_program_ids}
        return {**configured, **{i: True for i in self.card_program_ids}} or None

    def source(self) -> EntitySource:
        """The warehouse columns listing profiles and cards."""
        return EntitySource(
            (self.profiles_table, self.profiles_column), (self.cards_table, self.cards_column)
        )


class TransactionsConfig(FanOutSourceConfig):
    """Transactions: incremental (default), full refresh, or a backfill window."""

    full_refresh: bool = False
    backfill_start: str | None = None  # ISO instant; with backfill_end, re-read that window only
    backfill_end: str | None = None
    lag_seconds: float = transactions.DEFAULT_LAG.total_seconds()  # late-commit margin


def _run(context: dg.AssetExecutionContext, sync: Callable[[], SyncReport]) -> dg.MaterializeResult:
    """Run one stream's sync; bad config, keys or requests fail at once, without retries."""
    with fatal_errors():
        report = sync()
    metadata = report_metadata(report)
    context.log.info(f"{report.stream}: {metadata}")
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(group_name=GROUP, kinds=KINDS, retry_policy=RETRY)
def talon_one_loyalty_programs(
    context: dg.AssetExecutionContext, talon_one: TalonOneResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Talon.One loyalty programs, a snapshot (Management API)."""
    with warehouse.warehouse() as store:
        return _run(context, lambda: snapshots.sync_programs(talon_one.client(), store))


@dg.asset(group_name=GROUP, kinds=KINDS, retry_policy=RETRY)
def talon_one_customer_profiles(
    context: dg.AssetExecutionContext, talon_one: TalonOneResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Talon.One customer profiles with their attributes, a snapshot (Management API)."""
    with warehouse.warehouse() as store:
        return _run(context, lambda: snapshots.sync_profiles(talon_one.client(), store))


@dg.asset(group_name=GROUP, kinds=KINDS, retry_policy=RETRY, deps=[talon_one_loyalty_programs])
def talon_one_loyalty_cards(
    context: dg.AssetExecutionContext, talon_one: TalonOneResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Talon.One loyalty cards with ledgers and linked profiles, a snapshot (Management API)."""
    with warehouse.warehouse() as store:
        return _run(context, lambda: snapshots.sync_cards(talon_one.client(), store))


@dg.asset(
    group_name=GROUP,
    kinds=KINDS,
    retry_policy=RETRY,
    deps=[talon_one_loyalty_programs, talon_one_loyalty_cards, talon_one_customer_profiles],
)
def talon_one_loyalty_transactions(
    context: dg.AssetExecutionContext,
    config: TransactionsConfig,
    talon_one: TalonOneResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Talon.One loyalty transactions in closed date windows, by program or per-ledger cursor."""
    with warehouse.warehouse() as store:
        return _run(
            context,
            lambda: transactions.sync_transactions(
                talon_one.client(),
                store,
                mode=config.mode,
                full_refresh=config.full_refresh,
                window=backfill_window(config),
                lag=timedelta(seconds=config.lag_seconds),
                concurrency=config.concurrency,
                source=config.source(),
                programs=config.programs(),
            ),
        )


@dg.asset(group_name=GROUP, kinds=KINDS, retry_policy=RETRY, deps=[talon_one_loyalty_transactions])
def talon_one_loyalty_balances(
    context: dg.AssetExecutionContext,
    config: FanOutSourceConfig,
    talon_one: TalonOneResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Today's Talon.One balance of every ledger and subledger, a dated snapshot."""
    with warehouse.warehouse() as store:
        return _run(
            context,
            lambda: balances.sync_balances(
                talon_one.client(),
                store,
                mode=config.mode,
                concurrency=config.concurrency,
                source=config.source(),
                programs=config.programs(),
            ),
        )


TALON_ONE_ASSETS = [
    talon_one_loyalty_programs,
    talon_one_customer_profiles,
    talon_one_loyalty_cards,
    talon_one_loyalty_transactions,
    talon_one_loyalty_balances,
]
