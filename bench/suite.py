"""Run every benchmark of bench/ (`make bench`) and print a summary with the targets.

`.venv/bin/python bench/suite.py [--customers 100000] [--only scale,peers]`: the sandbox
throughput, the pull at scale, rate-limit efficiency, promosync against its peers, and the push,
each script in its own process with a deadline (each also runs alone; see its --help). The full
JSON of every script goes to `--output` (default .promosync/bench.json); record the figures in
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent


def scripts(options: argparse.Namespace) -> dict[str, list[str]]:
    """Each benchmark's command line (scaled by --customers)."""
    customers = str(options.customers)
    baseline = str(max(1, options.customers // 10))
    return {
        "sandbox": ["sandbox_throughput.py", "--large-customers", customers],
        "scale": ["scale.py", "--customers", customers, "--baseline-customers", baseline],
        "ratelimit": ["ratelimit.py", "--customers", str(options.ratelimit_customers)],
        "peers": ["peers.py", "--customers", customers],
        "push": [
            "push.py",
            "--metadata-rows", customers,
            "--profiles", str(max(1, options.customers // 2)),
        ],
    }  # fmt: skip


def run(command: list[str], deadline: float) -> tuple[dict[str, Any] | str, float]:
    """Run one script; its JSON (or its last lines when it prints none) and its wall time."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, str(BENCH / command[0]), *command[1:]],
            capture_output=True,
            text=True,
            timeout=deadline,
        )
    except subprocess.TimeoutExpired:
        return f"killed at its {deadline:.0f} s deadline", time.monotonic() - started
    seconds = time.monotonic() - started
    out = done.stdout.strip()
    if done.returncode != 0:
        return f"failed ({done.returncode}): {done.stderr.strip()[-2000:]}", seconds
    start = out.find("{")
    return (json.loads(out[start:]) if start >= 0 else out), seconds


def verdict(met: bool) -> str:
    """'met' or 'MISSED'."""
    return "met" if met else "MISSED"


def summary_lines(name: str, result: dict[str, Any] | str) -> list[str]:
    """The figures of one benchmark that have targets, one line each."""
    if isinstance(result, str):  # a failure, or a script that prints text
        return [f"{name}: {line}" for line in result.splitlines()[:6]] or [f"{name}: no output"]
    if name == "scale":
        total, growth, again = result["total"], result["memory_growth"], result["incremental"]
        ratio = growth["ratio"]
        return [
            f"scale: full sync {total['seconds']:.0f} s, {total['rows']:,} rows,"
            f" {total['rows_per_second']:,} rows/s, requests {total['requests']:,} /"
            f" minimum {total['minimum_requests']:,}, peak RSS {total['peak_rss_mb']:.0f} MiB,"
            f" DuckDB {total['duckdb_file_bytes'] / 2**20:,.0f} MiB",
            f"scale: incremental after 1 %: {again['request_share']:.1%} of the requests,"
            f" {again['time_share']:.1%} of the time",
            f"scale: memory growth {growth['baseline_customers']:,} -> {result['customers']:,}"
            f" customers: x{ratio} (target <= 1.3: {verdict(ratio is not None and ratio <= 1.3)})",
        ]
    if name == "ratelimit":
        share, limited = result["share_of_limit"], result["sync_429s"]
        return [
            f"ratelimit: {result['achieved_per_minute']:.0f}/min of {result['limit_per_minute']}"
            f" = {share:.3f} (target >= 0.95: {verdict(share >= 0.95)}),"
            f" 429s {limited} (target 0: {verdict(limited == 0)})"
        ]
    if name == "peers":
        seconds, keys = result["seconds"], result["keys"]
        bad = {
            contender: sum(
                audit[contender]["duplicate_keys"] + audit[contender]["missing_keys"]
                for audit in keys.values()
                if contender in audit
            )
            for contender in ("promosync", "dlt")
        }
        floor, dlt = result["promosync_vs_floor"], result["promosync_vs_dlt"]
        lines = [
            "peers: " + ", ".join(f"{k} {v} s" for k, v in seconds.items()),
            f"peers: promosync / floor {floor} (target <= 1.25:"
            f" {verdict(floor is not None and floor <= 1.25)}), promosync / dlt {dlt}"
            f" (target < 1: {verdict(dlt is not None and dlt < 1)})",
            f"peers: missing + duplicate keys: promosync {bad['promosync']}"
            f" (target 0: {verdict(bad['promosync'] == 0)}), dlt {bad['dlt']}",
        ]
        return lines + [f"peers: {k} failed" for k in result.get("errors", {})]
    if name == "push":
        return [
            f"push: {key}: {value['rows_sent']:,} rows, {value['requests']} requests"
            f" ({value['polling_requests']} polls), {value['bytes_sent'] / 2**20:.1f} MiB,"
            f" {value['seconds']:.1f} s, {value['outcome']}"
            for key, value in result.items()
            if isinstance(value, dict)
        ]
    return [f"{name}: done"]


def main() -> None:
    """Run the selected benchmarks in order, write their JSON, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--ratelimit-customers", type=int, default=2000)
    parser.add_argument("--only", default="", help="comma-separated: " + ", ".join(scripts_names()))
    parser.add_argument("--deadline", type=float, default=5400, help="seconds per benchmark")
    parser.add_argument("--output", type=Path, default=Path(".promosync/bench.json"))
    options = parser.parse_args()
    chosen = [name for name in options.only.split(",") if name] or scripts_names()
    results: dict[str, Any] = {}
    options.output.parent.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    for name, command in scripts(options).items():
        if name not in chosen:
            continue
        print(f"running {' '.join(command)} ...", flush=True)
        result, seconds = run(command, options.deadline)
        results[name] = {"command": " ".join(command), "seconds": round(seconds), "result": result}
        # Saved after each benchmark, so an interrupted suite keeps what it measured.
        options.output.write_text(json.dumps(results, indent=2))
        lines += summary_lines(name, result)
        print("\n".join(summary_lines(name, result)), flush=True)
    print(f"\nsummary ({options.output} has every figure):")
    print("\n".join(f"  {line}" for line in lines))


def scripts_names() -> list[str]:
    """The benchmark names --only accepts."""
    return ["sandbox", "scale", "ratelimit", "peers", "push"]


if __name__ == "__main__":
    main()
