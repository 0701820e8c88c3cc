"""Visits only where something changed: counter digests, the rolling sweep, segments from events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from promosync.connectors import visits
from promosync.connectors.voucherify import segments, sync
from promosync.connectors.voucherify.streams import ACTIVITIES, CUSTOMERS

from tests.conftest import next_millisecond
from tests.connectors.test_voucherify_sync import sync_all

DUCKDB = pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)


def _truth_segments(admin) -> set[tuple[str, str, str]]:
    return {
        (entry["customer_id"], segment["id"], segment["name"])
        for entry in admin.get("/_sandbox/truth/segments").json()
        for segment in entry["segments"]
    }


def _synced_segments(warehouse) -> set[tuple[str, str, str]]:
    rows = warehouse.query(
        "SELECT customer_id, segment_id, name FROM voucherify_customer_segments"
        " WHERE _deleted_at IS NULL"
    )
    return {(row["customer_id"], row["segment_id"], row["name"]) for row in rows}


def test_a_counter_change_that_leaves_updated_at_is_visited_after_the_reconciliation(
    client, warehouse, voucherify_admin
) -> None:
    sync_all(client, warehouse)
    reading = {"voucherify_activity_touches_updated_at": "never"}
    voucherify_admin.put("/_sandbox/config", json=reading).raise_for_status()
    paid = {"add_activities": {"customers": 3, "per_customer": 1, "type": "customer.order.paid"}}
    added = voucherify_admin.post("/_sandbox/mutate", json=paid).json()["activities"]
    next_millisecond()
    assert sync.sync_customers(client, warehouse).inserted == 0  # no updated_at moved
    # The reconciliation's export carries the counters: their digests moved for these three.
    assert sync.reconcile_customers(client, warehouse).signals == 3
    report = sync.sync_activities(client, warehouse)
    assert report.inserted == 3 and report.entities == 3
    truth = voucherify_admin.get("/_sandbox/truth/activities").json()
    synced = warehouse.query("SELECT id FROM voucherify_customer_activities")
    assert sorted(row["id"] for row in synced) == sorted(activity["id"] for activity in truth)
    assert {activity["id"] for activity in added} <= {row["id"] for row in synced}
    assert sync.reconcile_customers(client, warehouse).signals == 0  # read once, owed once


@DUCKDB
def test_the_same_counters_give_the_same_digest_by_list_and_by_export(
    client, warehouse, voucherify_admin
) -> None:
    sync.sync_customers(client, warehouse, path="list")
    assert sync.reconcile_customers(client, warehouse, path="export").signals == 0
    assert sync.reconcile_customers(client, warehouse, path="list").signals == 0


def _customers(warehouse, count: int) -> None:
    rows = [
        {"id": f"cust_{n:04d}", "_raw": {"id": f"cust_{n:04d}"}, "_synced_at": datetime.now(UTC)}
        for n in range(count)
    ]
    warehouse.write_batch(CUSTOMERS.name, CUSTOMERS.primary_key, rows)


@DUCKDB
def test_the_rolling_sweep_verifies_every_customer_within_its_period_a_slice_at_a_time(
    warehouse,
) -> None:
    _customers(warehouse, 50)
    period, hour = timedelta(days=1), timedelta(hours=1)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # The first run (a first load) visits everyone and starts the sweep's clock.
    first = visits.sweep(warehouse, ACTIVITIES.name, CUSTOMERS.name, period, start)
    assert first.entities == []
    everyone = [f"cust_{n:04d}" for n in range(50)]
    warehouse.write_batch(*visits.done_rows(ACTIVITIES.name, everyone, start), also=[first.mark])
    last_seen = dict.fromkeys(everyone, start)
    for run in range(1, 24 * 3 + 1):  # three periods of hourly runs
        now = start + run * hour
        if run == 30:  # five new customers join, visited as they come (their updated_at is new)
            _customers(warehouse, 55)
            joined = [f"cust_{n:04d}" for n in range(50, 55)]
            warehouse.write_batch(*visits.done_rows(ACTIVITIES.name, joined, now))
            last_seen.update(dict.fromkeys(joined, now))
        picked = visits.sweep(warehouse, ACTIVITIES.name, CUSTOMERS.name, period, now)
        assert len(picked.entities) <= -(-55 // 24)  # a slice, never a burst
        done = [customer for customer, _ in picked.entities]
        warehouse.write_batch(*visits.done_rows(ACTIVITIES.name, done, now), also=[picked.mark])
        for customer in done:
            assert now - last_seen[customer] <= period
            last_seen[customer] = now
        assert all(now - seen <= period for seen in last_seen.values())
    half = visits.sweep(warehouse, ACTIVITIES.name, CUSTOMERS.name, period, now + hour / 60)
    assert half.entities == []  # a run a minute after another takes nothing


@DUCKDB
def test_a_slice_the_budget_left_waiting_holds_back_the_next_one(warehouse) -> None:
    _customers(warehouse, 48)
    period, start = timedelta(days=1), datetime(2026, 1, 1, tzinfo=UTC)
    first = visits.sweep(warehouse, ACTIVITIES.name, CUSTOMERS.name, period, start)
    warehouse.write_batch(*visits.done_rows(ACTIVITIES.name, [], start), also=[first.mark])
    picked = visits.sweep(warehouse, ACTIVITIES.name, CUSTOMERS.name, period, start + period / 8)
    assert len(picked.entities) == 6
    visits.enqueue(warehouse, ACTIVITIES.name, picked.entities, visits.SWEEP, also=[picked.mark])
    # No visit was allowed: the next run adds nothing to the six still owed, then resumes.
    later = start + period / 4
    held = visits.sweep(warehouse, ACTIVITIES.name, CUSTOMERS.name, period, later)
    assert held.entities == []
    warehouse.write_batch(*visits.done_rows(ACTIVITIES.name, [], later), also=[held.mark])
    assert visits.deferred(warehouse, ACTIVITIES.name) == 6
    done = [entity for entity, _ in picked.entities]
    warehouse.write_batch(*visits.done_rows(ACTIVITIES.name, done, later))
    resumed = visits.sweep(warehouse, ACTIVITIES.name, CUSTOMERS.name, period, later + period / 8)
    assert len(resumed.entities) == 6 and not {e for e, _ in resumed.entities} & set(done)


def test_a_changed_customer_is_not_counted_in_the_sweep_slice(
    client, warehouse, voucherify_admin
) -> None:
    sync_all(client, warehouse)
    voucherify_admin.post("/_sandbox/mutate", json={"update_customers": 2}).raise_for_status()
    next_millisecond()
    sync.sync_customers(client, warehouse)
    # A period of a second: every other customer is overdue and taken in this run's slice.
    report = sync.sync_activities(client, warehouse, sweep_days=1 / 86_400)
    assert report.sweep == 298 and report.entities == 300


@pytest.mark.parametrize("touches", ["no", "yes"])
@DUCKDB
def test_segments_from_events_equal_the_api_under_both_readings(
    client, warehouse, voucherify_admin, touches
) -> None:
    sync_all(client, warehouse)
    assert _synced_segments(warehouse) == _truth_segments(voucherify_admin)
    reading = {"voucherify_segment_move_touches_updated_at": touches}
    voucherify_admin.put("/_sandbox/config", json=reading).raise_for_status()
    moved = voucherify_admin.post("/_sandbox/mutate", json={"move_segments": 40}).json()
    assert moved["segment_moves"]
    next_millisecond()
    sync.sync_customers(client, warehouse)
    # A move that leaves updated_at is found by the rolling sweep: a short period takes all.
    sync.sync_activities(client, warehouse, sweep_days=1 / 86_400)
    report = sync.sync_segments(client, warehouse)
    assert report.mode == "events" and report.warning is None
    assert report.requests == segments.SAMPLE  # the sample, not a request per customer
    assert _synced_segments(warehouse) == _truth_segments(voucherify_admin)


@DUCKDB
def test_a_sample_that_disagrees_reads_every_visited_customer_with_a_warning(
    client, warehouse, voucherify_admin, monkeypatch
) -> None:
    sync_all(client, warehouse)
    # Events the vendor never logged: the warehouse loses the segment events of every customer.
    with warehouse.engine.begin() as conn:
        conn.exec_driver_sql(
            "DELETE FROM voucherify_customer_activities WHERE type LIKE 'customer.segment.%'"
        )
    monkeypatch.setattr(segments, "SAMPLE", 300)
    sync.sync_activities(client, warehouse, full_sweep=True)
    report = sync.sync_segments(client, warehouse)
    assert report.mode == "per customer"
    assert "disagree" in report.warning and "disagree" in report.sample
    assert _synced_segments(warehouse) == _truth_segments(voucherify_admin)
