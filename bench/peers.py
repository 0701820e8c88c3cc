"""Benchmark promosync side by side with a bare fetch loop (the floor) and dlt's rest_api source.

Run with `.venv/bin/python bench/peers.py [--customers 100000] [--talon-one-transactions N]`.
One sandbox (every rate limit off) serves the same data to three child processes, run one after
the other into the same DuckDB file: promosync (`voucherify_customers` and
`talon_one_loyalty_transactions` through its connector functions, schema `main`), recording each
request it sends; the floor, replaying exactly those requests in order and discarding the bodies;
dlt (`bench/dlt_source.py`, dataset `dlt_peer`, loader file format `--dlt-format`, parquet by
default: dlt's recommended path to DuckDB). Rows, duplicate keys and keys missing from the
sandbox's truth are counted per table afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from harness import (
    TALON_ONE_KEY,
    TALON_ONE_MANAGEMENT_KEY,
    VOUCHERIFY_AUTH,
    admin,
    child_entry,
    fetch_and_discard,
    peak_rss_mb,
    record_requests,
    run_child,
    sandbox,
)

TABLES = {  # stream -> (promosync table, dlt table, truth collection, key in the truth)
    "voucherify_customers": ("main.voucherify_customers", "dlt_peer.customers", "customers"),
    "talon_one_loyalty_transactions": (
        "main.talon_one_loyalty_transactions",
        "dlt_peer.loyalty_transactions",
        "loyalty_transactions",
    ),
}


def run_promosync(job: dict[str, Any]) -> dict[str, Any]:
    """Child: promosync's two streams, recording (stream, URL, params) of every request."""
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
    sent: list[tuple[str, str]] = []
    for name, client in (
        ("voucherify_customers", voucherify),
        ("talon_one_loyalty_transactions", talon_one.management),
    ):
        record_requests(client, sent, lambda name=name: name)
    warehouse = Warehouse(job["warehouse"])
    warehouse.create_tables()
    steps = {
        "voucherify_customers": lambda: sync.sync_customers(voucherify, warehouse),
        "talon_one_loyalty_transactions": lambda: sync_transactions(
            talon_one, warehouse, mode="program"
        ),
    }
    streams = {}
    started = time.monotonic()
    for name, step in steps.items():
        report = step()
        streams[name] = {"seconds": report.seconds, "requests": report.requests}
    seconds = time.monotonic() - started
    warehouse.dispose()
    Path(job["log"]).write_text(json.dumps(sent))
    return {"seconds": round(seconds, 2), "streams": streams, "peak_rss_mb": round(peak_rss_mb())}


def run_floor(job: dict[str, Any]) -> dict[str, Any]:
    """Child: the same requests, in the same order, bodies read in full and discarded."""
    sent = json.loads(Path(job["log"]).read_text())
    headers = {
        "voucherify_customers": VOUCHERIFY_AUTH,
        "talon_one_loyalty_transactions": {
            "Authorization": f"ManagementKey-v1 {TALON_ONE_MANAGEMENT_KEY}"
        },
    }
    sessions = {name: requests.Session() for name in headers}
    for name, session in sessions.items():
        session.headers.update(headers[name])
    streams: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    for name in headers:
        calls = [url for stream, url in sent if stream == name]
        begun = time.monotonic()
        for url in calls:
            fetch_and_discard(sessions[name], url)
        streams[name] = {"seconds": round(time.monotonic() - begun, 3), "requests": len(calls)}
    seconds = round(time.monotonic() - started, 2)
    return {"seconds": seconds, "streams": streams, "peak_rss_mb": round(peak_rss_mb())}


def run_dlt(job: dict[str, Any]) -> dict[str, Any]:
    """Child: dlt's rest_api source for both streams, each `pipeline.run` timed on its own."""
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    import dlt
    from dlt_source import talon_one_transactions, voucherify_customers

    pipeline = dlt.pipeline(
        pipeline_name="promosync_bench",
        destination=dlt.destinations.duckdb(job["database"]),
        dataset_name="dlt_peer",
        pipelines_dir=job["pipelines_dir"],
    )
    sources = {
        "voucherify_customers": voucherify_customers(
            job["voucherify_url"], VOUCHERIFY_AUTH["X-App-Id"], VOUCHERIFY_AUTH["X-App-Token"]
        ),
        "talon_one_loyalty_transactions": talon_one_transactions(
            job["talon_one_url"], TALON_ONE_MANAGEMENT_KEY
        ),
    }
    streams = {}
    started = time.monotonic()
    for name, source in sources.items():
        begun = time.monotonic()
        pipeline.run(source, loader_file_format=job["dlt_format"])
        streams[name] = {"seconds": round(time.monotonic() - begun, 3)}
    seconds = round(time.monotonic() - started, 2)
    return {"seconds": seconds, "streams": streams, "peak_rss_mb": round(peak_rss_mb())}


