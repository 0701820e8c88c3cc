"""Measure the warehouse's bulk upsert: each database's fast path against plain executemany.

`.venv/bin/python bench/warehouse.py [--rows N]` upserts N customer-shaped rows (then the same N
again, as updates) into DuckDB and PostgreSQL, first through `Warehouse.write_batch` (DuckDB:
a registered DataFrame; PostgreSQL: COPY into a staging table), then through the generic path
(delete + executemany) that other SQLAlchemy dialects use. Results go in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from promosync.connectors.warehouse import Warehouse

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def rows(count: int, version: int) -> list[dict]:
    """Customer-shaped rows with nested JSON, like the Voucherify stream writes."""
    base = datetime(2025, 1, 1, tzinfo=UTC)
    return [
        {
            "id": f"cust_{index:08d}",
            "source_id": f"src_{index}",
            "name": f"Customer {index} ż",
            "email": f"c{index}@example.com",
            "metadata": {"tier": "gold", "v": version, "tags": ["a", "b"], "n": index / 3},
            "updated_at": base + timedelta(seconds=index + version),
            "created_at": base,
            "_raw": {"id": f"cust_{index:08d}", "deep": {"list": list(range(5))}, "v": version},
            "_synced_at": base,
        }
        for index in range(count)
    ]


def measure(warehouse: Warehouse, count: int, batch: int) -> tuple[float, float]:
    """Seconds to insert `count` rows, then to update them all, in batches of `batch`."""
    timings = []
    for version in (1, 2):
        data = rows(count, version)
        started = time.perf_counter()
        for start in range(0, count, batch):
            chunk = data[start : start + batch]
            warehouse.write_batch("voucherify_customers", ["id"], chunk, {("bench", ""): "x"})
        timings.append(time.perf_counter() - started)
    return timings[0], timings[1]


class GenericWarehouse(Warehouse):
    """The same warehouse forced onto the generic (delete + executemany) path."""

    @property
    def _fast(self) -> bool:
        return False


def open_warehouse(kind: str, cls: type[Warehouse], workdir: str) -> tuple[Warehouse, str | None]:
    if kind == "duckdb":
        store = cls(f"duckdb:///{workdir}/{cls.__name__}.duckdb")
        store.create_tables()
        return store, None
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with sa.create_engine(POSTGRES_URL).begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    store = cls(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    store.create_tables()
    return store, schema


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        for kind in ("duckdb", "postgresql"):
            for cls in (Warehouse, GenericWarehouse):
                store, schema = open_warehouse(kind, cls, workdir)
                insert, update = measure(store, args.rows, args.batch)
                store.dispose()
                if schema:
                    with sa.create_engine(POSTGRES_URL).begin() as conn:
                        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
                path = "fast" if cls is Warehouse else "generic"
                print(
                    f"{kind:10} {path:7} insert {args.rows / insert:9.0f} rows/s"
                    f"   update {args.rows / update:9.0f} rows/s"
                )


if __name__ == "__main__":
    main()
