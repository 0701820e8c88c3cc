"""Requests of the Voucherify pull by list and by export, side by side (issue 15).

Run with `.venv/bin/python bench/exports.py [--customers 2000] [--seed 23]
[--reconcile-customers 100000]`; results are recorded by hand in bench/RESULTS.md under
"## Exports". For `--customers`: a full sync of the four Voucherify streams from an empty
warehouse with every read on the list (as before issue 15), then the same with each read on the
path promosync chooses, then a reconciliation each way; requests per stream from the reports.
For `--reconcile-customers`: a sandbox of that size, the customers loaded (by export), some
deleted, then the reconciliation by export, its requests and deletes against the truth.
The sandbox runs as `promosync sandbox` in its own process, stopped whatever happens.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from harness import VOUCHERIFY_AUTH as AUTH
from harness import admin, sandbox
from promosync.connectors.voucherify import sync
from promosync.connectors.voucherify.client import voucherify_client
from promosync.connectors.warehouse import Warehouse


def client_of(urls: dict[str, str]):
    return voucherify_client(
        urls["VOUCHERIFY_BASE_URL"], AUTH["X-App-Id"], AUTH["X-App-Token"],
        download_url=urls["VOUCHERIFY_DOWNLOAD_URL"],
    )  # fmt: skip


def full_sync(urls: dict[str, str], folder: Path, path: str) -> dict:
    """Sync the four streams from empty, then reconcile; requests per stream and the modes."""
    client, warehouse = client_of(urls), Warehouse(f"duckdb:///{folder / f'{path}.duckdb'}")
    warehouse.create_tables()
    started = time.monotonic()
    reports = [
        sync.sync_customers(client, warehouse, path=path),
        sync.sync_activities(client, warehouse),
        sync.sync_segments(client, warehouse),
        sync.sync_loyalty_transactions(client, warehouse, path=path),
    ]
    seconds = round(time.monotonic() - started, 1)
    reconcile = sync.reconcile_customers(client, warehouse, path=path)
    warehouse.dispose()
    return {
        "path": path,
        "requests": {r.stream: r.requests for r in reports},
        "total": sum(r.requests for r in reports),
        "customers_mode": f"{reports[0].mode}: {reports[0].mode_reason}",
        "seconds": seconds,
        "reconcile": {"requests": reconcile.requests, "mode": reconcile.mode},
    }


def reconcile_at_scale(urls: dict[str, str], folder: Path, deletes: int) -> dict:
    """Load every customer, delete some at the source, reconcile; requests and exactness."""
    client, warehouse = client_of(urls), Warehouse(f"duckdb:///{folder / 'scale.duckdb'}")
    warehouse.create_tables()
    started = time.monotonic()
    load = sync.sync_customers(client, warehouse)
    loaded = time.monotonic() - started
    gone = set(
        admin(urls["VOUCHERIFY_BASE_URL"], "mutate", {"delete_customers": deletes})["deleted"]
    )
    started = time.monotonic()
    report = sync.reconcile_customers(client, warehouse)
    marked = warehouse.query("SELECT id FROM voucherify_customers WHERE _deleted_at IS NOT NULL")
    warehouse.dispose()
    return {
        "load": {"requests": load.requests, "mode": load.mode, "seconds": round(loaded, 1),
                 "rows": load.written},
        "reconcile": {"requests": report.requests, "mode": report.mode,
                      "other_path_requests": report.other_path_requests,
                      "deleted": report.deleted, "exact": {r["id"] for r in marked} == gone,
                      "seconds": round(time.monotonic() - started, 1)},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--reconcile-customers", type=int, default=0)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        options = ("--customers", str(args.customers), "--seed", str(args.seed))
        with sandbox(*options, "--voucherify-requests-per-minute", "0") as urls:
            results["list"] = full_sync(urls, Path(folder), "list")
            results["auto"] = full_sync(urls, Path(folder), "auto")
        if args.reconcile_customers:
            options = ("--customers", str(args.reconcile_customers), "--seed", str(args.seed))
            with sandbox(*options, "--voucherify-requests-per-minute", "0") as urls:
                results["scale"] = reconcile_at_scale(urls, Path(folder), deletes=30)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