def key_audit(database: Path, urls: dict[str, str]) -> dict[str, dict[str, dict[str, int]]]:
    """Per stream and contender: rows, duplicate keys and keys missing from the truth."""
    import duckdb

    truth = {
        "voucherify_customers": admin(urls["VOUCHERIFY_BASE_URL"], "truth/customers"),
        "talon_one_loyalty_transactions": admin(
            urls["TALON_ONE_BASE_URL"], "truth/loyalty_transactions"
        ),
    }
    audit: dict[str, dict[str, dict[str, int]]] = {}
    with duckdb.connect(str(database), read_only=True) as db:
        for stream, (ours, theirs, _) in TABLES.items():
            expected = {str(row["id"]) for row in truth[stream]}
            audit[stream] = {}
            for contender, table in (("promosync", ours), ("dlt", theirs)):
                try:
                    found = db.execute(f"SELECT id FROM {table}").fetchall()
                except duckdb.CatalogException:  # that contender failed before loading it
                    continue
                ids = [str(row[0]) for row in found]
                audit[stream][contender] = {
                    "rows": len(ids),
                    "duplicate_keys": len(ids) - len(set(ids)),
                    "missing_keys": len(expected - set(ids)),
                    "unexpected_keys": len(set(ids) - expected),
                    "truth": len(expected),
                }
    return audit


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """ours / theirs, or None when either failed."""
    return round(ours / theirs, 3) if ours and theirs else None


def main() -> None:
    """Start the sandbox, run the three contenders, audit the keys, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--talon-one-transactions", type=int, default=0, help="0: 10 per customer")
    parser.add_argument("--deadline", type=float, default=3600, help="seconds per child process")
    parser.add_argument(
        "--dlt-format",
        default="parquet",
        help="dlt's loader file format: parquet (default, dlt's fast path), insert_values (its"
        " default for DuckDB: 8.5 GB and over 8 minutes for 200,000 entries here) or jsonl"
        " (DuckDB's read_json then refuses keys missing from its sample)",
    )
    options = parser.parse_args()
    transactions = options.talon_one_transactions or options.customers * 10
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "peers.duckdb"
        with sandbox(
            "--customers", str(options.customers), "--talon-one-transactions", str(transactions),
            "--voucherify-requests-per-minute", "0", "--management-requests-per-second", "0",
        ) as urls:  # fmt: skip
            job = {
                "voucherify_url": urls["VOUCHERIFY_BASE_URL"],
                "talon_one_url": urls["TALON_ONE_BASE_URL"],
                "warehouse": f"duckdb:///{database}",
                "database": str(database),
                "log": str(Path(folder) / "requests.json"),
                "pipelines_dir": str(Path(folder) / "dlt"),
                "dlt_format": options.dlt_format,
            }
            results = {}
            for contender in ("promosync", "floor", "dlt"):
                try:
                    results[contender] = run_child(__file__, contender, job, options.deadline)
                except RuntimeError as error:  # the others' figures still count
                    results[contender] = {"error": str(error)[:2000]}
            audit = key_audit(database, urls)
    seconds = {name: result.get("seconds") for name, result in results.items()}
    summary = {
        "customers": options.customers,
        "talon_one_transactions": transactions,
        "dlt_loader_file_format": options.dlt_format,
        "seconds": seconds,
        "stream_seconds": {name: result.get("streams") for name, result in results.items()},
        "peak_rss_mb": {name: result.get("peak_rss_mb") for name, result in results.items()},
        "errors": {name: result["error"] for name, result in results.items() if "error" in result},
        "keys": audit,
        "promosync_vs_floor": ratio(seconds["promosync"], seconds["floor"]),
        "promosync_vs_dlt": ratio(seconds["promosync"], seconds["dlt"]),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__" and not child_entry(
    {"promosync": run_promosync, "floor": run_floor, "dlt": run_dlt}
):
    main()
