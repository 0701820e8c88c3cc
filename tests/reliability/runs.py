"""The runs a kill trial interrupts, each in a process of its own that SIGKILL can stop anywhere.

Processes come from a fork server that imported promosync once (`preloaded_context`), so a trial
starts its run in milliseconds instead of paying a second of imports. The same functions, called
in the test's own process, are the reruns that must finish the job.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
from datetime import timedelta
from typing import Any

from promosync.connectors.budget import BudgetSettings
from promosync.connectors.http import ApiClient, BudgetSpent
from promosync.connectors.spending import Spending, account_of, new_run_id
from promosync.connectors.talon_one import balances, snapshots, transactions
from promosync.connectors.talon_one import push as talon_one_push
from promosync.connectors.talon_one.client import TalonOne, talon_one_client
from promosync.connectors.voucherify import push as voucherify_push
from promosync.connectors.voucherify import sync as voucherify_sync
from promosync.connectors.voucherify.client import voucherify_client
from promosync.connectors.warehouse import Warehouse
from promosync.sandbox.settings import SandboxSettings

KEYS = SandboxSettings()  # the sandbox's default credentials (the tests never change them)
RETRY_WAIT = 0.05  # seconds between retries at most: injected faults need no real back-off
VOUCHERIFY_OPERATIONS = ("metadata", "customers", "csv_import")
BUDGET = BudgetSettings(plan="organization")


def ready() -> None:
    """Nothing: starting it makes the fork server import promosync before a run is timed."""


def voucherify(base_url: str) -> ApiClient:
    """A Voucherify client on the sandbox that retries without real back-off."""
    client = voucherify_client(base_url, KEYS.voucherify_app_id, KEYS.voucherify_app_token)
    client.max_wait = RETRY_WAIT
    return client


def talon_one(base_url: str) -> TalonOne:
    """Talon.One clients (both keys, unpaced) that retry without real back-off."""
    t1 = talon_one_client(
        base_url, KEYS.talon_one_api_key, KEYS.talon_one_management_key, management_per_second=None
    )
    for client in (t1.integration, t1.management):
        client.max_wait = RETRY_WAIT
    return t1


def pull_voucherify(base_url: str, warehouse_url: str) -> None:
    """All four Voucherify streams, as a scheduled pull runs them."""
    client = voucherify(base_url)
    warehouse = Warehouse(warehouse_url)
    voucherify_sync.sync_customers(client, warehouse)
    voucherify_sync.sync_activities(client, warehouse, concurrency=16)
    voucherify_sync.sync_segments(client, warehouse, concurrency=16)
    voucherify_sync.sync_loyalty_transactions(client, warehouse)
    warehouse.dispose()


def pull_voucherify_budgeted(base_url: str, warehouse_url: str) -> None:
    """The Voucherify streams (a full sweep: every customer visited), every request reserved in
    the request ledger first (one run id per process, as one Dagster run)."""
    client = voucherify(base_url)
    warehouse = Warehouse(warehouse_url)
    run_id = new_run_id()
    sweep = {"full_sweep": True}
    for stream, sync, options in (
        ("voucherify_customers", voucherify_sync.sync_customers, {}),
        ("voucherify_customer_activities", voucherify_sync.sync_activities, sweep),
        ("voucherify_customer_segments", voucherify_sync.sync_segments, sweep),
    ):
        spending = Spending(warehouse, BUDGET, account_of(base_url, KEYS.voucherify_app_id), stream,
                            run_id)  # fmt: skip
        client.spending = spending
        sync(client, warehouse, **options)
        spending.settle(final=True)
    warehouse.dispose()


def talon_one_snapshots_paced(base_url: str, warehouse_url: str, answers: Any) -> None:
    """Every Talon.One stream with the Management API at its documented pace (3 a second per
    endpoint), as a user's scheduled run sends them; puts the requests and 429s in `answers`."""
    t1 = talon_one_client(base_url, KEYS.talon_one_api_key, KEYS.talon_one_management_key)
    warehouse = Warehouse(warehouse_url)
    sync_talon_one(t1, warehouse)
    answers.put((t1.counters.requests, t1.counters.rate_limited))
    warehouse.dispose()


def spend_budget(warehouse_url: str, run_id: str) -> None:
    """Reserve requests of one account until its share of the cycle is spent, then settle."""
    warehouse = Warehouse(warehouse_url)
    settings = BudgetSettings(requests_per_cycle=1000, share=0.5, runs_per_cycle=1)
    spending = Spending(warehouse, settings, "api.example.com/app", "s", run_id)
    try:
        while True:
            spending.spend_one()
    except BudgetSpent:
        spending.settle(final=True)
    warehouse.dispose()


def pull_talon_one(base_url: str, warehouse_url: str) -> None:
    """Programs, profiles, cards, transactions (program-wide, small pages) and balances."""
    warehouse = Warehouse(warehouse_url)
    sync_talon_one(talon_one(base_url), warehouse)
    warehouse.dispose()


def sync_talon_one(t1: TalonOne, warehouse: Warehouse) -> None:
    """Every Talon.One stream once, transactions without the lag (nothing arrives late here)."""
    for sync in (snapshots.sync_programs, snapshots.sync_profiles, snapshots.sync_cards):
        sync(t1, warehouse)
    transactions.sync_transactions(t1, warehouse, lag=timedelta(0), page_size=100)
    balances.sync_balances(t1, warehouse)


def push_voucherify(base_url: str, warehouse_url: str) -> None:
    """The three Voucherify pushes in turn: metadata, bulk customers, CSV import."""
    client = voucherify(base_url)
    warehouse = Warehouse(warehouse_url)
    for operation in VOUCHERIFY_OPERATIONS:
        report = voucherify_push.push(client, warehouse, operation, deadline_seconds=60)
        if report.outcome != "succeeded":
            raise RuntimeError(f"{operation} push ended {report.outcome}: {report.error}")
    warehouse.dispose()


def push_talon_one(base_url: str, warehouse_url: str) -> None:
    """The Talon.One profiles push (1,000 profiles a request)."""
    t1 = talon_one(base_url)
    warehouse = Warehouse(warehouse_url)
    report = talon_one_push.push_profiles(t1, warehouse)
    if report.outcome != "succeeded":
        raise RuntimeError(f"profiles push ended {report.outcome}: {report.error}")
    warehouse.dispose()


_context: multiprocessing.context.ForkServerContext | None = None


def preloaded_context() -> Any:
    """A fork-server context whose server imported this module (and so promosync) once."""
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload([__name__])
    return _context
