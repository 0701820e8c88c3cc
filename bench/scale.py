"""Benchmark the pull at scale: a full sync, an incremental one after 1 % changed, memory growth.

Run with `.venv/bin/python bench/scale.py [--customers 100000] [--talon-one-transactions N]`
(N defaults to ten per customer). The sandbox serves N customers (~10 activities each) and N
Talon.One ledger entries with every rate limit off; a child process syncs the four Voucherify
streams and the Talon.One loyalty transactions (program-wide, Management API unpaced) into an
empty DuckDB file. Then 1 % of each source changes (`/_sandbox/mutate`) and a second child syncs
again into the same file. A third child repeats the full sync at `--baseline-customers` (10,000)
for the memory-growth ratio. Results are printed as JSON; bench/RESULTS.md records them.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from harness import (
    TALON_ONE_KEY,
    TALON_ONE_MANAGEMENT_KEY,
    VOUCHERIFY_AUTH,
    admin,
    child_entry,
    duckdb_sizes,
    peak_rss_mb,
    reset_peak_rss,
    run_child,
    sandbox,
)
from pull import minimum_requests

TALON_PAGE = 1000
TABLES = {
    "customers": "voucherify_customers",
    "activities": "voucherify_customer_activities",
    "segments": "voucherify_customer_segments",
    "loyalty": "voucherify_loyalty_transactions",
    "talon_one_transactions": "talon_one_loyalty_transactions",
}


def run_streams(job: dict[str, Any]) -> dict[str, Any]:
    """Child: sync the five streams into `job["warehouse"]`; per-stream figures and peak RSS."""
    from promosync.connectors.talon_one.client import talon_one_client
    from promosync.connectors.talon_one.transactions import sync_transactions
    from promosync.connectors.voucherify import sync
    from promosync.connectors.voucherify.client import voucherify_client
    from promosync.connectors.warehouse import Warehouse

    voucherify = voucherify_client(
        job["voucherify_url"], VOUCHERIFY_AUTH["X-App-Id"], VOUCHERIFY_AUTH["X-App-Token"]
    )
    talon_one = talon_one_client(
        job["talon_one_url"], TALON_ONE_KEY, TALON_ONE_MANAGEMENT_KEY, management_per_second=None
    )
    warehouse = Warehouse(job["warehouse"])
    warehouse.create_tables()
    concurrency = job["concurrency"]
    steps = {
        "customers": lambda: sync.sync_customers(voucherify, warehouse),
        "activities": lambda: sync.sync_activities(voucherify, warehouse, concurrency=concurrency),
        "segments": lambda: sync.sync_segments(voucherify, warehouse, concurrency=concurrency),
        "loyalty": lambda: sync.sync_loyalty_transactions(voucherify, warehouse),
        "talon_one_transactions": lambda: sync_transactions(talon_one, warehouse, mode="program"),
    }
    started = time.monotonic()
    streams = {}
    for name, step in steps.items():
        resettable = reset_peak_rss()
        report = step()
        streams[name] = {
            "rows": report.written,
            "inserted": report.inserted,
            "requests": report.requests,
            "rate_limited": report.rate_limited,
            "seconds": report.seconds,
            "peak_rss_mb": round(peak_rss_mb(), 1) if resettable else None,
        }
    seconds = time.monotonic() - started
    warehouse.dispose()
    return {"seconds": round(seconds, 2), "streams": streams, "peak_rss_mb": max_rss(streams)}


def max_rss(streams: dict[str, dict[str, Any]]) -> float:
    """The process's peak: the largest per-stream peak (VmHWM is reset before each stream)."""
    peaks = [s["peak_rss_mb"] for s in streams.values() if s["peak_rss_mb"] is not None]
    return max(peaks) if peaks else round(peak_rss_mb(), 1)


def talon_one_minimum(url: str) -> int:
    """The program listing plus one request per 1,000 entries of each program (at least one)."""
    rows = requests.get(f"{url}/_sandbox/truth/loyalty_transactions", timeout=600).json()
    per_program = Counter(row["programId"] for row in rows)
    programs = admin(url, "truth/loyalty_programs")
    return 1 + sum(max(1, math.ceil(per_program[p["id"]] / TALON_PAGE)) for p in programs)


