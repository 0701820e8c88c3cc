"""What the issue-7 benchmarks share: the sandbox in its own process, children with deadlines.

Every measurement runs in a fresh child process (so its peak RSS is its own) started by
`run_child`, which kills it at its deadline; `sandbox()` always stops the sandbox it started.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests
from promosync.sandbox.server import spawn

ROOT = Path(__file__).resolve().parents[1]
VOUCHERIFY_AUTH = {"X-App-Id": "sandbox-app-id", "X-App-Token": "sandbox-app-token"}
TALON_ONE_KEY = "sandbox-api-key"
TALON_ONE_MANAGEMENT_KEY = "sandbox-management-key"
CHILD_FLAG = "--child"


@contextlib.contextmanager
def sandbox(*options: str) -> Iterator[dict[str, str]]:
    """`promosync sandbox OPTIONS` in its own process, answering; stopped whatever happens."""
    process, urls = spawn(*options, quiet=True)
    try:
        url = urls["VOUCHERIFY_BASE_URL"]
        requests.get(f"{url}/v1/customers", headers=VOUCHERIFY_AUTH, timeout=600)
        yield urls
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=60)


def admin(base_url: str, path: str, payload: Any = None, timeout: float = 600) -> Any:
    """GET (no payload) or POST an admin call under `/_sandbox/`; its JSON answer."""
    url = f"{base_url}/_sandbox/{path}"
    if payload is None:
        response = requests.get(url, timeout=timeout)
    else:
        response = requests.post(url, json=payload, timeout=timeout)
    response.raise_for_status()
    return response.json()


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident memory (VmHWM) of a process, this one by default, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found")


def tap(client: Any, seen: Callable[[str, str, bytes | None, float, Any], None]) -> None:
    """Call `seen(method, url, body, sent_at, response)` after each answer `client` receives
    (an `ApiClient`: its transport is wrapped)."""
    send = client.transport

    def tapped(method: str, url: str, body: bytes | None, headers: Any) -> Any:
        sent_at = time.monotonic()
        response = send(method, url, body, headers)
        seen(method, url, body, sent_at, response)
        return response

    client.transport = tapped


def record_requests(client: Any, sent: list[tuple[str, str]], label: Callable[[], str]) -> None:
    """Append (label(), URL with its query) of every request `client` sends to `sent`: the log a
    floor replays."""
    tap(client, lambda method, url, *_: sent.append((label(), url)))


def fetch_and_discard(session: requests.Session, url: str) -> None:
    """One request of a floor: the body read in full, as a sync reads it, then dropped."""
    response = session.get(url, timeout=(5, 120))
    response.raise_for_status()
    response.content  # noqa: B018


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux `clear_refs` 5); False if refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def run_child(script: str, mode: str, payload: dict[str, Any], deadline: float) -> dict[str, Any]:
    """Run `script` in `mode` in a fresh process, killed after `deadline` s; its JSON result."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, script, CHILD_FLAG, mode, json.dumps(payload)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=deadline,
        )
    except subprocess.TimeoutExpired:
        message = f"{Path(script).name} {mode}: killed at its {deadline:.0f} s deadline"
        raise RuntimeError(message) from None
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-25:])
        raise RuntimeError(f"{Path(script).name} {mode} failed ({done.returncode}):\n{tail}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.setdefault("child_seconds", round(time.monotonic() - started, 1))
    return result


def child_entry(modes: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]) -> bool:
    """In a child started by `run_child`: run the mode, print its JSON, return True."""
    if len(sys.argv) < 4 or sys.argv[1] != CHILD_FLAG:
        return False
    sys.path.insert(0, str(ROOT))
    print(json.dumps(modes[sys.argv[2]](json.loads(sys.argv[3])), default=str))
    return True


def duckdb_sizes(path: str | Path, tables: list[str]) -> dict[str, Any]:
    """File size and, per table, an estimate of its bytes (distinct storage blocks it uses)."""
    import duckdb

    file_bytes = Path(path).stat().st_size
    per_table: dict[str, int] = {}
    with duckdb.connect(str(path), read_only=True) as db:
        block_size = db.execute(
            "SELECT block_size FROM pragma_database_size() WHERE database_name = current_database()"
        ).fetchone()[0]
        for table in tables:
            blocks = db.execute(
                "SELECT count(DISTINCT block_id) FROM pragma_storage_info(?) WHERE persistent",
                [table],
            ).fetchone()[0]
            per_table[table] = int(blocks) * int(block_size)
    return {"file_bytes": file_bytes, "table_bytes_estimate": per_table}
