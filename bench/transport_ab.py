"""CPU per request of promosync's transport against an earlier commit's, in one process, in turns.

Run with `.venv/bin/python bench/transport_ab.py [--against 8cf1d7b] [--threads 4]`; results are
recorded by hand in bench/RESULTS.md. The earlier `connectors/transport.py` is read from git and
loaded beside the current one (it must need nothing but third-party modules, as 8cf1d7b's does);
both send the same small GET to the sandbox (its own process) from the same threads, in
alternating rounds (each going first every other round), so a machine whose load drifts meets
both alike. CPU is this process's
(`time.process_time`), divided by the requests sent.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness import ROOT, VOUCHERIFY_AUTH, sandbox


def earlier_transport(commit: str):
    """`connectors/transport.py` as it was at `commit`, loaded as a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{commit}:connectors/transport.py"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "earlier_transport.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("earlier_transport", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    """Alternate rounds of both transports; print the median µs of CPU per request of each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="8cf1d7b", help="the earlier commit")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--requests", type=int, default=4000, help="per round and transport")
    parser.add_argument("--rounds", type=int, default=6)
    options = parser.parse_args()
    from promosync.connectors.http_settings import HttpSettings
    from promosync.connectors.transport import PooledTransport

    transports = {
        options.against: earlier_transport(options.against).PooledTransport((5, 60), 16),
        "current": PooledTransport(HttpSettings(), 16),
    }
    per_thread = options.requests // options.threads
    cpu: dict[str, list[float]] = {name: [] for name in transports}
    with sandbox("--customers", "200", "--voucherify-requests-per-minute", "0") as urls:
        url = urls["VOUCHERIFY_BASE_URL"] + "/v1/customers?limit=10"
        headers = {**VOUCHERIFY_AUTH, "User-Agent": "promosync"}

        def loop(send) -> None:
            for _ in range(per_thread):
                assert send("GET", url, None, headers).status_code == 200

        with ThreadPoolExecutor(options.threads) as pool:
            for round_ in range(options.rounds):
                order = list(transports.items())
                for name, send in order if round_ % 2 else reversed(order):  # each goes first
                    started = time.process_time()
                    list(pool.map(loop, [send] * options.threads))
                    spent = time.process_time() - started
                    cpu[name].append(spent / (per_thread * options.threads) * 1e6)
    for name, values in cpu.items():
        rounds = " ".join(f"{value:.0f}" for value in values)
        print(f"{name}: median {statistics.median(values):.0f} µs CPU a request (rounds: {rounds})")


if __name__ == "__main__":
    sys.exit(main())
