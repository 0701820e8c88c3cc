"""Every sandbox fault alone, and all of them together at high rates, during pulls and pushes.

A pull under faults either completes with parity, or stops with an error that names the
platform, the request and why it gave up, leaving a warehouse whose committed cursors promise
only rows it holds; a rerun without faults then restores parity. A push under faults never
applies a row twice. The fast subset runs the faults all together once (and a push under cut
answers); the full run (`make chaos`) runs each fault alone too, and the combination on several
seeds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from promosync.connectors.http import ApiError
from promosync.connectors.warehouse import Warehouse

from tests.conftest import TEST_SETTINGS, ApiSession
from tests.reliability import checks, runs
from tests.reliability.conftest import FULL, TRIALS, Tally

ALONE = {
    "server_error": {"server_error": 0.3},
    "rate_limited": {"rate_limited": 0.3, "retry_after_seconds": 0},
    "dropped_connection": {"dropped_connection": 0.2},
    "truncated_body": {"truncated_body": 0.2},
    "latency": {"latency_ms": 20},
}
ALL_TOGETHER = {
    "server_error": 0.2,
    "rate_limited": 0.1,
    "dropped_connection": 0.05,
    "truncated_body": 0.05,
    "retry_after_seconds": 0,
}
# The fast subset runs on DuckDB only; the full run on both warehouses.
BACKENDS = pytest.mark.parametrize(
    "warehouse", ["duckdb", "postgresql"] if FULL else ["duckdb"], indirect=True
)
SEEDS = [TEST_SETTINGS["seed"] + n for n in range(max(1, TRIALS // 10) if FULL else 1)]
CASES = [pytest.param(ALL_TOGETHER, seed, id=f"all-seed{seed}") for seed in SEEDS]
ALONE_CASES = [pytest.param(faults, SEEDS[0], id=kind) for kind, faults in ALONE.items()]
CASES += ALONE_CASES if FULL else []
# A cut answer to the POST that starts an async action is the fault that once re-sent rows.
PUSH_CASES = CASES if FULL else [*CASES, ALONE_CASES[list(ALONE).index("truncated_body")]]


def injected(admin: ApiSession) -> int:
    """Faults the sandbox injected since its reset."""
    return sum(admin.get("/_sandbox/stats").json()["faults_injected"].values())


def pull_under_faults(
    run: Callable[[str, str], None],
    base_url: str,
    admin: ApiSession,
    warehouse: Warehouse,
    faults: dict,
    seed: int,
    parity: Callable[[ApiSession, Warehouse], checks.Verdict],
    cursors_backed: Callable[[ApiSession, Warehouse], checks.Verdict],
    tally: Tally,
) -> None:
    admin.post("/_sandbox/reset", json={**TEST_SETTINGS, "seed": seed}).raise_for_status()
    admin.put("/_sandbox/faults", json=faults).raise_for_status()
    try:
        run(base_url, warehouse.url)
        error = None
    except ApiError as exc:
        error = exc
    admin.put("/_sandbox/faults", json={}).raise_for_status()
    assert injected(admin) > 0 or "latency_ms" in faults, "no fault was injected"
    if error is None:
        verdict = parity(admin, warehouse)
    else:
        assert "gave up after" in str(error) and error.endpoint.startswith("/"), str(error)
        verdict = cursors_backed(admin, warehouse)
        verdict.duplicated += parity(admin, warehouse).duplicated
    tally.add(trials=1, stopped_with_error=error is not None, rows_duplicated=verdict.duplicated)
    assert verdict.clean, f"seed {seed}, faults {faults}, error {error}: {verdict}"

    run(base_url, warehouse.url)
    after = parity(admin, warehouse)
    tally.add(rows_lost=after.lost, rows_duplicated=after.duplicated)
    assert after.clean, f"seed {seed}, faults {faults}, rerun without faults: {after}"


@BACKENDS
@pytest.mark.parametrize(("faults", "seed"), CASES)
def test_voucherify_pull_under_faults_completes_or_stops_consistent(
    sandbox, warehouse, voucherify_admin, faults, seed, tally
) -> None:
    pull_under_faults(
        runs.pull_voucherify, sandbox.voucherify_url, voucherify_admin, warehouse, faults, seed,
        checks.voucherify_parity, checks.voucherify_cursors_backed, tally,
    )  # fmt: skip


@BACKENDS
@pytest.mark.parametrize(("faults", "seed"), CASES)
def test_talon_one_pull_under_faults_completes_or_stops_consistent(
    sandbox, warehouse, talon_one_admin, faults, seed, tally
) -> None:
    pull_under_faults(
        runs.pull_talon_one, sandbox.talon_one_url, talon_one_admin, warehouse, faults, seed,
        checks.talon_one_parity, checks.talon_one_cursors_backed, tally,
    )  # fmt: skip


@BACKENDS
@pytest.mark.parametrize(("faults", "seed"), PUSH_CASES)
def test_voucherify_push_under_faults_never_applies_a_row_twice(
    sandbox, warehouse, voucherify_admin, faults, seed, tally
) -> None:
    voucherify_admin.post(
        "/_sandbox/reset", json={**TEST_SETTINGS, "seed": seed, "async_action_seconds": 0.1}
    ).raise_for_status()
    keys = [f"faulty-{i:03d}" for i in range(60)]
    checks.fill(warehouse, "push_voucherify_metadata",
         [{"source_id": k, "metadata": '{"faults": true}'} for k in keys[:30]])  # fmt: skip
    checks.fill(warehouse, "push_voucherify_customers",
         [{"source_id": k, "name": f"Faulty {k}"} for k in keys[30:]])  # fmt: skip
    expected = Counter(keys[:30]) + Counter(keys[30:] * 2)  # customers push + CSV import
    voucherify_admin.put("/_sandbox/faults", json=faults).raise_for_status()
    attempts = 0
    while attempts < 5:  # a push that gave up is simply run again, as the schedule would
        attempts += 1
        try:
            runs.push_voucherify(sandbox.voucherify_url, warehouse.url)
            break
        except (ApiError, RuntimeError):
            continue
    voucherify_admin.put("/_sandbox/faults", json={}).raise_for_status()
    runs.push_voucherify(sandbox.voucherify_url, warehouse.url)
    assert injected(voucherify_admin) > 0 or "latency_ms" in faults
    applied, twice, lost = checks.applied_rows(voucherify_admin, expected)
    tally.add(trials=1, rows_lost=lost, pushes_sent_twice=twice)
    assert (twice, lost) == (0, 0), (
        f"seed {seed}, faults {faults}: {twice} row(s) applied twice, {lost} never;"
        f" applied {dict(applied)}"
    )
