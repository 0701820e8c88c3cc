"""Benchmark the push: Voucherify customer metadata and Talon.One profiles from the warehouse.

Run with `.venv/bin/python bench/push.py [--metadata-rows 100000] [--profiles 50000]`. The
sandbox (rate limits off, async actions taking `--async-action-seconds`) serves as many
customers as there are metadata rows; a child process fills the push input tables of an empty
DuckDB file (each row a different payload, keys of existing customers and profiles, some
unknown to Talon.One so they are created) and runs `promosync push metadata` and
`promosync push talon-profiles` through their connector functions. Every request is counted by
method and path, with the bytes of its body; polls are the `GET /v1/async-actions/{id}` calls.

`--memory 10000,100000,1000000` measures instead the peak RSS of a push by input size: for each
size a CSV file of metadata rows (`--shape`: `tier`, three tiers, the rows grouped into metadata
requests; `unique`, a JSON object of its own per row, sent as bulk items) is written, then a
fresh child runs `promosync push metadata --file` as a dry run, and another one for real against
the sandbox (`--real`, async actions left running past a short `--memory-deadline`: the sending
is measured, not the simulator applying them), each reporting its peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness import (
    TALON_ONE_KEY,
    TALON_ONE_MANAGEMENT_KEY,
    VOUCHERIFY_AUTH,
    child_entry,
    peak_rss_mb,
    run_child,
    sandbox,
    tap,
)


def fill_inputs(database: str, metadata_rows: int, profiles: int, seed: int) -> None:
    """Distinct payloads per key: one metadata object per customer, attributes per profile."""
    import duckdb

    with duckdb.connect(database) as db:
        db.execute(
            "INSERT INTO push_voucherify_metadata SELECT printf('src_%d_%07d', ?, i),"
            " json_object('bench_tier', ['gold', 'silver', 'bronze'][i % 3 + 1],"
            " 'bench_score', i, 'bench_note', 'Zażółć ' || i) FROM range(?) AS t(i)",
            [seed, metadata_rows],
        )
        db.execute(
            "INSERT INTO push_talon_one_profiles SELECT printf('src_%d_%07d', ?, i),"
            " json_object('BenchScore', i, 'Tier', ['Gold', 'Silver'][i % 2 + 1])"
            " FROM range(?) AS t(i)",
            [seed, profiles],
        )


class Traffic:
    """Requests a client sent, by (method, route), with the bytes of their bodies."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.body_bytes: Counter[str] = Counter()

    def seen(self, method: str, url: str, body: bytes | None, *_: Any) -> None:
        """Count one request (`harness.tap`'s callback)."""
        path = urlsplit(url).path
        route = "/v1/async-actions/{id}" if path.startswith("/v1/async-actions/") else path
        key = f"{method} {route}"
        self.requests[key] += 1
        self.body_bytes[key] += len(body or b"")


def run_push(job: dict[str, Any]) -> dict[str, Any]:
    """Child: fill the inputs, push metadata to Voucherify, then profiles to Talon.One."""
    from promosync.connectors.talon_one.client import talon_one_client
    from promosync.connectors.talon_one.push import push_profiles
    from promosync.connectors.voucherify.client import voucherify_client
    from promosync.connectors.voucherify.push import push
    from promosync.connectors.warehouse import Warehouse

    warehouse = Warehouse(f"duckdb:///{job['database']}")
    warehouse.create_tables()
    warehouse.dispose()
    fill_inputs(job["database"], job["metadata_rows"], job["profiles"], job["seed"])
    warehouse = Warehouse(f"duckdb:///{job['database']}")
    voucherify = voucherify_client(
        job["voucherify_url"], VOUCHERIFY_AUTH["X-App-Id"], VOUCHERIFY_AUTH["X-App-Token"]
    )
    talon_one = talon_one_client(job["talon_one_url"], TALON_ONE_KEY, TALON_ONE_MANAGEMENT_KEY)
    results = {}
    pushes = {
        "voucherify_metadata": (
            voucherify,
            lambda: push(voucherify, warehouse, "metadata"),
        ),
        "talon_one_profiles": (
            talon_one.integration,
            lambda: push_profiles(talon_one, warehouse),
        ),
    }
    for name, (client, run) in pushes.items():
        traffic = Traffic()
        tap(client, traffic.seen)
        started = time.monotonic()
        report = run()
        seconds = time.monotonic() - started
        polls = traffic.requests.get("GET /v1/async-actions/{id}", 0)
        results[name] = {
            "outcome": report.outcome,
            "error": report.error,
            "rows_considered": report.rows_considered,
            "rows_sent": report.rows_sent,
            "rows_failed": report.rows_failed,
            "seconds": round(seconds, 2),
            "requests": sum(traffic.requests.values()),
            "polling_requests": polls,
            "bytes_sent": sum(traffic.body_bytes.values()),
            "by_route": {
                key: {"requests": n, "bytes": traffic.body_bytes[key]}
                for key, n in sorted(traffic.requests.items())
            },
        }
    warehouse.dispose()
    return results


def write_metadata_csv(path: Path, rows: int, shape: str) -> int:
    """A metadata CSV file of `rows` rows (see the module doc for the shapes); its size."""
    with path.open("w", encoding="utf-8", newline="") as out:
        if shape == "tier":
            out.write("source_id,tier\r\n")
            tiers = ("gold", "silver", "bronze")
            out.writelines(f"src_{i:07d},{tiers[i % 3]}\r\n" for i in range(rows))
        else:
            out.write("source_id,metadata\r\n")
            out.writelines(
                f'src_{i:07d},"{{""bench_score"": {i}, ""bench_note"": ""n{i}""}}"\r\n'
                for i in range(rows)
            )
    return path.stat().st_size


