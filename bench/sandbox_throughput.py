"""Benchmark the sandbox: pages of 100 customers served per second, and start-up of a large dataset.

Run with `make bench` (or `.venv/bin/python bench/sandbox_throughput.py`); results are recorded
by hand in bench/RESULTS.md with the machine they were measured on. Targets (issue #2):
>= 500 pages/s on loopback on a 2-core machine; a 100,000-customer sandbox up in <= 60 s and
<= 2 GB. Also timed: an export of every customer, until its files are downloaded (issue #15).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import threading
import time
from pathlib import Path

import requests
from harness import peak_rss_mb
from promosync.sandbox.server import spawn
from promosync.sandbox.voucherify.export_requests import CUSTOMER_FIELDS

AUTH = {"X-App-Id": "sandbox-app-id", "X-App-Token": "sandbox-app-token"}
EVERY_CUSTOMER_FIELD = list(CUSTOMER_FIELDS)


def start(customers: int) -> tuple[subprocess.Popen[str], str, float]:
    """Start `promosync sandbox`; return it, its Voucherify URL and seconds until it answered."""
    started = time.monotonic()
    process, urls = spawn(
        "--customers", str(customers), "--voucherify-requests-per-minute", "0", quiet=True
    )
    url = urls["VOUCHERIFY_BASE_URL"]
    requests.get(f"{url}/v1/customers", headers=AUTH, timeout=60).raise_for_status()
    return process, url, time.monotonic() - started


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def page_throughput(url: str, seconds: float, clients: int) -> tuple[int, float]:
    """Pages of 100 customers fetched in `seconds` by `clients` keep-alive sessions."""
    counts = [0] * clients
    deadline = time.monotonic() + seconds

    def walk(index: int) -> None:
        session = requests.Session()
        session.headers.update(AUTH)
        page = 1 + index
        while time.monotonic() < deadline:
            response = session.get(
                f"{url}/v1/customers",
                params={"limit": 100, "page": page, "order": "updated_at"},
                timeout=30,
            )
            response.raise_for_status()
            assert len(response.content) > 10_000  # a full page, not an error body
            counts[index] += 1
            page = page % 99 + 1

    threads = [threading.Thread(target=walk, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return sum(counts), sum(counts) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--page-customers", type=int, default=10_000)
    parser.add_argument("--large-customers", type=int, default=100_000)
    args = parser.parse_args()

    process, url, _ = start(args.page_customers)
    try:
        cpu_before = cpu_seconds(process.pid)
        pages, rate = page_throughput(url, args.seconds, args.clients)
        cpu_per_page_ms = (cpu_seconds(process.pid) - cpu_before) * 1000 / max(1, pages)
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(f"pages of 100 customers: {pages} in {args.seconds:.0f} s = {rate:.0f} pages/s "
          f"({args.clients} client threads, {args.page_customers} customers); "
          f"sandbox CPU {cpu_per_page_ms:.2f} ms a page")  # fmt: skip

    process, url, startup = start(args.large_customers)
    try:
        rss = peak_rss_mb(process.pid)
        seconds, files, size = export_everyone(url)
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(f"start-up, {args.large_customers} customers: {startup:.1f} s, peak RSS {rss:.0f} MiB")
    print(f"export of every customer, every field: DONE and downloaded in {seconds:.1f} s "
          f"({files} file(s), {size / 2**20:.0f} MiB; the export itself takes 1 s)")  # fmt: skip


def export_everyone(url: str) -> tuple[float, int, int]:
    """Export every customer with every field and download it: seconds, files, bytes."""
    started = time.monotonic()
    body = {"exported_object": "customer", "parameters": {"fields": EVERY_CUSTOMER_FIELD}}
    export = requests.post(f"{url}/v1/exports", json=body, headers=AUTH, timeout=60).json()
    while export["status"] not in ("DONE", "ERROR"):
        time.sleep(0.1)
        export = requests.get(f"{url}/v1/exports/{export['id']}", headers=AUTH, timeout=600).json()
    urls = export["result"].get("urls") or [export["result"]["url"]]
    size = sum(len(requests.get(u, headers=AUTH, timeout=600).content) for u in urls)
    return time.monotonic() - started, len(urls), size


if __name__ == "__main__":
    main()
