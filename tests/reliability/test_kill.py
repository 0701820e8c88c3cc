"""SIGKILL at random moments of a pull or a push, then a rerun: nothing lost, doubled or re-sent.

Each test runs `TRIALS` trials: start the run (slowed down by sandbox latency) in a process of its
own, kill it after a share of its expected length, rerun it to completion in a fresh process
without latency, and compare the warehouse (and, for pushes, what the sandbox applied) with the
truth. Trial n of N is killed at a share (n + r) / N, r drawn from the trial's seed, so the kills
spread over the whole run; the seed and the share are in every message. A kill that comes after
the run ended proves nothing: that trial is run again, sooner.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from promosync.connectors.talon_one.push import MAX_PER_REQUEST
from promosync.connectors.warehouse import Warehouse

from tests.conftest import TEST_SETTINGS, ApiSession
from tests.reliability import checks, runs
from tests.reliability.conftest import TRIALS, Tally

SEED = int(os.environ.get("PROMOSYNC_CHAOS_SEED", "20261122"))


@dataclass
class Trial:
    """One kill: its seed and when it struck."""

    number: int
    seed: int
    share: float
    delay: float
    span: float

    def __str__(self) -> str:
        return (
            f"trial {self.number} (seed {self.seed}: killed after {self.share:.0%} ="
            f" {self.delay:.3f} s of a {self.span:.3f} s run)"
        )


def start(run: Callable[[str, str], None], *args: str) -> Any:
    """Start `run(*args)` in a process forked from the preloaded server; return the process."""
    process = runs.preloaded_context().Process(target=run, args=args, daemon=True)
    process.start()
    return process


# A kill lands at a share of the run's expected length: 1.5 times the last rerun (which has no
# latency, so the slowed-down run being killed lasts longer), or FIRST_GUESS seconds at first.
_spans: dict[str, float] = {}
FIRST_GUESS = 1.0
SPAN_PER_RERUN = 1.5
MISSES = 6  # kills that came too late (the run had ended), each retried sooner


def run_to_completion(run: Callable[[str, str], None], base_url: str, warehouse: Warehouse) -> None:
    """Run once more in a fresh process (as the next scheduled run would) and require success."""
    warehouse.dispose()  # a DuckDB file admits one writing process at a time
    started = time.monotonic()
    process = start(run, base_url, warehouse.url)
    process.join(120)
    assert process.exitcode == 0, f"the run failed (exit code {process.exitcode})"
    _spans[run.__name__] = SPAN_PER_RERUN * (time.monotonic() - started)


def kill_trials(
    run: Callable[[str, str], None],
    base_url: str,
    admin: ApiSession,
    warehouse: Warehouse,
    latency_ms: int,
    prepare: Callable[[int], None],
    verify: Callable[[Trial], None],
) -> None:
    """Kill and rerun `TRIALS` times; `verify` checks each trial after the kill.

    Every kill must strike a running process: a run that ended before its kill is run again,
    killed at the same share of half the time that run took.
    """
    start(runs.ready).join(60)  # the first start pays the fork server's imports
    for number in range(TRIALS):
        seed = SEED + number
        share = (number + random.Random(seed).random()) / TRIALS  # one kill in each slice of time
        span = _spans.get(run.__name__, FIRST_GUESS)
        for _ in range(MISSES):
            trial = Trial(number, seed, share, share * span, span)
            prepare(number)
            admin.put("/_sandbox/faults", json={"latency_ms": latency_ms}).raise_for_status()
            started = time.monotonic()
            process = start(run, base_url, warehouse.url)
            process.join(trial.delay)  # returns early if the run ends first
            if process.is_alive():
                process.kill()
                process.join(30)
                break
            span = (time.monotonic() - started) / 2
        else:
            raise AssertionError(f"{trial}: the run ended before every kill")
        admin.put("/_sandbox/faults", json={}).raise_for_status()
        verify(trial)


def pull_verifier(
    run: Callable[[str, str], None],
    base_url: str,
    admin: ApiSession,
    warehouse: Warehouse,
    parity: Callable[[ApiSession, Warehouse], checks.Verdict],
    tally: Tally,
) -> Callable[[Trial], None]:
    """After a kill: no duplicate at the kill, then a rerun reaching exact parity."""

    def verify(trial: Trial) -> None:
        at_kill = parity(admin, warehouse)
        assert at_kill.duplicated == 0 and at_kill.stale == 0, f"{trial} at the kill: {at_kill}"
        run_to_completion(run, base_url, warehouse)
        verdict = parity(admin, warehouse)
        tally.add(trials=1, rows_lost=verdict.lost, rows_duplicated=verdict.duplicated)
        assert verdict.clean, f"{trial} after the rerun: {verdict}"

    return verify


def test_voucherify_pull_killed_at_random_moments_resumes_to_parity(
    sandbox, warehouse, voucherify_admin, tally
) -> None:
    url = sandbox.voucherify_url
    verify = pull_verifier(
        runs.pull_voucherify, url, voucherify_admin, warehouse, checks.voucherify_parity, tally
    )
    kill_trials(
        runs.pull_voucherify, url, voucherify_admin, warehouse, 40,
        lambda _: checks.empty(warehouse), verify,
    )  # fmt: skip


def test_talon_one_pull_killed_at_random_moments_resumes_to_parity(
    sandbox, warehouse, talon_one_admin, tally
) -> None:
    url = sandbox.talon_one_url
    verify = pull_verifier(
        runs.pull_talon_one, url, talon_one_admin, warehouse, checks.talon_one_parity, tally
    )
    kill_trials(
        runs.pull_talon_one, url, talon_one_admin, warehouse, 60,
        lambda _: checks.empty(warehouse), verify,
    )  # fmt: skip


def reset(admin: ApiSession, **settings: float) -> None:
    """Fresh sandbox data and records (what it applied) for the next trial."""
    admin.post("/_sandbox/reset", json={**TEST_SETTINGS, **settings}).raise_for_status()


def test_voucherify_push_killed_at_random_moments_never_applies_a_row_twice(
    sandbox, warehouse, voucherify_admin, tally
) -> None:
    url = sandbox.voucherify_url
    expected: Counter[str] = Counter()

    def prepare(number: int) -> None:
        reset(voucherify_admin, async_action_seconds=0.3)
        checks.empty(warehouse)
        existing = [
            c["source_id"] for c in voucherify_admin.get("/_sandbox/truth/customers").json()
        ]
        metadata = f'{{"chaos_trial": {number}}}'  # one metadata object: one METADATA_UPDATE
        checks.fill(warehouse, "push_voucherify_metadata",
             [{"source_id": s, "metadata": metadata} for s in existing[:50]])  # fmt: skip
        new = [f"chaos-{number}-{i:03d}" for i in range(40)]
        customers = [
            {"source_id": s, "name": f"Chaos {s}", "email": f"{s}@example.com"} for s in new
        ]
        checks.fill(warehouse, "push_voucherify_customers", customers)
        expected.clear()
        expected.update(existing[:50])
        expected.update(new * 2)  # the customers push and the CSV import both carry them

    def verify(trial: Trial) -> None:
        run_to_completion(runs.push_voucherify, url, warehouse)
        applied, twice, lost = checks.applied_rows(voucherify_admin, expected)
        strangers = set(applied) - set(expected)
        # `lost` is a final status too: an intent the kill kept from being sent, sent again.
        open_jobs = warehouse.query(
            "SELECT job_id, status FROM push_jobs WHERE status IN ('intent', 'sent', 'failed')"
        )
        tally.add(trials=1, rows_lost=lost, pushes_sent_twice=twice)
        assert (twice, lost, strangers) == (0, 0, set()), (
            f"{trial}: {twice} row(s) applied twice, {lost} never applied, unexpected {strangers};"
            f" jobs {warehouse.query('SELECT job_id, status, async_action_id FROM push_jobs')}"
        )
        assert open_jobs == [], f"{trial}: jobs open or failed {open_jobs}"

    kill_trials(runs.push_voucherify, url, voucherify_admin, warehouse, 30, prepare, verify)


def test_talon_one_push_killed_at_random_moments_never_resends_a_confirmed_batch(
    sandbox, warehouse, talon_one_admin, tally
) -> None:
    url = sandbox.talon_one_url
    keys = [f"chaos-{i:04d}" for i in range(3 * MAX_PER_REQUEST)]

    def prepare(number: int) -> None:
        reset(talon_one_admin)
        checks.empty(warehouse)
        checks.fill(warehouse, "push_talon_one_profiles",
             [{"integration_id": k, "attributes": f'{{"chaos_trial": {number}, "rank": {i}}}'}
              for i, k in enumerate(keys)])  # fmt: skip

    def verify(trial: Trial) -> None:
        confirmed = {r["row_key"] for r in warehouse.query("SELECT row_key FROM push_hashes")}
        run_to_completion(runs.push_talon_one, url, warehouse)
        received = {
            r["integrationId"]: r["received"]
            for r in talon_one_admin.get("/_sandbox/truth/profile_updates").json()
        }
        twice = sum(received.get(k, 0) - 1 for k in confirmed if received.get(k, 0) > 1)
        lost = sum(1 for k in keys if not received.get(k))
        resent = [k for k in keys if k not in confirmed and received.get(k, 0) > 1]
        profiles = {
            p["integrationId"]: p for p in talon_one_admin.get("/_sandbox/truth/profiles").json()
        }
        wrong = [
            k for i, k in enumerate(keys)
            if profiles.get(k, {}).get("attributes") != {"chaos_trial": trial.number, "rank": i}
        ]  # fmt: skip
        tally.add(trials=1, rows_lost=lost, pushes_sent_twice=twice, batches_resent=bool(resent))
        assert (twice, lost, wrong[:5]) == (0, 0, []), (
            f"{trial}: {twice} confirmed profile(s) sent again, {lost} never sent,"
            f" wrong attributes {wrong[:5]}"
        )
        # Only the batch whose 2xx had not been recorded when the kill struck may go again.
        assert len(resent) <= MAX_PER_REQUEST, f"{trial}: {len(resent)} profiles re-sent"
        assert max(received.values()) <= 2, f"{trial}: a profile arrived 3 times or more"

    kill_trials(runs.push_talon_one, url, talon_one_admin, warehouse, 150, prepare, verify)
