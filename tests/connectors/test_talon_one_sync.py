"""The Talon.One pull against the sandbox: parity in both modes, increments, ties, requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from promosync.connectors.cursor import format_instant, parse_instant
from promosync.connectors.http import ApiError, ConfigError
from promosync.connectors.talon_one import balances, snapshots, transactions
from promosync.connectors.talon_one.client import talon_one_client
from promosync.connectors.talon_one.entities import EntitySource
from promosync.connectors.voucherify import sync as voucherify_sync
from promosync.connectors.voucherify.client import voucherify_client

from tests.conftest import next_millisecond

NO_LAG = timedelta(0)
TALON_ONE_IDS = EntitySource(("talon_one_customer_profiles", "integration_id"))
POINTS = ("current_points", "pending_points", "expired_points", "spent_points")
TRUTH_POINTS = ("activePoints", "pendingPoints", "expiredPoints", "spentPoints")


@pytest.fixture
def full(sandbox):
    """Both keys: the Management API lists and exports (unpaced: the test sandbox has no limit)."""
    settings = sandbox.settings
    return talon_one_client(
        sandbox.talon_one_url,
        settings.talon_one_api_key,
        settings.talon_one_management_key,
        management_per_second=None,
    )


@pytest.fixture
def integration_only(sandbox):
    """The Integration API key alone."""
    return talon_one_client(sandbox.talon_one_url, sandbox.settings.talon_one_api_key)


def _json(value):
    return orjson.loads(value) if isinstance(value, str) else value


def sync_snapshots(t1, warehouse) -> None:
    for sync in (snapshots.sync_programs, snapshots.sync_profiles, snapshots.sync_cards):
        sync(t1, warehouse)


def assert_transactions(admin, warehouse, *, whole_raw: bool) -> None:
    """Every entry of the source once, with its owner, subledger, type, amount and instant."""
    truth = {t["id"]: t for t in admin.get("/_sandbox/truth/loyalty_transactions").json()}
    rows = warehouse.query(
        "SELECT id, program_id, customer_profile_id, card_identifier, subledger_id, type, amount,"
        " created, CAST(_raw AS VARCHAR) AS raw FROM talon_one_loyalty_transactions"
    )
    assert sorted(row["id"] for row in rows) == sorted(truth)
    for row in rows:
        entry = truth[row["id"]]
        assert row["program_id"] == entry["programId"]
        assert row["customer_profile_id"] == entry.get("customerProfileId")
        assert row["card_identifier"] == entry.get("cardIdentifier")
        assert (row["subledger_id"], row["type"]) == (entry["subledgerId"], entry["type"])
        assert row["amount"] == entry["amount"]
        assert row["created"] == parse_instant(entry["created"])
        if whole_raw:
            assert _json(row["raw"]) == entry


def assert_balances(admin, warehouse) -> None:
    """Today's snapshot holds one row per ledger and subledger, with the source's points."""
    truth = {
        (b["programId"], b.get("integrationId") or b["cardIdentifier"], b["subledgerId"]): b
        for b in admin.get("/_sandbox/truth/balances").json()
    }
    rows = warehouse.query("SELECT * FROM talon_one_loyalty_balances")
    assert len({row["snapshot_date"] for row in rows}) == 1
    synced = {(row["program_id"], row["owner_id"], row["subledger_id"]): row for row in rows}
    assert len(synced) == len(rows)
    assert set(synced) == set(truth)
    for key, row in synced.items():
        assert [row[c] for c in POINTS] == [truth[key][c] for c in TRUTH_POINTS]


def test_management_path_equals_the_source(full, warehouse, talon_one_admin) -> None:
    sync_snapshots(full, warehouse)
    report = transactions.sync_transactions(full, warehouse, lag=NO_LAG)
    snapshot = balances.sync_balances(full, warehouse)
    assert report.mode.startswith("program-wide") and snapshot.mode.startswith("CSV")
    assert report.requests == 3 and snapshot.requests == 3  # one per program each
    assert_transactions(talon_one_admin, warehouse, whole_raw=True)
    assert_balances(talon_one_admin, warehouse)

    for table, collection, key in (
        ("talon_one_loyalty_programs", "loyalty_programs", "id"),
        ("talon_one_customer_profiles", "profiles", "id"),
        ("talon_one_loyalty_cards", "cards", "id"),
    ):
        truth = {r[key]: r for r in talon_one_admin.get(f"/_sandbox/truth/{collection}").json()}
        rows = warehouse.query(f"SELECT id, CAST(_raw AS VARCHAR) AS raw FROM {table}")
        assert {row["id"]: _json(row["raw"]) for row in rows} == truth
    cards = warehouse.query(
        "SELECT identifier, current_balance, profiles FROM talon_one_loyalty_cards"
    )
    truth_cards = {c["identifier"]: c for c in talon_one_admin.get("/_sandbox/truth/cards").json()}
    for card in cards:
        assert (
            card["current_balance"] == truth_cards[card["identifier"]]["ledger"]["currentBalance"]
        )
        assert _json(card["profiles"]) == truth_cards[card["identifier"]]["profiles"]


def test_integration_path_equals_the_source_and_costs_more_requests(
    full, integration_only, warehouse, talon_one_admin
) -> None:
    sync_snapshots(full, warehouse)  # an earlier run with a Management key listed the entities
    report = transactions.sync_transactions(
        integration_only, warehouse, lag=NO_LAG, source=TALON_ONE_IDS
    )
    snapshot = balances.sync_balances(integration_only, warehouse, source=TALON_ONE_IDS)
    assert report.mode.startswith("per entity") and snapshot.mode.startswith("per entity")
    assert_transactions(talon_one_admin, warehouse, whole_raw=False)
    assert_balances(talon_one_admin, warehouse)

    added = talon_one_admin.post("/_sandbox/mutate", json={"add_transactions": 20}).json()
    next_millisecond()
    again = transactions.sync_transactions(
        integration_only, warehouse, lag=NO_LAG, source=TALON_ONE_IDS
    )
    assert (again.inserted, again.updated) == (len(added["added_transactions"]), 0)
    assert_transactions(talon_one_admin, warehouse, whole_raw=False)

    # The same ledgers program-wide: the same rows (none new), for a fraction of the requests.
    program_wide = transactions.sync_transactions(full, warehouse, lag=NO_LAG)
    total = len(talon_one_admin.get("/_sandbox/truth/loyalty_transactions").json())
    assert (program_wide.inserted, program_wide.updated) == (0, total)
    exported = balances.sync_balances(full, warehouse)
    assert program_wide.requests == 3 < report.requests
    assert exported.requests == 3 < snapshot.requests


def test_entries_arriving_during_and_between_runs_land_once(
    full, warehouse, talon_one_admin
) -> None:
    sync_snapshots(full, warehouse)
    arrived: list[int] = []
    original = full.management.get_json

    def get_json(path, params=None):  # entries land while the window is being paged
        body = original(path, params)
        if path.endswith("/transactions") and len(arrived) < 40:
            changes = {"add_transactions": {"count": 10, "program_id": 101}}
            arrived.extend(
                talon_one_admin.post("/_sandbox/mutate", json=changes).json()["added_transactions"]
            )
        return body

    full.management.get_json = get_json
    first = transactions.sync_transactions(full, warehouse, lag=NO_LAG, page_size=50)
    full.management.get_json = original
    assert len(arrived) == 40 and first.updated == 0
    assert not set(arrived) & {
        r["id"] for r in warehouse.query("SELECT id FROM talon_one_loyalty_transactions")
    }

    # A bulk import of 120 entries at exactly the committed window end, more than two pages.
    cursor = warehouse.read_cursor("talon_one_loyalty_transactions", "program:101")
    tie = {"add_transactions": {"count": 120, "program_id": 101, "created": cursor}}
    cluster = talon_one_admin.post("/_sandbox/mutate", json=tie).json()["added_transactions"]
    next_millisecond()
    second = transactions.sync_transactions(full, warehouse, lag=NO_LAG, page_size=50)
    assert (second.inserted, second.updated) == (len(arrived) + len(cluster), 0)
    assert_transactions(talon_one_admin, warehouse, whole_raw=True)
    third = transactions.sync_transactions(full, warehouse, lag=NO_LAG, page_size=50)
    assert (third.inserted, third.updated) == (0, 0)


def test_the_lag_leaves_fresh_entries_to_a_later_run(full, warehouse, talon_one_admin) -> None:
    sync_snapshots(full, warehouse)
    transactions.sync_transactions(full, warehouse)  # default lag
    fresh = talon_one_admin.post("/_sandbox/mutate", json={"add_transactions": 5}).json()
    soon = transactions.sync_transactions(full, warehouse)
    assert soon.inserted == 0
    later = datetime.now(UTC) + transactions.DEFAULT_LAG + timedelta(seconds=1)
    report = transactions.sync_transactions(full, warehouse, now=later)
    assert report.inserted == len(fresh["added_transactions"]) == 5
    assert report.cursor_after == format_instant(later - transactions.DEFAULT_LAG)


def test_backfill_rereads_a_window_and_leaves_the_cursors(full, warehouse, talon_one_admin) -> None:
    sync_snapshots(full, warehouse)
    transactions.sync_transactions(full, warehouse, lag=NO_LAG)
    cursors = warehouse.read_cursors("talon_one_loyalty_transactions")
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC)
    inside = [
        t
        for t in talon_one_admin.get("/_sandbox/truth/loyalty_transactions").json()
        if start <= parse_instant(t["created"]) < end
    ]
    report = transactions.sync_transactions(full, warehouse, window=(start, end))
    assert report.updated == len(inside) > 0 and report.inserted == 0
    assert warehouse.read_cursors("talon_one_loyalty_transactions") == cursors


def test_voucherify_customers_are_the_default_profiles_to_visit(
    sandbox, integration_only, warehouse, talon_one_admin
) -> None:
    settings = sandbox.settings
    voucherify = voucherify_client(
        sandbox.voucherify_url, settings.voucherify_app_id, settings.voucherify_app_token
    )
    voucherify_sync.sync_customers(voucherify, warehouse)
    report = transactions.sync_transactions(
        integration_only, warehouse, lag=NO_LAG, programs={102: False}
    )
    assert report.entities == 300  # every Voucherify customer, known to Talon.One or not (404)
    source_ids = {
        r["source_id"] for r in warehouse.query("SELECT source_id FROM voucherify_customers")
    }
    expected = sorted(
        t["id"]
        for t in talon_one_admin.get("/_sandbox/truth/loyalty_transactions").json()
        if t["programId"] == 102 and t["customerProfileId"] in source_ids
    )
    rows = warehouse.query("SELECT id FROM talon_one_loyalty_transactions ORDER BY id")
    assert [row["id"] for row in rows] == expected


def test_without_a_management_key_the_listings_are_skipped(integration_only, warehouse) -> None:
    report = snapshots.sync_profiles(integration_only, warehouse)
    assert report.requests == 0 and report.mode.startswith("skipped")
    with pytest.raises(ConfigError, match="no loyalty program known"):
        transactions.sync_transactions(integration_only, warehouse)
    with pytest.raises(ConfigError, match="MANAGEMENT_KEY"):
        transactions.sync_transactions(integration_only, warehouse, mode="program")


@pytest.mark.parametrize("which", ["api_key", "management_key"])
def test_wrong_keys_fail_fast_and_change_nothing(sandbox, warehouse, which) -> None:
    keys = {
        "api_key": sandbox.settings.talon_one_api_key,
        "management_key": sandbox.settings.talon_one_management_key,
        which: "wrong",
    }
    t1 = talon_one_client(sandbox.talon_one_url, **keys, management_per_second=None)
    modes = {"api_key": "entity", "management_key": "program"}
    started = datetime.now(UTC)
    with pytest.raises(ApiError, match="HTTP 401") as error:
        transactions.sync_transactions(
            t1, warehouse, mode=modes[which], programs={101: False, 103: True}
        )
    assert "wrong" not in str(error.value)
    assert datetime.now(UTC) - started < timedelta(seconds=5)
    assert t1.counters.retries == 0  # a 401 is not retried
    assert t1.counters.requests < 50  # the first failure cancels the queued rest of the batch
    assert warehouse.query("SELECT count(*) AS n FROM talon_one_loyalty_transactions")[0]["n"] == 0
    assert warehouse.read_cursors("talon_one_loyalty_transactions") == {}


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ConfigError, match="plain http"):
        talon_one_client("http://acme.talon.one", "key")


def test_the_window_end_is_never_after_the_run_start(full, warehouse) -> None:
    sync_snapshots(full, warehouse)
    report = transactions.sync_transactions(full, warehouse, lag=NO_LAG)
    assert parse_instant(report.cursor_after) <= datetime.now(UTC)
    assert format_instant(parse_instant(report.cursor_after)) == report.cursor_after
