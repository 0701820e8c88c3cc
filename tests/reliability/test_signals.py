"""Signals reach `promosync sync`: a real process, real SIGINT and SIGTERM.

One signal stops the sync after its next committed batch, prints what each stream did and exits
130 (SIGINT) or 143 (SIGTERM); a second one ends it at once. Either way the warehouse holds no
duplicate and no cursor ahead of its rows, and the next run goes on to parity with the source.

The loyalty transactions stream commits once per campaign (three in the sandbox), and the
sandbox answers slowly here, so a signal sent after the first commit falls before the last.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
from promosync.connectors.warehouse import Warehouse

from tests.reliability import checks
from tests.reliability.cli import env_for, promosync, start, table_rows

STREAM = "voucherify_loyalty_transactions"
LATENCY_MS = 400  # per request: a campaign (two pages) takes about a second


@pytest.fixture
def slow(sandbox, voucherify_admin, tmp_path) -> Iterator[dict[str, str]]:
    """A slowly answering Voucherify, and the environment of a sync into a DuckDB file."""
    voucherify_admin.put("/_sandbox/faults", json={"latency_ms": LATENCY_MS}).raise_for_status()
    yield env_for(sandbox, f"duckdb:///{tmp_path / 'w.duckdb'}")
    voucherify_admin.put("/_sandbox/faults", json={"latency_ms": 0}).raise_for_status()


def _started(env: dict[str, str]) -> subprocess.Popen[str]:
    """A sync of the loyalty transactions, once a first campaign is committed."""
    process = start(env, "sync", "--only", STREAM, "--progress-every", "0.1")
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        committed = re.match(rf"{STREAM}: (\d+) inserted", line)
        if committed and int(committed[1]):
            return process
    process.kill()
    pytest.fail(f"the sync ended before its first commit: {''.join(seen)}")


def _verdict(admin, env: dict[str, str], *, complete: bool = False) -> checks.Verdict:
    """No transaction twice, and every one up to each campaign's cursor held; `complete`: all."""
    store = Warehouse(env["WAREHOUSE_URL"])
    try:
        verdict = checks.voucherify_cursors_backed(admin, store)
        verdict.duplicates(store, STREAM, "id")
        if complete:
            truth = admin.get("/_sandbox/truth/loyalty_transactions").json()
            held = store.query(f"SELECT id, campaign_id FROM {STREAM}")
            verdict.compare(
                STREAM,
                {t["id"]: t["campaign_id"] for t in truth},
                {r["id"]: r["campaign_id"] for r in held},
            )
        return verdict
    finally:
        store.dispose()


def _rows(env: dict[str, str]) -> int:
    store = Warehouse(env["WAREHOUSE_URL"])
    try:
        return store.query(f"SELECT count(*) AS n FROM {STREAM}")[0]["n"]
    finally:
        store.dispose()


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_one_signal_stops_after_a_committed_batch_and_the_next_run_resumes(
    slow, voucherify_admin, tally, stop: signal.Signals, code: int
) -> None:
    total = len(voucherify_admin.get("/_sandbox/truth/loyalty_transactions").json())
    process = _started(slow)
    process.send_signal(stop)
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == code, stderr
    assert f"stopped by {stop.name} after the last committed batch" in stderr
    assert "Traceback" not in stderr + stdout
    row = table_rows(stdout)[STREAM]
    assert row[-1] == "stopped"
    inserted = int(row[1])
    assert 0 < inserted < total  # stopped at a commit, before the end
    assert _rows(slow) == inserted  # what the table says is what the warehouse holds
    stopped = _verdict(voucherify_admin, slow)
    assert stopped.clean, str(stopped)
    tally.add(trials=1, rows_duplicated=stopped.duplicated, rows_lost=stopped.lost)

    voucherify_admin.put("/_sandbox/faults", json={"latency_ms": 0}).raise_for_status()
    code, out, err = promosync(slow, "sync", "--only", STREAM)

    assert code == 0, err
    assert int(table_rows(out)[STREAM][1]) == total - inserted  # nothing twice, nothing skipped
    resumed = _verdict(voucherify_admin, slow, complete=True)
    assert resumed.clean, str(resumed)


def test_a_second_signal_ends_the_sync_at_once_and_loses_nothing(
    slow, voucherify_admin, tally
) -> None:
    process = _started(slow)
    process.send_signal(signal.SIGINT)
    time.sleep(0.2)  # two signals at the same instant reach Python's handler as one
    process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=60)

    assert process.returncode == -signal.SIGINT  # ended by the signal itself: no summary
    assert "stream" not in stdout
    ended = _verdict(voucherify_admin, slow)
    assert ended.clean, str(ended)
    tally.add(trials=1, rows_duplicated=ended.duplicated, rows_lost=ended.lost)

    voucherify_admin.put("/_sandbox/faults", json={"latency_ms": 0}).raise_for_status()
    code, _, err = promosync(slow, "sync", "--only", STREAM)
    assert code == 0, err
    finished = _verdict(voucherify_admin, slow, complete=True)
    assert finished.clean, str(finished)
