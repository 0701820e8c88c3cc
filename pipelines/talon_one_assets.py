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
from promosync.connectors.warehouse import Warehouse
from promosync.pipelines.pull_step import pull_step
from promosync.pipelines.resources import WarehouseResource
from promosync.pipelines.voucherify_assets import KINDS, RETRY, backfill_window

GROUP = "talon_one"


class TalonOneResource(dg.ConfigurableResource):
    """Talon.One: base URL, Integration API key and, optionally, a Management API key."""

    base_url: str
    api_key: str
    management_key: str = ""  # empty: read TALON_ONE_MANAGEMENT_KEY when a run starts, if set
    requests_per_minute: int = 0  # Integration API budget; 0: the spec states none
    management_requests_per_second: float = MANAGEMENT_PER_SECOND  # per endpoint

    def client(self) -> TalonOne:
        """Fresh clients (their counters measure one asset's requests)."""
        management_key = self.management_key or dg.EnvVar("TALON_ONE_MANAGEMENT_KEY").get_value("")
        return talon_one_client(
            self.base_url,
            self.api_key,
            management_key or "",
            requests_per_minute=self.requests_per_minute or None,
            management_per_second=self.management_requests_per_second or None,
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


def _run(
    context: dg.AssetExecutionContext,
    stream: str,
    talon_one: TalonOneResource,
    warehouse: WarehouseResource,
    sync: Callable[[TalonOne, Warehouse], SyncReport],
    full_refresh: bool = False,
) -> dg.MaterializeResult:
    """Run one stream's sync in its pull step; a full refresh marks the rows it did not meet."""
    with pull_step(stream, warehouse, full_refresh=full_refresh) as step:
        report = sync(step.track(talon_one.client()), step.store)
        if full_refresh:
            report.deleted = step.mark_unseen_deleted()
        result = step.result(report)
    context.log.info(f"{report.stream}: {result.metadata}")
    return result


@dg.asset(group_name=GROUP, kinds=KINDS, retry_policy=RETRY)
def talon_one_loyalty_programs(
    context: dg.AssetExecutionContext, talon_one: TalonOneResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Talon.One loyalty programs, a snapshot (Management API)."""
    stream = "talon_one_loyalty_programs"
    return _run(context, stream, talon_one, warehouse, snapshots.sync_programs)


@dg.asset(group_name=GROUP, kinds=KINDS, retry_policy=RETRY)
def talon_one_customer_profiles(
    context: dg.AssetExecutionContext, talon_one: TalonOneResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Talon.One customer profiles with their attributes, a snapshot (Management API)."""
    stream = "talon_one_customer_profiles"
    return _run(context, stream, talon_one, warehouse, snapshots.sync_profiles)


@dg.asset(group_name=GROUP, kinds=KINDS, retry_policy=RETRY, deps=[talon_one_loyalty_programs])
def talon_one_loyalty_cards(
    context: dg.AssetExecutionContext, talon_one: TalonOneResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Talon.One loyalty cards with ledgers and linked profiles, a snapshot (Management API)."""
    stream = "talon_one_loyalty_cards"
    return _run(context, stream, talon_one, warehouse, snapshots.sync_cards)


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
    window = backfill_window(config)

    def sync(t1: TalonOne, store: Warehouse) -> SyncReport:
        return transactions.sync_transactions(
            t1,
            store,
            mode=config.mode,
            full_refresh=config.full_refresh,
            window=window,
            lag=timedelta(seconds=config.lag_seconds),
            concurrency=config.concurrency,
            source=config.source(),
            programs=config.programs(),
        )

    stream = "talon_one_loyalty_transactions"
    return _run(context, stream, talon_one, warehouse, sync, full_refresh=config.full_refresh)


@dg.asset(group_name=GROUP, kinds=KINDS, retry_policy=RETRY, deps=[talon_one_loyalty_transactions])
def talon_one_loyalty_balances(
    context: dg.AssetExecutionContext,
    config: FanOutSourceConfig,
    talon_one: TalonOneResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Today's Talon.One balance of every ledger and subledger, a dated snapshot."""

    def sync(t1: TalonOne, store: Warehouse) -> SyncReport:
        return balances.sync_balances(
            t1,
            store,
            mode=config.mode,
            concurrency=config.concurrency,
            source=config.source(),
            programs=config.programs(),
        )

    return _run(context, "talon_one_loyalty_balances", talon_one, warehouse, sync)


TALON_ONE_ASSETS = [
    talon_one_loyalty_programs,
    talon_one_customer_profiles,
    talon_one_loyalty_cards,
    talon_one_loyalty_transactions,
    talon_one_loyalty_balances,
]
