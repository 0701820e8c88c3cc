"""Crash safety of the Voucherify pull: a sync killed with SIGKILL at any moment resumes exactly."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from connectors.warehouse import Warehouse
from tests.conftest import ApiSession
from tests.connectors.test_voucherify_sync import assert_parity

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 5
# Added to every response of a run that gets killed: with 16 requests in flight, syncing the 300
# test customers (~610 requests) cannot take less than ~1.9 s, so kills within 1.8 s land mid-way.
LATENCY_MS = 50

# The process under test: all four streams, as a scheduled pull runs them.
SYNC_PROCESS = """
import os
from connectors.voucherify import sync
from connectors.voucherify.client import voucherify_client
from connectors.warehouse import Warehouse

client = voucherify_client(
    os.environ["VOUCHERIFY_BASE_URL"],
    os.environ["VOUCHERIFY_APP_ID"],
    os.environ["VOUCHERIFY_APP_TOKEN"],
)
warehouse = Warehouse(os.environ["WAREHOUSE_URL"])
print("ready", flush=True)
sync.sync_customers(client, warehouse)
sync.sync_activities(client, warehouse, concurrency=16)
sync.sync_segments(client, warehouse, concurrency=16)
sync.sync_loyalty_transactions(client, warehouse)
print("done", flush=True)
"""


def start_sync(base_url: str, warehouse_url: str) -> subprocess.Popen[str]:
    """Start the sync in its own process and wait until it is about to send its first request."""
    env = {
        **os.environ,
        "VOUCHERIFY_BASE_URL": base_url,
        "VOUCHERIFY_APP_ID": "sandbox-app-id",
        "VOUCHERIFY_APP_TOKEN": "sandbox-app-token",
        "WAREHOUSE_URL": warehouse_url,
    }
    process = subprocess.Popen(
        [sys.executable, "-c", SYNC_PROCESS],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready", process.stderr.read()
    return process


def run_sync_to_completion(base_url: str, warehouse_url: str) -> None:
    """Rerun the sync in a fresh process and require it to finish cleanly."""
    process = start_sync(base_url, warehouse_url)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0 and out.strip() == "done", err


def table_counts(warehouse: Warehouse) -> dict[str, int]:
    """Rows per pulled table."""
    tables = (
        "voucherify_customers",
        "voucherify_customer_activities",
        "voucherify_customer_segments",
        "voucherify_loyalty_transactions",
    )
    return {t: warehouse.query(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in tables}


def truth_counts(admin: ApiSession) -> dict[str, int]:
    """Records per collection in the sandbox, under the warehouse's table names."""
    segments = admin.get("/_sandbox/truth/segments").json()
    return {
        "voucherify_customers": len(admin.get("/_sandbox/truth/customers").json()),
        "voucherify_customer_activities": len(admin.get("/_sandbox/truth/activities").json()),
        "voucherify_customer_segments": sum(len(entry["segments"]) for entry in segments),
        "voucherify_loyalty_transactions": len(
            admin.get("/_sandbox/truth/loyalty_transactions").json()
        ),
    }


def assert_no_duplicate_keys(warehouse: Warehouse) -> None:
    """Every pulled table holds each primary key once."""
    keys = {
        "voucherify_customers": "id",
        "voucherify_customer_activities": "id",
        "voucherify_customer_segments": "customer_id, segment_id",
        "voucherify_loyalty_transactions": "id",
    }
    for table, key in keys.items():
        duplicates = warehouse.query(
            f"SELECT {key}, count(*) AS n FROM {table} GROUP BY {key} HAVING count(*) > 1"
        )
        assert duplicates == [], f"{table} holds duplicate keys: {duplicates[:3]}"


def empty(warehouse: Warehouse) -> None:
    """Delete every row, cursors included, so the next trial starts from nothing."""
    tables = warehouse.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    )
    with warehouse.engine.begin() as conn:
        for row in tables:
            conn.execute(sa.text(f'DELETE FROM "{row["table_name"]}"'))
    warehouse.dispose()  # a DuckDB file admits one writing process at a time


def test_a_sync_killed_at_random_moments_resumes_to_exact_parity(
    sandbox, warehouse, voucherify_admin
) -> None:
    truth = truth_counts(voucherify_admin)
    delays = random.Random(20261122)
    killed_mid_way = 0
    for _ in range(TRIALS):
        empty(warehouse)
        voucherify_admin.put("/_sandbox/faults", json={"latency_ms": LATENCY_MS}).raise_for_status()
        process = start_sync(sandbox.voucherify_url, warehouse.url)
        time.sleep(delays.uniform(0.05, 1.8))
        still_running = process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

        at_kill = table_counts(warehouse)
        assert_no_duplicate_keys(warehouse)
        assert all(at_kill[table] <= truth[table] for table in truth)
        killed_mid_way += still_running and at_kill != truth
        warehouse.dispose()

        voucherify_admin.put("/_sandbox/faults", json={}).raise_for_status()
        run_sync_to_completion(sandbox.voucherify_url, warehouse.url)
        assert_no_duplicate_keys(warehouse)
        assert_parity(voucherify_admin, warehouse)
        assert table_counts(warehouse) == truth
    assert killed_mid_way >= 3, "too few kills landed mid-sync to prove anything"
