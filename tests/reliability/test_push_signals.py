"""One SIGINT or SIGTERM stops `promosync push` at its next safe point: what was sent stays
recorded, the summary says what was done, the exit code is 130 or 143, and the next run goes
on from there, sending nothing twice and losing nothing."""

from __future__ import annotations

import re
import signal
from collections import Counter

import pytest
from promosync.connectors.talon_one import push as talon_one_push
from promosync.connectors.voucherify import push

from tests.reliability.pushing import (
    PushProcess,
    actions_take,
    applied_once,
    ledger,
    metadata_file,
    push_env,
)
from tests.reliability.test_bad_input import talon_one_on, voucherify_on

# Each signal on each warehouse once: SIGINT and SIGTERM take the same path on both.
SIGNALS = [
    pytest.param("duckdb", signal.SIGINT, 130, id="duckdb-SIGINT"),
    pytest.param("postgresql", signal.SIGTERM, 143, id="postgresql-SIGTERM"),
]
OTHER_SIGNALS = [
    pytest.param("duckdb", signal.SIGTERM, 143, id="duckdb-SIGTERM"),
    pytest.param("postgresql", signal.SIGINT, 130, id="postgresql-SIGINT"),
]
STOPPED = "at a safe point: what is above was sent and recorded; the next run sends the rest and"
STOPPED += " never sends a row twice"


@pytest.mark.parametrize(("warehouse", "signum", "code"), SIGNALS, indirect=["warehouse"])
def test_a_talon_one_push_stops_between_requests_and_the_next_run_sends_the_rest(
    sandbox, talon_one_admin, warehouse, tmp_path, signum, code
) -> None:
    keys = [f"stop-{n:05d}" for n in range(5000)]
    upload = tmp_path / "profiles.csv"
    upload.write_text(
        "integration_id,rank\n" + "".join(f"{key},{n}\n" for n, key in enumerate(keys)),
        encoding="utf-8",
    )
    talon_one_admin.put("/_sandbox/faults", json={"latency_ms": 300}).raise_for_status()
    warehouse.dispose()
    running = PushProcess(push_env(sandbox, warehouse.url), "talon-profiles", "--file", str(upload))
    running.wait_for("talon_one profiles: request 2 sent")
    running.process.send_signal(signum)
    exit_code, output = running.finish()

    assert exit_code == code, output
    summary = re.search(
        r"talon_one profiles: stopped — considered 5000, invalid 0, unchanged 0, sent (\d+)000,"
        r" failed 0, requests \d+, (\d+) batch\(es\)",
        output,
    )
    assert summary, output
    sent = int(summary[1]) * 1000
    assert 2000 <= sent < 5000 and int(summary[2]) == sent // 1000
    assert f"stopped by {signal.Signals(signum).name} {STOPPED}" in output
    (run,) = ledger(warehouse)
    assert (run["outcome"], run["rows_sent"]) == ("stopped", sent)
    hashes = warehouse.query("SELECT count(*) AS n FROM push_hashes")[0]["n"]
    assert hashes == sent  # every request that was sent is confirmed, none more

    talon_one_admin.put("/_sandbox/faults", json={}).raise_for_status()
    again = talon_one_push.push_profiles(talon_one_on(sandbox), warehouse, file=str(upload))
    assert (again.outcome, again.rows_sent, again.rows_skipped) == ("succeeded", 5000 - sent, sent)
    updates = {
        update["integrationId"]: update["received"]
        for update in talon_one_admin.get("/_sandbox/truth/profile_updates").json()
    }
    assert Counter(updates[key] for key in keys) == Counter({1: 5000})  # once each, none lost


@pytest.mark.parametrize(("warehouse", "signum", "code"), OTHER_SIGNALS, indirect=["warehouse"])
def test_a_voucherify_push_stops_while_it_polls_and_the_next_run_resumes(
    sandbox, voucherify_admin, warehouse, tmp_path, signum, code
) -> None:
    keys = [f"poll-{n:04d}" for n in range(500)]
    upload = metadata_file(tmp_path / "metadata.csv", keys)
    actions_take(voucherify_admin, 2)  # the signal comes within milliseconds of the POST
    warehouse.dispose()
    running = PushProcess(push_env(sandbox, warehouse.url), "metadata", "--file", str(upload))
    running.wait_for("recorded")
    running.process.send_signal(signum)
    exit_code, output = running.finish(timeout=30)  # not the 300 s deadline: the wait ended

    assert exit_code == code, output
    assert (
        "voucherify metadata: stopped — considered 500, invalid 0, unchanged 0, sent 500, failed 0"
    ) in output
    assert f"stopped by {signal.Signals(signum).name} {STOPPED}" in output
    assert "async actions are still running; the next run resumes them (never re-sends)" in output
    (job,) = warehouse.query("SELECT status, async_action_id FROM push_jobs")
    assert job["status"] == "sent" and job["async_action_id"]

    again = push.push(voucherify_on(sandbox), warehouse, "metadata", file=str(upload))
    assert again.resumed_action_ids == [job["async_action_id"]]
    assert (again.outcome, again.rows_sent, again.rows_skipped) == ("succeeded", 0, 500)
    posts = [r for r in voucherify_admin.get("/_sandbox/stats").json()["routes"]
             if r["method"] == "POST"]  # fmt: skip
    assert sum(route["count"] for route in posts) == 1  # polled, never sent again
    assert applied_once(voucherify_admin, keys) == (0, 0)
    assert [run["outcome"] for run in ledger(warehouse)] == ["stopped", "succeeded"]


def test_a_signal_while_waiting_for_the_lock_ends_the_wait_and_sends_nothing(
    sandbox, voucherify_admin, warehouse, tmp_path
) -> None:
    actions_take(voucherify_admin, 6)  # time for a second process to start meanwhile
    upload = metadata_file(tmp_path / "metadata.csv", ["wait-1", "wait-2"])
    warehouse.dispose()
    env = push_env(sandbox, warehouse.url)
    first = PushProcess(env, "metadata", "--file", str(upload))
    first.wait_for("recorded")
    second = PushProcess(env, "metadata", "--file", str(upload), "--lock-wait", "600")
    second.wait_for("waiting for it up to 600 s")
    second.process.send_signal(signal.SIGTERM)
    exit_code, output = second.finish(timeout=10)
    assert exit_code == 143
    assert output.splitlines()[-1] == ("stopped by SIGTERM before the push began; nothing was sent")
    assert first.finish()[0] == 0
    assert applied_once(voucherify_admin, ["wait-1", "wait-2"]) == (0, 0)
    assert len(ledger(warehouse)) == 1  # the stopped one never began a run
