"""Runs that meet: two syncs at once on one warehouse, and `promosync status` during a sync.

On PostgreSQL two syncs both finish (upserts, one transaction per batch). A DuckDB file admits
one process at a time: a step that meets the other run's lock fails at once naming the process
that holds it, the rest carries on, and the next run completes. Whatever happened, nothing is
held twice and the warehouse reaches parity with the source.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from promosync.connectors.warehouse import Warehouse

from tests.conftest import POSTGRES_URL
from tests.reliability import checks
from tests.reliability.cli import env_for, one_line, promosync, small, start

LOCKED = re.compile(
    r"sync failed: .*cannot open the warehouse duckdb:///\S+: IO Error: Could not set lock on"
    r" file .*Conflicting lock is held in \S+ \(PID \d+\)"
)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema, as a warehouse URL."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


def _parity(admin, url: str) -> checks.Verdict:
    store = Warehouse(url)
    try:
        return checks.voucherify_parity(admin, store)
    finally:
        store.dispose()


@pytest.mark.parametrize("kind", ["duckdb", "postgresql"])
def test_two_syncs_at_once_leave_nothing_twice(
    sandbox, voucherify_admin, tmp_path, pg_url, tally, kind: str
) -> None:
    small(sandbox, 30)
    voucherify_admin.put("/_sandbox/faults", json={"latency_ms": 10}).raise_for_status()
    url = pg_url if kind == "postgresql" else f"duckdb:///{tmp_path / 'w.duckdb'}"
    env = env_for(sandbox, url)
    try:
        runs = [start(env, "sync", "--only", "voucherify") for _ in range(2)]
        ended = [(run.wait(timeout=180), *run.communicate()) for run in runs]
    finally:
        voucherify_admin.put("/_sandbox/faults", json={"latency_ms": 0}).raise_for_status()

    for code, out, err in ended:
        assert "Traceback" not in out + err
        if kind == "postgresql":
            assert code == 0, err
        else:  # every failure is the other run's lock, named
            assert code in (0, 1), err
            failures = [line for line in err.splitlines() if line.startswith("sync failed:")]
            assert all(LOCKED.match(one_line(line)) for line in failures), err
            assert bool(failures) == (code == 1)
    code, _, err = promosync(env, "sync", "--only", "voucherify")
    assert code == 0, err
    verdict = _parity(voucherify_admin, url)
    tally.add(trials=1, rows_lost=verdict.lost, rows_duplicated=verdict.duplicated)
    assert verdict.clean, str(verdict)


def test_status_during_a_sync_says_the_file_is_busy(sandbox, voucherify_admin, tmp_path) -> None:
    env = env_for(sandbox, f"duckdb:///{tmp_path / 'w.duckdb'}")
    promosync(env, "sync", "--only", "voucherify_customers")  # the file exists
    stream = "voucherify_loyalty_transactions"
    voucherify_admin.put("/_sandbox/faults", json={"latency_ms": 400}).raise_for_status()
    try:
        running = start(env, "sync", "--only", stream, "--progress-every", "0.1")
        assert running.stderr is not None
        for line in running.stderr:  # its step has the file open until the stream ends
            if line.startswith(f"{stream}: "):
                break
        code, out, err = promosync(env, "status")
        running.communicate(timeout=60)
    finally:
        voucherify_admin.put("/_sandbox/faults", json={"latency_ms": 0}).raise_for_status()

    assert code == 75, out + err
    assert re.fullmatch(
        r"warehouse duckdb:///\S+ is in use by another process \(\S+, PID \d+; a sync\?\): DuckDB"
        r" lets no other process read it meanwhile; run `promosync status` again when it ends",
        one_line(out + err),
    )
    assert running.returncode == 0