def run_memory(job: dict[str, Any]) -> dict[str, Any]:
    """Child: one metadata push of a CSV file (a dry run, or real); its peak RSS and counts."""
    from promosync.connectors.voucherify.client import voucherify_client
    from promosync.connectors.voucherify.push import push
    from promosync.connectors.warehouse import Warehouse

    warehouse = Warehouse(job["warehouse_url"])
    warehouse.create_tables()
    client = voucherify_client(
        job["voucherify_url"], VOUCHERIFY_AUTH["X-App-Id"], VOUCHERIFY_AUTH["X-App-Token"]
    )
    before = peak_rss_mb()
    started = time.monotonic()
    report = push(client, warehouse, "metadata", file=job["file"], dry_run=job["dry_run"],
                  deadline_seconds=job["deadline"])  # fmt: skip
    seconds = time.monotonic() - started
    warehouse.dispose()
    return {
        "outcome": report.outcome,
        "rows_considered": report.rows_considered,
        "rows_sent": report.rows_sent,
        "batches": len(report.batches),
        "requests": report.requests,
        "seconds": round(seconds, 1),
        "rss_after_imports_mb": round(before, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


@contextlib.contextmanager
def fresh_warehouse(postgresql: str | None, folder: str, name: str) -> Iterator[str]:
    """The URL of an empty warehouse: a DuckDB file in `folder`, or a new PostgreSQL schema."""
    if not postgresql:
        yield f"duckdb:///{Path(folder) / name}.duckdb"
        return
    import sqlalchemy as sa

    schema = f"bench_{name}_{os.getpid()}"
    admin_engine = sa.create_engine(postgresql)
    with admin_engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{postgresql}?options=-csearch_path%3D{schema}"
    finally:
        with admin_engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin_engine.dispose()


def memory(options: argparse.Namespace) -> dict[str, Any]:
    """Peak RSS of a dry run (and of a real push) per input size, and the ratio of the extremes."""
    sizes = [int(size) for size in options.memory.split(",")]
    runs: dict[str, dict[str, Any]] = {"dry_run": {}, "push": {}}
    with tempfile.TemporaryDirectory() as folder, sandbox(
        "--customers", "10", "--async-action-seconds", str(options.async_action_seconds),
        "--voucherify-requests-per-minute", "0",
    ) as urls:  # fmt: skip
        for rows in sizes:
            csv_path = Path(folder) / f"metadata_{rows}.csv"
            file_bytes = write_metadata_csv(csv_path, rows, options.shape)
            for kind in ("dry_run", "push") if options.real else ("dry_run",):
                with fresh_warehouse(options.postgresql, folder, f"{kind}_{rows}") as url:
                    job = {
                        "voucherify_url": urls["VOUCHERIFY_BASE_URL"],
                        "warehouse_url": url,
                        "file": str(csv_path),
                        "dry_run": kind == "dry_run",
                        "deadline": options.memory_deadline,
                    }
                    result = run_child(__file__, "memory", job, options.deadline)
                runs[kind][str(rows)] = {"file_bytes": file_bytes, **result}
            csv_path.unlink()
    ratios = {
        kind: round(found[str(sizes[-1])]["peak_rss_mb"] / found[str(sizes[0])]["peak_rss_mb"], 2)
        for kind, found in runs.items()
        if found
    }
    warehouse = "postgresql" if options.postgresql else "duckdb"
    return {"shape": options.shape, "warehouse": warehouse, "sizes": sizes, **runs,
            "peak_rss_ratio": ratios}  # fmt: skip


def main() -> None:
    """Start the sandbox, run both pushes in a child, print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metadata-rows", type=int, default=100_000)
    parser.add_argument("--profiles", type=int, default=50_000)
    parser.add_argument("--async-action-seconds", type=float, default=1.0)
    parser.add_argument("--deadline", type=float, default=1800, help="seconds for the child")
    parser.add_argument("--memory", help="input sizes, e.g. 10000,100000,1000000: peak RSS mode")
    parser.add_argument("--shape", choices=("tier", "unique"), default="unique")
    parser.add_argument("--real", action="store_true", help="--memory: also push for real")
    parser.add_argument("--memory-deadline", type=float, default=5.0, help="--memory: --deadline")
    parser.add_argument("--postgresql", help="--memory: a PostgreSQL URL instead of DuckDB files")
    options = parser.parse_args()
    if options.memory:
        print(json.dumps(memory(options), indent=2))
        return
    seed = 42
    with (
        tempfile.TemporaryDirectory() as folder,
        sandbox(
            "--customers", str(options.metadata_rows), "--seed", str(seed),
            "--async-action-seconds", str(options.async_action_seconds),
            "--voucherify-requests-per-minute", "0", "--management-requests-per-second", "0",
        ) as urls,
    ):  # fmt: skip
        job = {
            "voucherify_url": urls["VOUCHERIFY_BASE_URL"],
            "talon_one_url": urls["TALON_ONE_BASE_URL"],
            "database": str(Path(folder) / "push.duckdb"),
            "metadata_rows": options.metadata_rows,
            "profiles": options.profiles,
            "seed": seed,
        }
        results = run_child(__file__, "push", job, options.deadline)
    results.pop("child_seconds", None)
    summary = {
        "metadata_rows": options.metadata_rows,
        "profiles": options.profiles,
        "async_action_seconds": options.async_action_seconds,
        **results,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__" and not child_entry({"push": run_push, "memory": run_memory}):
    main()
