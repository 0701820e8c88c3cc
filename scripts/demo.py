"""`make demo`: start the sandbox on free ports, show both simulated APIs answering, stop it.

Until the pull connectors land this only proves the sandbox answers as the real APIs would;
from then on the demo runs the real sync against it.
"""

from __future__ import annotations

import subprocess
import sys
import time

import requests

VOUCHERIFY_AUTH = {"X-App-Id": "sandbox-app-id", "X-App-Token": "sandbox-app-token"}
MANAGEMENT_AUTH = {"Authorization": "ManagementKey-v1 sandbox-management-key"}


def start_sandbox(customers: int) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Run `promosync sandbox` on free ports; return the process and its two base URLs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "sandbox", "--customers", str(customers)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines = [process.stdout.readline().strip() for _ in range(2)]
    if not all("=" in line for line in lines):
        process.kill()
        raise SystemExit(f"the sandbox did not start: {lines}")
    return process, dict(line.split("=", 1) for line in lines)


def summary(urls: dict[str, str]) -> list[str]:
    """A few facts read from each simulated API, as a connector would read them."""
    voucherify, talon_one = urls["VOUCHERIFY_BASE_URL"], urls["TALON_ONE_BASE_URL"]
    customers = requests.get(
        f"{voucherify}/v1/customers", params={"limit": 5}, headers=VOUCHERIFY_AUTH, timeout=10
    ).json()
    loyalties = requests.get(f"{voucherify}/v1/loyalties", headers=VOUCHERIFY_AUTH, timeout=10)
    programs = requests.get(f"{talon_one}/v1/loyalty_programs", headers=MANAGEMENT_AUTH, timeout=10)
    profiles = requests.get(
        f"{talon_one}/v1/customers/no_total",
        params={"pageSize": 1000},
        headers=MANAGEMENT_AUTH,
        timeout=10,
    ).json()
    return [
        f"Voucherify  {voucherify}",
        f"  customers:            {customers['total']}",
        f"  newest customer:      {customers['customers'][0]['source_id']}",
        f"  loyalty campaigns:    {len(loyalties.json()['campaigns'])}",
        f"Talon.One   {talon_one}",
        f"  loyalty programs:     {programs.json()['totalResultSize']}",
        f"  profiles (1st page):  {len(profiles['data'])}, more: {profiles['hasMore']}",
    ]


def main() -> None:
    started = time.monotonic()
    process, urls = start_sandbox(customers=1000)
    try:
        print("\n".join(summary(urls)))
    finally:
        process.terminate()
        process.wait(timeout=15)
    print(f"sandbox stopped cleanly after {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
