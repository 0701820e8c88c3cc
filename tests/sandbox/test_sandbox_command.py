"""`promosync sandbox` with the export and activity options: the download host's URL line."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import requests
from promosync.sandbox.server import spawn

KEYS = {"X-App-Id": "sandbox-app-id", "X-App-Token": "sandbox-app-token"}


def test_the_command_prints_the_download_host_third_and_serves_exports_there() -> None:
    process, urls = spawn(
        "--customers", "30", "--voucherify-export-seconds", "0.1",
        "--voucherify-export-rows-per-file", "10", "--voucherify-export-headers", "fields",
        quiet=True,
    )  # fmt: skip
    try:
        assert list(urls) == [
            "VOUCHERIFY_BASE_URL",
            "TALON_ONE_BASE_URL",
            "VOUCHERIFY_DOWNLOAD_URL",
        ]
        api = urls["VOUCHERIFY_BASE_URL"]
        body = {"exported_object": "customer", "parameters": {"fields": ["id"]}}
        export = requests.post(f"{api}/v1/exports", json=body, headers=KEYS, timeout=10).json()
        deadline = time.monotonic() + 10
        while export["status"] != "DONE" and time.monotonic() < deadline:
            time.sleep(0.05)
            export = requests.get(
                f"{api}/v1/exports/{export['id']}", headers=KEYS, timeout=10
            ).json()
        urls_of_files = export["result"]["urls"]
        assert all(u.startswith(urls["VOUCHERIFY_DOWNLOAD_URL"] + "/") for u in urls_of_files)
        texts = [requests.get(u, headers=KEYS, timeout=10).text for u in urls_of_files]
        assert [t.splitlines()[0] for t in texts] == ["id"] * 3
        assert sum(len(t.splitlines()) - 1 for t in texts) == 30
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_a_switch_given_a_word_it_does_not_take_is_refused_naming_the_words_it_takes() -> None:
    command = [sys.executable, "-m", "promosync.pipelines.cli", "sandbox"]
    flag = "--voucherify-segment-move-touches-updated-at"
    done = subprocess.run(
        [*command, flag, "maybe"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "250"},  # the message on one line
    )
    assert done.returncode == 2 and done.stdout == ""
    assert flag in done.stderr and "'maybe' is not one of 'no', 'yes'" in done.stderr
