"""The analyst views on a full sync of both platforms, checked against the sandbox's truth."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa
from promosync.connectors.cursor import parse_instant
from promosync.connectors.talon_one import balances, snapshots, transactions
from promosync.connectors.talon_one.client import talon_one_client
from promosync.connectors.views import create_views
from promosync.connectors.voucherify import sync as voucherify_sync
from promosync.connectors.voucherify.client import voucherify_client
from promosync.pipelines.resources import WarehouseResource
from promosync.pipelines.views_assets import RAW_TABLES, analyst_views

VIEWS = ("customer_360", "customer_activity_daily", "loyalty_balance_history", "loyalty_ledger")
EARLIER = timedelta(days=30)  # an older balance snapshot, which customer_360 must not read


@pytest.fixture
def clients(sandbox):
    """Voucherify and Talon.One (both keys, unpaced: the test sandbox has no limit)."""
    settings = sandbox.settings
    return (
        voucherify_client(
            sandbox.voucherify_url, settings.voucherify_app_id, settings.voucherify_app_token
        ),
        talon_one_client(
            sandbox.talon_one_url,
            settings.talon_one_api_key,
            settings.talon_one_management_key,
            management_per_second=None,
        ),
    )


@pytest.fixture
def synced(clients, warehouse):
    """Both platforms fully synced, with two balance snapshots, and the views created."""
    voucherify, t1 = clients
    voucherify_sync.sync_customers(voucherify, warehouse)
    voucherify_sync.sync_activities(voucherify, warehouse, concurrency=16)
    voucherify_sync.sync_segments(voucherify, warehouse, concurrency=16)
    voucherify_sync.sync_loyalty_transactions(voucherify, warehouse)
    for sync in (snapshots.sync_programs, snapshots.sync_profiles, snapshots.sync_cards):
        sync(t1, warehouse)
    transactions.sync_transactions(t1, warehouse, lag=timedelta(0))
    balances.sync_balances(t1, warehouse, now=datetime.now(UTC) - EARLIER)
    balances.sync_balances(t1, warehouse)
    create_views(warehouse)
    return warehouse


def _points(actual: float | None, expected: float | None) -> bool:
    return actual == expected if expected is None else actual == pytest.approx(expected)


def expected_customers(vf_admin, t1_admin) -> dict[tuple[str | None, int | None], dict]:
    """customer_360 computed from the truth, keyed by (Voucherify id, Talon.One profile id)."""
    customers = vf_admin.get("/_sandbox/truth/customers").json()
    segments = {
        entry["customer_id"]: sorted(s["name"] for s in entry["segments"])
        for entry in vf_admin.get("/_sandbox/truth/segments").json()
    }
    activities = defaultdict(list)
    for event in vf_admin.get("/_sandbox/truth/activities").json():
        activities[event["customer_id"]].append(parse_instant(event["created_at"]))
    profiles = {p["integrationId"]: p for p in t1_admin.get("/_sandbox/truth/profiles").json()}
    ledgers = t1_admin.get("/_sandbox/truth/balances").json()
    current, pending, on_card = defaultdict(float), defaultdict(float), defaultdict(float)
    for ledger in ledgers:
        if "integrationId" in ledger:
            current[ledger["integrationId"]] += ledger["activePoints"]
            pending[ledger["integrationId"]] += ledger["pendingPoints"]
        else:
            on_card[ledger["cardIdentifier"]] += ledger["activePoints"]
    cards = defaultdict(set)
    for card in t1_admin.get("/_sandbox/truth/cards").json():
        for link in card["profiles"]:
            cards[link["integrationId"]].add(card["identifier"])

    def talon_one(integration_id: str) -> dict:
        profile = profiles.get(integration_id)
        held = cards.get(integration_id, set())
        return {
            "talon_one_profile_id": profile["id"] if profile else None,
            "talon_one_last_activity": profile and parse_instant(profile["lastActivity"]),
            "talon_one_current_points": current.get(integration_id),
            "talon_one_pending_points": pending.get(integration_id),
            "talon_one_card_count": len(held),
            "talon_one_card_points": sum(on_card[c] for c in held) if held else None,
        }

    expected = {}
    for customer in customers:
        seen = activities.get(customer["id"], [])
        row = {
            "source_id": customer["source_id"],
            "email": customer["email"],
            "voucherify_loyalty_points": customer["loyalty"]["points"],
            "segment_names": segments[customer["id"]],
            "segment_count": len(segments[customer["id"]]),
            "activity_count": len(seen),
            "last_activity_at": max(seen, default=None),
            **talon_one(customer["source_id"]),
        }
        expected[(customer["id"], row["talon_one_profile_id"])] = row
    matched = {customer["source_id"] for customer in customers}
    for integration_id in profiles.keys() - matched:
        row = {
            "source_id": integration_id,
            "email": None,
            "voucherify_loyalty_points": None,
            "segment_names": [],
            "segment_count": None,
            "activity_count": None,
            "last_activity_at": None,
            **talon_one(integration_id),
        }
        expected[(None, row["talon_one_profile_id"])] = row
    return expected


def test_customer_360_has_one_row_per_customer_of_either_platform(
    synced, voucherify_admin, talon_one_admin
) -> None:
    expected = expected_customers(voucherify_admin, talon_one_admin)
    rows = synced.query("SELECT * FROM customer_360")
    actual = {(row["voucherify_customer_id"], row["talon_one_profile_id"]): row for row in rows}
    assert len(actual) == len(rows) and set(actual) == set(expected)
    kinds = Counter((v is not None, t is not None) for v, t in actual)
    assert kinds[(True, True)] and kinds[(True, False)] and kinds[(False, True)]
    assert any(row["talon_one_card_count"] for row in rows)
    for key, want in expected.items():
        row = actual[key]
        names = (row["segment_names"] or "").split(", ") if row["segment_names"] else []
        assert sorted(names) == want.pop("segment_names"), key
        for column in (
            "talon_one_current_points",
            "talon_one_pending_points",
            "talon_one_card_points",
        ):
            assert _points(row[column], want.pop(column)), (key, column)
        assert {column: row[column] for column in want} == want, key
    latest = synced.query("SELECT max(as_of) AS as_of FROM talon_one_loyalty_balances")[0]
    assert {row["talon_one_points_as_of"] for row in rows} - {None} == {latest["as_of"]}


def test_loyalty_ledger_signs_and_sums_each_program_as_the_source(
    synced, voucherify_admin, talon_one_admin
) -> None:
    vf_truth = voucherify_admin.get("/_sandbox/truth/loyalty_transactions").json()
    t1_truth = talon_one_admin.get("/_sandbox/truth/loyalty_transactions").json()
    sums: dict[tuple[str, str], float] = defaultdict(float)
    for entry in vf_truth:
        sums[("voucherify", entry["campaign_id"])] += entry["details"]["balance"]["points"]
    for entry in t1_truth:
        sign = -1 if entry["type"] == "subtraction" else 1
        sums[("talon_one", str(entry["programId"]))] += sign * entry["amount"]
    totals = synced.query(
        "SELECT platform, program_id, sum(amount) AS total, count(*) AS entries"
        " FROM loyalty_ledger GROUP BY platform, program_id"
    )
    assert {(r["platform"], r["program_id"]): r["total"] for r in totals} == pytest.approx(sums)
    assert sum(r["entries"] for r in totals) == len(vf_truth) + len(t1_truth)

    rows = {
        (r["platform"], r["transaction_id"]): r
        for r in synced.query("SELECT * FROM loyalty_ledger")
    }
    for entry in vf_truth:
        row = rows[("voucherify", entry["id"])]
        assert (row["card"], row["type"], row["customer_source_id"], row["expires_at"]) == (
            entry["voucher_id"],
            entry["type"],
            None,
            None,
        )
        assert row["created_at"] == parse_instant(entry["created_at"])
    for entry in t1_truth:
        row = rows[("talon_one", str(entry["id"]))]
        expiry = entry["expiryDate"]
        assert row["customer_source_id"] == entry.get("customerProfileId")
        assert row["card"] == entry.get("cardIdentifier")
        assert row["subledger_id"] == entry["subledgerId"]
        assert row["expires_at"] == (None if expiry == "unlimited" else parse_instant(expiry))
        assert row["created_at"] == parse_instant(entry["created"])


def test_customer_activity_daily_counts_each_customer_day_and_type(
    synced, voucherify_admin
) -> None:
    truth = voucherify_admin.get("/_sandbox/truth/activities").json()
    expected = Counter(
        (a["customer_id"], parse_instant(a["created_at"]).astimezone(UTC).date(), a["type"])
        for a in truth
    )
    with synced.engine.connect() as conn:  # UTC+14: the days must still be UTC days
        conn.exec_driver_sql("SET TimeZone = 'Pacific/Kiritimati'")
        rows = [
            dict(r._mapping) for r in conn.exec_driver_sql("SELECT * FROM customer_activity_daily")
        ]
        conn.exec_driver_sql("SET TimeZone = 'UTC'")
    actual = {(r["customer_id"], r["activity_date"], r["activity_type"]): r for r in rows}
    assert len(actual) == len(rows)
    assert {key: row["activity_count"] for key, row in actual.items()} == dict(expected)
    assert any(count > 1 for count in expected.values())
    for row in rows:
        assert row["first_at"] <= row["last_at"]
        assert row["first_at"].astimezone(UTC).date() == row["activity_date"]


def test_loyalty_balance_history_holds_every_snapshot(synced, talon_one_admin) -> None:
    truth = {
        (b["programId"], b.get("integrationId") or b["cardIdentifier"], b["subledgerId"]): b
        for b in talon_one_admin.get("/_sandbox/truth/balances").json()
    }
    rows = synced.query("SELECT * FROM loyalty_balance_history")
    today = datetime.now(UTC).date()
    assert {row["snapshot_date"] for row in rows} == {today, today - EARLIER}
    latest = {
        (row["program_id"], row["owner_id"], row["subledger_id"]): row
        for row in rows
        if row["snapshot_date"] == today
    }
    assert set(latest) == set(truth)
    for key, row in latest.items():
        assert row["owner_kind"] == ("profile" if "integrationId" in truth[key] else "card")
        assert (
            row["current_points"],
            row["pending_points"],
            row["expired_points"],
            row["spent_points"],
        ) == (
            truth[key]["activePoints"],
            truth[key]["pendingPoints"],
            truth[key]["expiredPoints"],
            truth[key]["spentPoints"],
        )
    raw = synced.query("SELECT count(*) AS n FROM talon_one_loyalty_balances")[0]["n"]
    assert len(rows) == raw


def _stamp_deleted(warehouse, table: str, where: str, params: dict) -> None:
    with warehouse.engine.begin() as conn:
        conn.execute(
            sa.text(f"UPDATE {table} SET _deleted_at = CURRENT_TIMESTAMP WHERE {where}"), params
        )


def test_views_leave_out_rows_marked_deleted(
    synced, clients, voucherify_admin, talon_one_admin
) -> None:
    voucherify, t1 = clients
    before = {
        row["voucherify_customer_id"]: row for row in synced.query("SELECT * FROM customer_360")
    }
    both = [r for r in before.values() if r["talon_one_profile_id"] and r["activity_count"]]
    gone, closed = both[:2]
    fewer = max(both[2:], key=lambda r: r["segment_count"])
    for admin, change in (
        (voucherify_admin, {"delete_customers": [gone["source_id"]]}),
        (talon_one_admin, {"delete_profiles": [closed["source_id"]]}),
    ):
        admin.post("/_sandbox/mutate", json=change).raise_for_status()
    assert voucherify_sync.reconcile_customers(voucherify, synced).deleted == 1
    assert snapshots.sync_profiles(t1, synced).deleted == 1
    segment = synced.query(
        "SELECT segment_id FROM voucherify_customer_segments WHERE customer_id = :c",
        {"c": fewer["voucherify_customer_id"]},
    )[0]["segment_id"]
    _stamp_deleted(
        synced,
        "voucherify_customer_segments",
        "segment_id = :s AND customer_id = :c",
        {"s": segment, "c": fewer["voucherify_customer_id"]},
    )
    ledger = synced.query("SELECT platform, transaction_id FROM loyalty_ledger")
    picked = {
        platform: min(r["transaction_id"] for r in ledger if r["platform"] == platform)
        for platform in ("voucherify", "talon_one")
    }
    _stamp_deleted(
        synced, "voucherify_loyalty_transactions", "id = :id", {"id": picked["voucherify"]}
    )
    _stamp_deleted(
        synced, "talon_one_loyalty_transactions", "id = :id", {"id": int(picked["talon_one"])}
    )
    _stamp_deleted(synced, "talon_one_loyalty_balances", "owner_id = :o", {"o": gone["source_id"]})

    after = synced.query("SELECT * FROM customer_360")
    by_customer = {row["voucherify_customer_id"]: row for row in after}
    assert gone["voucherify_customer_id"] not in by_customer
    alone = [row for row in after if row["talon_one_profile_id"] == gone["talon_one_profile_id"]]
    assert [(row["voucherify_customer_id"], row["talon_one_current_points"]) for row in alone] == [
        (None, None)
    ]
    assert by_customer[closed["voucherify_customer_id"]]["talon_one_profile_id"] is None
    assert by_customer[fewer["voucherify_customer_id"]]["segment_count"] == (
        fewer["segment_count"] - 1
    )
    assert not synced.query(
        "SELECT * FROM customer_activity_daily WHERE customer_id = :c",
        {"c": gone["voucherify_customer_id"]},
    )
    left = {
        (r["platform"], r["transaction_id"])
        for r in synced.query("SELECT platform, transaction_id FROM loyalty_ledger")
    }
    assert len(left) == len(ledger) - 2 and not set(picked.items()) & left
    assert not synced.query(
        "SELECT * FROM loyalty_balance_history WHERE owner_id = :o", {"o": gone["source_id"]}
    )


def test_analyst_views_asset_reports_rows_per_view_and_reruns(warehouse) -> None:
    resources = {"warehouse": WarehouseResource(url=warehouse.url)}
    for _ in range(2):  # a rerun replaces the views
        result = dg.materialize([analyst_views], resources=resources)
        assert result.success
    (materialization,) = result.asset_materializations_for_node("analyst_views")
    assert {key: entry.value for key, entry in materialization.metadata.items()} == {
        f"{view}_rows": 0 for view in VIEWS
    }
    spec = analyst_views.specs_by_key[dg.AssetKey("analyst_views")]
    assert spec.group_name == "analytics" and set(spec.kinds) == {"sql"}
    assert {dep.asset_key.to_user_string() for dep in spec.deps} == set(RAW_TABLES)
