"""`make demo`: start the sandbox on free ports, sync both platforms into DuckDB, query, stop."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from promosync.connectors.warehouse import Warehouse
from promosync.sandbox.server import spawn

WAREHOUSE_FILE = Path(".promosync/demo.duckdb")
CREDENTIALS = {
    "VOUCHERIFY_APP_ID": "sandbox-app-id",
    "VOUCHERIFY_APP_TOKEN": "sandbox-app-token",
    "TALON_ONE_API_KEY": "sandbox-api-key",
    "TALON_ONE_MANAGEMENT_KEY": "sandbox-management-key",
}
EXAMPLE_QUERY = """
SELECT c.address_country AS country,
       count(*) AS customers,
       sum(coalesce(a.events, 0)) AS activities,
       round(avg(c.orders_total_amount) / 100.0, 2) AS avg_order_total,
       round(sum(coalesce(b.points, 0))) AS talon_one_points
FROM voucherify_customers c
LEFT JOIN (SELECT customer_id, count(*) AS events
           FROM voucherify_customer_activities GROUP BY customer_id) a ON a.customer_id = c.id
LEFT JOIN (SELECT owner_id, sum(current_points) AS points
           FROM talon_one_loyalty_balances WHERE owner_kind = 'profile'
           GROUP BY owner_id) b ON b.owner_id = c.source_id
WHERE c._deleted_at IS NULL
GROUP BY 1 ORDER BY customers DESC LIMIT 5
"""


def start_sandbox(customers: int) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Run `promosync sandbox` on free ports; return the process and its two base URLs."""
    return spawn("--customers", str(customers))


def main() -> None:
    started = time.monotonic()
    WAREHOUSE_FILE.unlink(missing_ok=True)
    url = f"duckdb:///{WAREHOUSE_FILE}"
    process, urls = start_sandbox(customers=500)
    try:
        print(
            f"sandbox: {urls['VOUCHERIFY_BASE_URL']} (Voucherify),"
            f" {urls['TALON_ONE_BASE_URL']} (Talon.One)"
        )
        env = {**os.environ, **urls, **CREDENTIALS, "WAREHOUSE_URL": url}
        sync = subprocess.Popen([sys.executable, "-m", "promosync.pipelines.cli", "sync"], env=env)
        try:
            code = sync.wait()
        except KeyboardInterrupt:  # the sync got the Ctrl-C too: it stops at a safe point
            code = sync.wait()
        if code:
            raise SystemExit(code)  # the sync printed why
    finally:
        process.terminate()
        process.wait(timeout=15)
    warehouse = Warehouse(url)
    rows = warehouse.query(EXAMPLE_QUERY)
    warehouse.dispose()
    print(f"\nexample analyst query on {WAREHOUSE_FILE}:{EXAMPLE_QUERY}")
    columns = list(rows[0]) if rows else []
    print("  ".join(f"{c:>16}" for c in columns))
    for row in rows:
        print("  ".join(f"{row[c]!s:>16}" for c in columns))
    print(f"\ndone in {time.monotonic() - started:.1f} s; the sandbox is stopped")


if __name__ == "__main__":
    main()