def change_one_percent(urls: dict[str, str], customers: int, transactions: int) -> dict[str, int]:
    """Update 1 % of customers (each gets ~10 new activities), add 1 % of ledger entries."""
    voucherify, talon_one = urls["VOUCHERIFY_BASE_URL"], urls["TALON_ONE_BASE_URL"]
    share = max(1, customers // 100)
    updated = admin(voucherify, "mutate", {"update_customers": share})["updated"]
    activities = admin(
        voucherify, "mutate", {"add_activities": {"customers": updated, "per_customer": 10}}
    )
    loyalty = len(admin(voucherify, "truth/loyalty_transactions"))
    admin(voucherify, "mutate", {"add_loyalty_transactions": max(1, loyalty // 100)})
    # Entries land just before the lag promosync leaves for late commits (60 s), as a bulk import.
    created = (datetime.now(UTC) - timedelta(seconds=61)).isoformat().replace("+00:00", "Z")
    added = max(1, transactions // 100)
    admin(talon_one, "mutate", {"add_transactions": {"count": added, "created": created}})
    return {
        "customers_updated": len(updated),
        "activities_added": len(activities["activities"]),
        "voucherify_loyalty_added": max(1, loyalty // 100),
        "talon_one_transactions_added": added,
    }


def sandbox_options(customers: int, transactions: int) -> list[str]:
    """Every limit off: this measures promosync, not the plans' budgets."""
    return [
        "--customers", str(customers), "--talon-one-transactions", str(transactions),
        "--voucherify-requests-per-minute", "0", "--management-requests-per-second", "0",
    ]  # fmt: skip


def full_and_incremental(options: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """The scale run: full sync, minimum requests, sizes, 1 % change, incremental sync."""
    transactions = options.talon_one_transactions or options.customers * 10
    database = folder / "scale.duckdb"
    with sandbox(*sandbox_options(options.customers, transactions)) as urls:
        job = {
            "voucherify_url": urls["VOUCHERIFY_BASE_URL"],
            "talon_one_url": urls["TALON_ONE_BASE_URL"],
            "warehouse": f"duckdb:///{database}",
            "concurrency": options.concurrency,
        }
        full = run_child(__file__, "sync", job, options.deadline)
        minimum = minimum_requests(urls["VOUCHERIFY_BASE_URL"])
        minimum["talon_one_transactions"] = talon_one_minimum(urls["TALON_ONE_BASE_URL"])
        sizes = duckdb_sizes(database, list(TABLES.values()))
        changed = change_one_percent(urls, options.customers, transactions)
        incremental = run_child(__file__, "sync", job, options.deadline)
    return {
        "full": full,
        "minimum_requests": minimum,
        "sizes": sizes,
        "changed": changed,
        "incremental": incremental,
        "talon_one_transactions": transactions,
    }


def baseline_rss(options: argparse.Namespace, folder: Path) -> float | None:
    """Peak RSS of the same full sync at `--baseline-customers` (None when 0)."""
    customers = options.baseline_customers
    if not customers:
        return None
    with sandbox(*sandbox_options(customers, customers * 10)) as urls:
        job = {
            "voucherify_url": urls["VOUCHERIFY_BASE_URL"],
            "talon_one_url": urls["TALON_ONE_BASE_URL"],
            "warehouse": f"duckdb:///{folder}/baseline.duckdb",
            "concurrency": options.concurrency,
        }
        return run_child(__file__, "sync", job, options.deadline)["peak_rss_mb"]


def summarise(options: argparse.Namespace, run: dict[str, Any], baseline: float | None) -> dict:
    """Per stream and in total: time, rows/s, requests vs minimum, RSS, bytes, incremental share."""
    full, incremental = run["full"], run["incremental"]
    streams = {}
    for name, stream in full["streams"].items():
        again = incremental["streams"][name]
        streams[name] = {
            "seconds": stream["seconds"],
            "rows": stream["rows"],
            "rows_per_second": round(stream["rows"] / max(stream["seconds"], 1e-9)),
            "requests": stream["requests"],
            "minimum_requests": run["minimum_requests"][name],
            "peak_rss_mb": stream["peak_rss_mb"],
            "bytes_estimate": run["sizes"]["table_bytes_estimate"][TABLES[name]],
            "incremental_rows": again["rows"],
            "incremental_requests": again["requests"],
            "incremental_seconds": again["seconds"],
        }
    rows = sum(s["rows"] for s in streams.values())
    requests_full = sum(s["requests"] for s in streams.values())
    requests_again = sum(s["incremental_requests"] for s in streams.values())
    return {
        "customers": options.customers,
        "talon_one_transactions": run["talon_one_transactions"],
        "concurrency": options.concurrency,
        "streams": streams,
        "total": {
            "seconds": full["seconds"],
            "rows": rows,
            "rows_per_second": round(rows / full["seconds"]),
            "requests": requests_full,
            "minimum_requests": sum(run["minimum_requests"].values()),
            "peak_rss_mb": full["peak_rss_mb"],
            "duckdb_file_bytes": run["sizes"]["file_bytes"],
        },
        "changed": run["changed"],
        "incremental": {
            "seconds": incremental["seconds"],
            "requests": requests_again,
            "time_share": round(incremental["seconds"] / full["seconds"], 4),
            "request_share": round(requests_again / requests_full, 4),
        },
        "memory_growth": {
            "baseline_customers": options.baseline_customers,
            "baseline_peak_rss_mb": baseline,
            "peak_rss_mb": full["peak_rss_mb"],
            "ratio": round(full["peak_rss_mb"] / baseline, 3) if baseline else None,
        },
    }


def main() -> None:
    """Parse options, run both scales, print the summary as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--talon-one-transactions", type=int, default=0, help="0: 10 per customer")
    parser.add_argument("--baseline-customers", type=int, default=10_000, help="0: skip")
    parser.add_argument("--concurrency", type=int, default=4, help="fan-out threads (default 4)")
    parser.add_argument("--deadline", type=float, default=3600, help="seconds per child process")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        baseline = baseline_rss(options, Path(folder))
        run = full_and_incremental(options, Path(folder))
    print(json.dumps(summarise(options, run, baseline), indent=2))


if __name__ == "__main__" and not child_entry({"sync": run_streams}):
    main()
