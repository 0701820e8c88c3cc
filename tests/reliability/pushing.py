"""What the push reliability tests share: `promosync push` as a real process, its environment,
input files, and what the sandbox applied."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from promosync.connectors.warehouse import Warehouse

from tests.reliability import checks


def push_env(sandbox, warehouse_url: str) -> dict[str, str]:
    """The environment of a `promosync push` against the session's sandbox."""
    settings = sandbox.settings
    return {
        **os.environ,
        "VOUCHERIFY_BASE_URL": sandbox.voucherify_url,
        "VOUCHERIFY_APP_ID": settings.voucherify_app_id,
        "VOUCHERIFY_APP_TOKEN": settings.voucherify_app_token,
        "TALON_ONE_BASE_URL": sandbox.talon_one_url,
        "TALON_ONE_API_KEY": settings.talon_one_api_key,
        "WAREHOUSE_URL": warehouse_url,
        "COLUMNS": "2000",
    }


class PushProcess:
    """`promosync push ARGS` in a process of its own; its output read as it comes."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "promosync.pipelines.push_cli", *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._new = threading.Condition()
        readers = [threading.Thread(target=self._read, args=(s,), daemon=True)
                   for s in (self.process.stdout, self.process.stderr)]  # fmt: skip
        for reader in readers:
            reader.start()
        self._readers = readers

    def _read(self, stream) -> None:
        for line in stream:
            with self._new:
                self.lines.append(line.rstrip("\n"))
                self._new.notify_all()

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_for(self, text: str, timeout: float = 60) -> str:
        """The first output line containing `text` (AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._new:
            while True:
                found = next((line for line in self.lines if text in line), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                assert left > 0 and self.process.poll() is None, (
                    f"no line with {text!r} in: {self.lines}"
                )
                self._new.wait(min(left, 0.5))

    def finish(self, timeout: float = 120) -> tuple[int, str]:
        """Its exit code and its whole output (stdout and stderr lines, in arrival order)."""
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(10)
        return code, "\n".join(self.lines)


def actions_take(admin, seconds: float) -> None:
    """Voucherify async actions created from now on end after `seconds`: how long a push holds
    its lock after its last request (it polls until then)."""
    admin.put("/_sandbox/config", json={"async_action_seconds": seconds}).raise_for_status()


def metadata_file(path: Path, keys: list[str]) -> Path:
    """A metadata CSV file: one row per key, each its own metadata object."""
    lines = ["source_id,metadata"]
    lines += [f'{key},"{{""n"": {n}, ""tier"": ""gold""}}"' for n, key in enumerate(keys)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def applied_once(admin, keys: list[str]) -> tuple[int, int]:
    """Rows applied more than once, and rows never applied, by Voucherify's async actions."""
    _, twice, lost = checks.applied_rows(admin, Counter(keys))
    return twice, lost


def ledger(warehouse: Warehouse) -> list[dict]:
    """Every push run, oldest first, with the counts and outcome it recorded."""
    return warehouse.query(
        "SELECT operation, outcome, rows_considered, rows_skipped, rows_sent, rows_failed, error"
        " FROM push_runs ORDER BY started_at"
    )
