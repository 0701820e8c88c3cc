"""Benchmark the Voucherify pull: a full sync of the four streams into DuckDB versus a bare fetch.

Run with `.venv/bin/python bench/pull.py [--customers 100000] [--concurrency 4]`; results are
recorded by hand in bench/RESULTS.md under "## Pull". The sandbox runs as `promosync sandbox` in
its own process, the sync in another (so its peak RSS is its own) and records every URL it sends;
a third process then replays exactly those URLs with the same concurrency and discards the bodies
(a plain `requests.Session`, the loop anyone would write), and a fourth does the same through
promosync's own transport (urllib3 pools, `connectors.transport.PooledTransport`): the tighter
floor.
Every child process has a deadline, and the sandbox is stopped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from harness import VOUCHERIFY_AUTH as AUTH
from harness import (
    child_entry,
    fetch_and_discard,
    peak_rss_mb,
    record_requests,
    run_child,
    sandbox,
)


def cpu_seconds() -> float:
    """CPU time of this process so far, every thread (DuckDB's included), user + system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_sync(job: dict[str, Any]) -> dict:
    """Child: sync the four streams from empty, recording each request's stream and URL."""
    url, concurrency, log_path = job["url"], job["concurrency"], Path(job["log"])
    from promosync.connectors.voucherify import sync
    from promosync.connectors.voucherify.client import voucherify_client
    from promosync.connectors.warehouse import Warehouse

    client = voucherify_client(url, AUTH["X-App-Id"], AUTH["X-App-Token"])
    warehouse = Warehouse(job["warehouse"])
    warehouse.create_tables()
    sent: list[tuple[str, str]] = []
    stream = ["customers"]
    record_requests(client, sent, lambda: stream[0])
    steps = [
        ("customers", lambda: sync.sync_customers(client, warehouse)),
        ("activities", lambda: sync.sync_activities(client, warehouse, concurrency=concurrency)),
        ("segments", lambda: sync.sync_segments(client, warehouse, concurrency=concurrency)),
        ("loyalty", lambda: sync.sync_loyalty_transactions(client, warehouse)),
    ]
    started, cpu_before = time.monotonic(), cpu_seconds()
    reports = {}
    for name, step in steps:
        stream[0] = name
        report = step()
        reports[name] = {
            "rows": report.written,
            "requests": report.requests,
            "seconds": report.seconds,
        }
    seconds = time.monotonic() - started
    log_path.write_text(json.dumps(sent))
    cpu = cpu_seconds() - cpu_before
    return {"seconds": seconds, "cpu": cpu, "streams": reports, "peak_rss_mb": peak_rss_mb()}


def run_bare(job: dict[str, Any]) -> dict:
    """Child: replay the sync's requests, same order and concurrency, discarding the bodies.

    `transport` "requests" is the loop anyone would write, a plain `requests.Session`;
    "promosync" sends through promosync's own transport (urllib3 pools): the tighter floor.
    """
    concurrency, sent = job["concurrency"], json.loads(Path(job["log"]).read_text())
    if job["transport"] == "promosync":
        from promosync.connectors.http_settings import HttpSettings
        from promosync.connectors.transport import PooledTransport

        transport = PooledTransport(HttpSettings(connect_timeout=5, read_timeout=120), 16)
        headers = {**AUTH, "User-Agent": "promosync"}

        def fetch(url: str) -> None:
            response = transport("GET", url, None, headers)
            assert response.status_code == 200, response.status_code
    else:
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=16)
        session.mount("http://", adapter)
        session.headers.update(AUTH)

        def fetch(url: str) -> None:
            fetch_and_discard(session, url)

    started, cpu_before = time.monotonic(), cpu_seconds()
    for stream in ("customers", "activities", "segments", "loyalty"):
        calls = [url for name, url in sent if name == stream]
        if stream in ("activities", "segments"):  # per customer: pages in order, fanned out
            per_customer: dict[str, list[str]] = {}
            for url in calls:
                per_customer.setdefault(url.split("?")[0], []).append(url)

            def visit(pages: list[str]) -> None:
                for url in pages:
                    fetch(url)

            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                list(pool.map(visit, per_customer.values()))
        else:
            for url in calls:
                fetch(url)
    seconds = time.monotonic() - started
    return {"seconds": seconds, "cpu": cpu_seconds() - cpu_before, "requests": len(sent)}


