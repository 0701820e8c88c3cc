"""Time from start to the first error line of `promosync sync --only voucherify`, per permanent
failure.

Run with `.venv/bin/python bench/first_error.py [--repeat 3] [--only NAME]`; results are recorded
by hand in bench/RESULTS.md under "## First error". Each case runs the command as a user does (a
subprocess of the installed console script, DuckDB in a temporary folder, no DAGSTER_HOME) against
what the case needs: the sandbox (`promosync sandbox`, its own process), a hostile loopback
server from tests/reliability/hostile.py (threads of this process), or nothing at all. The clock
starts when the process is started; the output (stdout and stderr) is read line by line as it
arrives. Reported per case: seconds to the first line that reports an error at all, seconds to
the first line carrying the answer (the message naming what to check), seconds to exit, the
process's CPU seconds (what a loaded machine does not inflate), the exit code, and "client
alone": the same failure met in this process by `voucherify_client(...).get_json(...)`, from
making the client to its error (the HTTP client's share, without the CLI's start); the median
of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness import ROOT, VOUCHERIFY_AUTH, sandbox

sys.path.insert(0, str(ROOT))
from tests.reliability import hostile

PROMOSYNC = str(Path(sys.executable).with_name("promosync"))
ERROR_LINE = re.compile(r"error|fail|exception|traceback", re.IGNORECASE)


@dataclass(frozen=True)
class Case:
    """A permanent failure: where VOUCHERIFY_BASE_URL points, other variables, the answer."""

    name: str
    server: Callable[[str], Iterator[str]]  # sandbox URL -> base URL, as a context manager
    answer: str  # a fragment of the line that says what failed and what to check
    env: dict[str, str] | None = None


@contextmanager
def sandbox_url(url: str) -> Iterator[str]:
    yield url


@contextmanager
def tls_to(url: str) -> Iterator[str]:
    yield url.replace("http://", "https://")


@contextmanager
def closed_port(_: str) -> Iterator[str]:
    with socket.socket() as probe:  # a port nothing listens on (bound, then released)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"http://127.0.0.1:{port}"


def serving(behaviour: hostile.Behaviour) -> Callable[[str], Iterator[str]]:
    @contextmanager
    def run(_: str) -> Iterator[str]:
        with hostile.HostileServer(behaviour) as server:
            yield server.url

    return run


REDIRECT = hostile.answer(302, b"", "text/plain", Location="https://elsewhere.example/v1")
CASES = [
    Case("connection refused", closed_port, "cannot connect to 127.0.0.1"),
    Case("TLS to a plain-http port", tls_to, "does not speak TLS on this port"),
    Case("a port that is not HTTP", serving(hostile.garbage), "not an HTTP server"),
    Case("an HTML page (HTTP 200)", serving(hostile.html(200, "Welcome to nginx!")), "not JSON"),
    Case("an HTML 500 page", serving(hostile.html(500, "Internal Server Error")), "HTTP 500 with"),
    Case("HTTP 401, a wrong key", sandbox_url, "HTTP 401",
         {"VOUCHERIFY_APP_TOKEN": "wrong-token-5e1d"}),
    Case("a key with a CR inside", sandbox_url, "holds a control",
         {"VOUCHERIFY_APP_TOKEN": "sandbox-app\rtoken"}),
    Case("a key with a non-Latin-1 character", sandbox_url, "outside Latin-1",
         {"VOUCHERIFY_APP_TOKEN": "sandbox-app\u2019token"}),
    Case("an unreachable proxy", sandbox_url, "cannot connect to the proxy",
         {"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "", "no_proxy": ""}),
    Case("a redirect", serving(REDIRECT), "redirects to elsewhere.example"),
    Case("a base URL with a query string", lambda url: sandbox_url(url + "/?region=eu"),
         "has a query string"),
    Case("never answers (PROMOSYNC_HTTP_TOTAL_TIMEOUT=2)", serving(hostile.silent),
         "no answer within 2 s", {"PROMOSYNC_HTTP_TOTAL_TIMEOUT": "2"}),
    Case("trickles its headers (PROMOSYNC_HTTP_TOTAL_TIMEOUT=2)",
         serving(hostile.trickle_headers(0.2)), "not complete within 2 s",
         {"PROMOSYNC_HTTP_TOTAL_TIMEOUT": "2"}),
    Case("an endless body (default 128 MiB cap)", serving(hostile.endless_body),
         "byte limit and was still arriving"),
    Case("a gzip bomb, 1 GiB (default 256 MiB cap)", serving(hostile.gzip_bomb(1024)),
         "inflates past the"),
]  # fmt: skip


def run_once(case: Case, sandbox_base: str, folder: str, deadline: float) -> dict[str, float]:
    """One `promosync sync --only voucherify`: seconds to the first error line, to the answer,
    to exit, and its exit code."""
    with case.server(sandbox_base) as base_url:
        env = {
            key: value for key, value in os.environ.items()
            if not key.startswith(("PROMOSYNC_", "VOUCHERIFY_", "DAGSTER_"))
            and "PROXY" not in key.upper()
        }  # fmt: skip
        env |= {
            "VOUCHERIFY_BASE_URL": base_url,
            "VOUCHERIFY_APP_ID": VOUCHERIFY_AUTH["X-App-Id"],
            "VOUCHERIFY_APP_TOKEN": VOUCHERIFY_AUTH["X-App-Token"],
            "WAREHOUSE_URL": f"duckdb:///{folder}/first_error.duckdb",
            "COLUMNS": "200",
            **(case.env or {}),
        }
        cpu_before = _children_cpu()
        started = time.monotonic()
        process = subprocess.Popen(
            [PROMOSYNC, "sync", "--only", "voucherify"], env=env, cwd=folder, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        timer = threading.Timer(deadline, process.kill)
        timer.start()
        first_error = answer = None
        for line in process.stdout:
            now = time.monotonic() - started
            if first_error is None and ERROR_LINE.search(line):
                first_error = now
            if answer is None and case.answer in line:
                answer = now
        code = process.wait()
        timer.cancel()
        ended = time.monotonic() - started
        cpu = _children_cpu() - cpu_before
    if answer is None:
        raise RuntimeError(f"{case.name}: no line with {case.answer!r} (exit {code})")
    first_error = answer if first_error is None else first_error
    return {"first_error": first_error, "answer": answer, "exit": ended, "cpu": cpu, "code": code}


def client_seconds(case: Case, sandbox_base: str) -> float:
    """In this process, without the CLI around it: seconds from making the client to its error
    (the HTTP client's share of the time above)."""
    from promosync.connectors.voucherify.client import voucherify_client

    changes = {
        "VOUCHERIFY_APP_ID": VOUCHERIFY_AUTH["X-App-Id"],
        "VOUCHERIFY_APP_TOKEN": VOUCHERIFY_AUTH["X-App-Token"],
        **(case.env or {}),
    }
    saved = {name: os.environ.get(name) for name in changes}
    with case.server(sandbox_base) as base_url:
        os.environ.update(changes)
        started = time.monotonic()
        try:
            env = os.environ
            client = voucherify_client(
                base_url, env["VOUCHERIFY_APP_ID"], env["VOUCHERIFY_APP_TOKEN"]
            )
            client.get_json("/v1/customers", {"limit": 100})
        except Exception as error:  # every case ends in one
            if case.answer not in str(error):
                raise RuntimeError(f"{case.name}: {error}") from None
        else:
            raise RuntimeError(f"{case.name}: no error")
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        return time.monotonic() - started


def _children_cpu() -> float:
    """CPU seconds (user + system) of the children this process has waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    """Run every case (or those named) `--repeat` times; print a RESULTS.md table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median; default 3)")
    parser.add_argument("--only", help="run only the cases whose name contains this")
    parser.add_argument("--deadline", type=float, default=300, help="seconds per run")
    options = parser.parse_args()
    cases = [case for case in CASES if not options.only or options.only in case.name]
    rows = []
    with sandbox("--customers", "100") as urls, tempfile.TemporaryDirectory() as folder:
        for case in cases:
            runs = [run_once(case, urls["VOUCHERIFY_BASE_URL"], folder, options.deadline)
                    for _ in range(options.repeat)]  # fmt: skip
            median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            base = urls["VOUCHERIFY_BASE_URL"]
            clients = [client_seconds(case, base) for _ in range(options.repeat)]
            median["client"] = statistics.median(clients)
            rows.append((case, median))
            print(f"{case.name}: {median}", file=sys.stderr, flush=True)
    print(
        "| permanent failure | first error line | the answer | exit | CPU | exit code"
        " | client alone | target |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for case, median in rows:
        met = "met" if median["answer"] <= 5 else "**not met**"
        print(
            f"| {case.name} | {median['first_error']:.1f} s | {median['answer']:.1f} s"
            f" | {median['exit']:.1f} s | {median['cpu']:.1f} s | {median['code']:.0f}"
            f" | {median['client']:.2f} s"
            f" | ≤ 5 s: {met} |"
        )


if __name__ == "__main__":
    main()
