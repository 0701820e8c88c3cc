"""Push at scale (fewest requests the limits allow) and after a SIGKILL mid-push."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import orjson
from promosync.connectors.push.batching import MAX_BODY_BYTES
from promosync.connectors.talon_one import push as talon_one_push
from promosync.connectors.talon_one.client import talon_one_client
from promosync.connectors.voucherify import push
from promosync.connectors.warehouse import Warehouse

from tests.connectors.test_push_voucherify import insert, posts


def test_metadata_past_one_body_goes_in_the_fewest_requests(
    client, voucherify_admin, tmp_path
) -> None:
    # 12 MB of items: more than one 10 MB body (bench/push.py sends 100,000 rows and more).
    rows = [(f"scale-{i:06d}", {"score": i, "note": "n" * 960}) for i in range(12_000)]
    upload = tmp_path / "metadata.csv"
    with upload.open("w", encoding="utf-8") as out:
        out.write("source_id,metadata\n")
        for source_id, metadata in rows:
            out.write(
                f'{source_id},"{orjson.dumps(metadata).decode().replace(chr(34), 2 * chr(34))}"\n'
            )
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    warehouse.create_tables()
    # Every row's metadata is its own: the rows travel as {source_id, metadata} array items.
    items = sum(len(orjson.dumps({"source_id": s, "metadata": m})) for s, m in rows)
    minimum = -(-(items + len(rows) - 1) // (MAX_BODY_BYTES - 2))

    report = push.push(client, warehouse, "metadata", file=str(upload), deadline_seconds=60)

    assert (report.outcome, report.rows_sent) == ("succeeded", 12_000)
    assert len(report.async_action_ids) == sum(posts(voucherify_admin).values()) == minimum == 2
    customers = {
        c["source_id"]: c for c in voucherify_admin.get("/_sandbox/truth/customers").json()
    }
    assert customers["scale-011999"]["metadata"] == {"score": 11_999, "note": "n" * 960}
    warehouse.dispose()


def test_5000_talon_one_profiles_in_5_requests(sandbox, talon_one_admin, tmp_path) -> None:
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    warehouse.create_tables()
    insert(
        warehouse,
        "push_talon_one_profiles",
        [{"integration_id": f"t1-{i}", "attributes": f'{{"rank": {i}}}'} for i in range(5000)],
    )
    settings = sandbox.settings
    report = talon_one_push.push_profiles(
        talon_one_client(sandbox.talon_one_url, settings.talon_one_api_key), warehouse
    )
    assert (report.outcome, report.rows_sent, report.requests) == ("succeeded", 5000, 5)
    routes = talon_one_admin.get("/_sandbox/stats").json()["routes"]
    assert [r["count"] for r in routes if r["route"] == "/v2/customer_profiles"] == [5]
    profiles = {
        p["integrationId"]: p for p in talon_one_admin.get("/_sandbox/truth/profiles").json()
    }
    assert profiles["t1-4999"]["attributes"]["rank"] == 4999
    warehouse.dispose()


def test_a_push_killed_after_upload_is_polled_not_resent(
    sandbox, client, warehouse, voucherify_admin
) -> None:
    voucherify_admin.put("/_sandbox/config", json={"async_action_seconds": 2.0})
    insert(
        warehouse,
        "push_voucherify_metadata",
        [{"source_id": f"k-{i}", "metadata": f'{{"k": {i}}}'} for i in range(30)],
    )
    warehouse.dispose()  # a DuckDB file admits one writing process at a time
    settings = sandbox.settings
    env = {
        **os.environ,
        "VOUCHERIFY_BASE_URL": sandbox.voucherify_url,
        "VOUCHERIFY_APP_ID": settings.voucherify_app_id,
        "VOUCHERIFY_APP_TOKEN": settings.voucherify_app_token,
        "WAREHOUSE_URL": warehouse.url,
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "promosync.pipelines.push_cli", "metadata", "--deadline", "60"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = time.monotonic()
    for line in child.stderr:
        if "recorded" in line or time.monotonic() - started > 30:
            break
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    (action,) = voucherify_admin.get("/_sandbox/truth/async_actions").json()
    assert action["status"] != "DONE"  # killed while the action was still running

    report = push.push(client, warehouse, "metadata", deadline_seconds=20)

    assert report.resumed_action_ids == [action["id"]]
    assert (report.rows_sent, report.rows_skipped) == (0, 30)
    assert sum(posts(voucherify_admin).values()) == 1  # polled, never sent again
    assert len(voucherify_admin.get("/_sandbox/truth/async_actions").json()) == 1
    killed = warehouse.query(
        "SELECT outcome FROM push_runs WHERE run_id <> :r", {"r": report.run_id}
    )
    assert [row["outcome"] for row in killed] == ["succeeded"]