def minimum_requests(url: str) -> dict[str, int]:
    """The fewest requests that can read each stream, from the sandbox's ground truth."""
    truth = requests.Session()
    customers = len(truth.get(f"{url}/_sandbox/truth/customers", timeout=600).json())
    activity = Counter(
        a["customer_id"] for a in truth.get(f"{url}/_sandbox/truth/activities", timeout=600).json()
    )
    campaigns = truth.get(f"{url}/_sandbox/truth/loyalty_campaigns", timeout=60).json()
    transactions = Counter(
        t.get("campaign_id")
        for t in truth.get(f"{url}/_sandbox/truth/loyalty_transactions", timeout=600).json()
    )
    return {
        "customers": math.ceil(customers / 100),
        "activities": customers + sum(max(0, math.ceil(n / 100) - 1) for n in activity.values()),
        "segments": customers,
        "loyalty": math.ceil(len(campaigns) / 100)
        + sum(max(1, math.ceil(transactions[c["id"]] / 100)) for c in campaigns),
    }


def main() -> None:
    """Start the sandbox, sync, replay bare, print the figures and a RESULTS.md row."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=4, help="fan-out threads (default 4)")
    parser.add_argument("--deadline", type=float, default=3600, help="seconds per child process")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0,
        help="added by the sandbox to every answer, as a remote API's round trip (default 0)",
    )
    options = parser.parse_args()

    options_ = ("--customers", str(options.customers), "--voucherify-requests-per-minute", "0")
    with sandbox(*options_) as urls, tempfile.TemporaryDirectory() as folder:
        url = urls["VOUCHERIFY_BASE_URL"]
        faults = {"latency_ms": options.latency_ms}
        requests.put(f"{url}/_sandbox/faults", json=faults, timeout=60).raise_for_status()
        job = {"url": url, "concurrency": options.concurrency, "log": f"{folder}/requests.json"}
        warehouse = f"duckdb:///{folder}/bench.duckdb"
        synced = run_child(__file__, "sync", {**job, "warehouse": warehouse}, options.deadline)
        bare = run_child(__file__, "bare", {**job, "transport": "requests"}, options.deadline)
        tight = run_child(__file__, "bare", {**job, "transport": "promosync"}, options.deadline)
        minimum = minimum_requests(url)

    rows = sum(s["rows"] for s in synced["streams"].values())
    result = {
        "customers": options.customers,
        "concurrency": options.concurrency,
        "latency_ms": options.latency_ms,
        "sync_seconds": round(synced["seconds"], 1),
        "rows": rows,
        "rows_per_second": round(rows / synced["seconds"]),
        "requests": {k: s["requests"] for k, s in synced["streams"].items()},
        "minimum_requests": minimum,
        "stream_seconds": {k: s["seconds"] for k, s in synced["streams"].items()},
        "peak_rss_mb": round(synced["peak_rss_mb"]),
        "bare_seconds": round(bare["seconds"], 1),
        "bare_requests": bare["requests"],
        "ratio": round(synced["seconds"] / bare["seconds"], 3),
        "cpu_seconds": {
            "sync": round(synced["cpu"], 1),
            "bare": round(bare["cpu"], 1),
            "bare_same_transport": round(tight["cpu"], 1),
        },
        "bare_same_transport_seconds": round(tight["seconds"], 1),
        "ratio_to_same_transport": round(synced["seconds"] / tight["seconds"], 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__" and not child_entry({"sync": run_sync, "bare": run_bare}):
    main()
