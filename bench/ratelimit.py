"""Benchmark rate-limit efficiency: the share of a 1,200 requests/minute budget promosync uses.

Run with `.venv/bin/python bench/ratelimit.py [--customers 2000] [--limit 1200]`. The sandbox
enforces Voucherify's fixed one-minute window (`--voucherify-requests-per-minute`); a child
process syncs the four Voucherify streams through promosync's client, paced as the pipeline
paces it (`--client-rpm 0`: by the server's X-Rate-Limit headers alone, the resource's default;
or a client-side budget). At 2,000 customers the sync needs ~4,100 requests, over three minutes
at 1,200 a minute. The achieved rate counts answered (2xx) requests from the first to the last;
429s come from `/_sandbox/stats` and from the sync's own reports.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from typing import Any

from harness import VOUCHERIFY_AUTH, admin, child_entry, run_child, sandbox, tap


def run_sync(job: dict[str, Any]) -> dict[str, Any]:
    """Child: sync the four Voucherify streams, noting when each request was sent."""
    from promosync.connectors.voucherify import sync
    from promosync.connectors.voucherify.client import voucherify_client
    from promosync.connectors.warehouse import Warehouse

    client = voucherify_client(
        job["url"],
        VOUCHERIFY_AUTH["X-App-Id"],
        VOUCHERIFY_AUTH["X-App-Token"],
        job["client_rpm"] or None,
    )
    answered: list[float] = []  # when each request that got a 2xx was sent

    def timed(method: str, url: str, body: Any, sent_at: float, response: Any) -> None:
        if response.status_code < 300:
            answered.append(sent_at)

    tap(client, timed)
    warehouse = Warehouse(job["warehouse"])
    warehouse.create_tables()
    concurrency = job["concurrency"]
    steps = [
        lambda: sync.sync_customers(client, warehouse),
        lambda: sync.sync_activities(client, warehouse, concurrency=concurrency),
        lambda: sync.sync_segments(client, warehouse, concurrency=concurrency),
        lambda: sync.sync_loyalty_transactions(client, warehouse),
    ]
    reports = [step() for step in steps]
    answered.sort()
    per_ten_seconds: dict[int, int] = {}
    for moment in answered:
        bucket = int((moment - answered[0]) // 10)
        per_ten_seconds[bucket] = per_ten_seconds.get(bucket, 0) + 1
    return {
        "requests": sum(r.requests for r in reports),
        "rate_limited": sum(r.rate_limited for r in reports),
        "answered_offsets": [round(moment - answered[0], 3) for moment in answered],
        "sync_seconds": round(sum(r.seconds for r in reports), 2),
        "per_ten_seconds": [per_ten_seconds.get(b, 0) for b in range(max(per_ten_seconds) + 1)],
    }


def achieved_rate(offsets: list[float], limit: int) -> tuple[float, int]:
    """Answered requests a minute over the whole budget windows the sync filled, and their count.

    The server's window k + 1 opens with the request after the k-th `limit` answered ones, so
    k * limit requests took offsets[k * limit] seconds; the last, partial window (the sync ran
    out of work) is left out. With less than one full window, the whole span is used.
    """
    windows = (len(offsets) - 1) // limit
    if windows == 0:
        return (len(offsets) - 1) / max(offsets[-1], 1e-9) * 60, 0
    return windows * limit / offsets[windows * limit] * 60, windows


def main() -> None:
    """Start a limited sandbox, sync, read the stats, print the efficiency as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=1200, help="sandbox requests per minute")
    parser.add_argument("--client-rpm", type=int, default=0, help="0: pace by headers alone")
    parser.add_argument("--concurrency", type=int, default=4, help="fan-out threads (default 4)")
    parser.add_argument("--deadline", type=float, default=1800, help="seconds for the sync")
    options = parser.parse_args()

    limit = str(options.limit)
    with (
        tempfile.TemporaryDirectory() as folder,
        sandbox(
            "--customers", str(options.customers), "--voucherify-requests-per-minute", limit
        ) as urls,
    ):
        url = urls["VOUCHERIFY_BASE_URL"]
        admin(url, "reset", {})
        job = {
            "url": url,
            "warehouse": f"duckdb:///{folder}/ratelimit.duckdb",
            "client_rpm": options.client_rpm,
            "concurrency": options.concurrency,
        }
        synced = run_child(__file__, "sync", job, options.deadline)
        stats = admin(url, "stats")
    by_status: dict[str, int] = {}
    for route in stats["routes"]:
        if not route["route"].startswith("/_sandbox"):
            key = str(route["status"])
            by_status[key] = by_status.get(key, 0) + route["count"]
    offsets = synced["answered_offsets"]
    achieved, windows = achieved_rate(offsets, options.limit)
    result = {
        "customers": options.customers,
        "limit_per_minute": options.limit,
        "client_rpm": options.client_rpm,
        "concurrency": options.concurrency,
        "sandbox_answers_by_status": by_status,
        "sync_requests": synced["requests"],
        "sync_429s": synced["rate_limited"],
        "span_seconds": offsets[-1],
        "full_windows": windows,
        "achieved_per_minute": round(achieved, 1),
        "share_of_limit": round(achieved / options.limit, 4),
        "requests_per_10s": synced["per_ten_seconds"],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__" and not child_entry({"sync": run_sync}):
    main()
