"""Requests of the Voucherify pull with change signals, the rolling sweep and segments from
events (issue 15): a full sync, an incremental after 1 % changed, a run with nothing changed,
and one sweep period of hourly runs finding activity that moves no `updated_at`.

Run with `.venv/bin/python bench/visits.py [--customers 2000] [--seed 23]
[--scale-customers 100000]`; results are recorded by hand in bench/RESULTS.md under
"## Visits only where something changed". The hours pass on a simulated clock: each run after
the first load hands the activity stream `now` = the load's start plus its hour, which paces the
rolling sweep (and stamps the visits) as hourly runs would; everything else runs in real time.
The sandbox runs as `promosync sandbox` in its own process, stopped whatever happens.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from exports import client_of
from harness import admin, sandbox
from promosync.connectors.budget import DEFAULT_SWEEP_DAYS
from promosync.connectors.voucherify import sync
from promosync.connectors.warehouse import Warehouse

HOUR = timedelta(hours=1)


def pull(client, warehouse: Warehouse, now: datetime | None = None, reconcile: bool = False):
    """The four Voucherify streams (and the reconciliation), as the hourly job runs them."""
    reports = [sync.sync_customers(client, warehouse)]
    if reconcile:
        reports.append(sync.reconcile_customers(client, warehouse))
    reports += [
        sync.sync_activities(client, warehouse, now=now),
        sync.sync_segments(client, warehouse),
        sync.sync_loyalty_transactions(client, warehouse),
    ]
    return reports


def summary(reports) -> dict:
    requests: Counter[str] = Counter()
    for report in reports:
        requests[report.stream.removeprefix("voucherify_")] += report.requests
    activities = next(r for r in reports if r.stream == "voucherify_customer_activities")
    segments = next(r for r in reports if r.stream == "voucherify_customer_segments")
    return {"total": sum(requests.values()), "requests": dict(requests),
            "sweep_slice": activities.sweep, "visited": activities.entities,
            "signals": sum(r.signals or 0 for r in reports), "segments": segments.sample,
            "segments_mode": segments.mode}  # fmt: skip


def parity(url: str, warehouse: Warehouse) -> dict:
    """The warehouse against the sandbox's truth: customers, activity ids, segment pairs."""
    customers = {c["id"] for c in admin(url, "truth/customers")}
    held = warehouse.query("SELECT id FROM voucherify_customers WHERE _deleted_at IS NULL")
    activities = {a["id"] for a in admin(url, "truth/activities")}
    synced = warehouse.query("SELECT id FROM voucherify_customer_activities")
    segments = {(e["customer_id"], s["id"]) for e in admin(url, "truth/segments")
                for s in e["segments"]}  # fmt: skip
    rows = warehouse.query(
        "SELECT customer_id, segment_id FROM voucherify_customer_segments WHERE _deleted_at IS NULL"
    )
    return {
        "customers": {r["id"] for r in held} == customers,
        "activities": {r["id"] for r in synced} == activities,
        "segments": {(r["customer_id"], r["segment_id"]) for r in rows} == segments,
    }


def hidden_activity(url: str) -> set[str]:
    """Activity that moves no customer's updated_at: 100 customers' random events, 50 segment
    moves; the ids of the events logged."""
    readings = {"voucherify_activity_touches_updated_at": "never",
                "voucherify_segment_move_touches_updated_at": "no"}  # fmt: skip
    requests.put(f"{url}/_sandbox/config", json=readings, timeout=60).raise_for_status()
    added = admin(url, "mutate", {"add_activities": {"customers": 100, "per_customer": 1,
                                                      "type": "any"}})  # fmt: skip
    moved = admin(url, "mutate", {"move_segments": 50})
    return {a["id"] for a in added["activities"]} | {
        m["activity_id"] for m in moved["segment_moves"]
    }


def small(urls: dict[str, str], folder: Path, customers: int) -> dict:
    url = urls["VOUCHERIFY_BASE_URL"]
    client, warehouse = client_of(urls), Warehouse(f"duckdb:///{folder / 'visits.duckdb'}")
    warehouse.create_tables()
    results: dict = {}
    started = time.monotonic()
    results["full"] = summary(pull(client, warehouse))
    results["full"]["seconds"] = round(time.monotonic() - started, 1)
    results["full"]["parity"] = parity(url, warehouse)
    clock = datetime.now(UTC)
    changed = max(1, customers // 100)
    admin(url, "mutate", {"update_customers": changed})
    time.sleep(0.01)
    results["incremental"] = {"changed": changed, **summary(pull(client, warehouse, clock + HOUR))}
    results["nothing_changed"] = summary(pull(client, warehouse, clock + 2 * HOUR))
    hidden = hidden_activity(url)
    period_runs = round(DEFAULT_SWEEP_DAYS * 24)
    found_at, spent = None, Counter()
    for run in range(1, period_runs + 1):
        reports = pull(client, warehouse, clock + (2 + run) * HOUR, reconcile=run % 24 == 0)
        for report in reports:
            spent[report.stream.removeprefix("voucherify_")] += report.requests
        held = warehouse.query("SELECT id FROM voucherify_customer_activities")
        share = len(hidden & {r["id"] for r in held}) / len(hidden)
        if share == 1 and found_at is None:
            found_at = run
    results["one_period"] = {
        "hidden_events": len(hidden), "hourly_runs": period_runs, "all_found_at_run": found_at,
        "requests": sum(spent.values()), "by_stream": dict(spent),
        "parity": parity(url, warehouse),
    }  # fmt: skip
    warehouse.dispose()
    return results


def scale(urls: dict[str, str], folder: Path) -> dict:
    url = urls["VOUCHERIFY_BASE_URL"]
    client, warehouse = client_of(urls), Warehouse(f"duckdb:///{folder / 'scale.duckdb'}")
    warehouse.create_tables()
    started = time.monotonic()
    result = summary(pull(client, warehouse))
    result["seconds"] = round(time.monotonic() - started, 1)
    result["parity"] = parity(url, warehouse)
    warehouse.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--scale-customers", type=int, default=0)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        if args.customers:
            options = ("--customers", str(args.customers), "--seed", str(args.seed))
            with sandbox(*options, "--voucherify-requests-per-minute", "0") as urls:
                results["small"] = small(urls, Path(folder), args.customers)
        if args.scale_customers:
            options = ("--customers", str(args.scale_customers), "--seed", str(args.seed))
            with sandbox(*options, "--voucherify-requests-per-minute", "0") as urls:
                results["scale"] = scale(urls, Path(folder))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
