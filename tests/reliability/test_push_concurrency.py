"""Pushes at the same time: one run of an operation at a time (a warehouse lock), so every key is
applied exactly once, on DuckDB and on PostgreSQL, whether the second run waits or refuses.

Before the lock, two `promosync push metadata --file same.csv` on PostgreSQL applied all 2,000
keys twice and both said `succeeded — sent 2000`.
"""

from __future__ import annotations

import re

import pytest
from promosync.connectors.locks import WarehouseBusy
from promosync.connectors.voucherify import push

from tests.reliability.pushing import (
    PushProcess,
    actions_take,
    applied_once,
    ledger,
    metadata_file,
    push_env,
)
from tests.reliability.test_bad_input import voucherify_on

KEYS = [f"together-{n:04d}" for n in range(2000)]
SUCCEEDED = "voucherify metadata: succeeded — considered 2000, invalid 0"


def _busy_line(warehouse, holder_pid: int) -> str:
    if warehouse.dialect == "duckdb":
        return (
            f"push refused: the warehouse {warehouse.url} is in use by another process"
            f" (PID {holder_pid}, python"
        )
    return (
        "push refused: the lock 'push:voucherify:metadata' is held by promosync"
        f" push:voucherify:metadata (pid {holder_pid} on "
    )


def test_a_second_push_of_the_same_file_is_refused_while_the_first_runs(
    sandbox, voucherify_admin, warehouse, tmp_path
) -> None:
    actions_take(voucherify_admin, 6)  # time for a second process to start meanwhile
    upload = metadata_file(tmp_path / "same.csv", KEYS)
    warehouse.dispose()  # DuckDB: the pushes' processes open the file
    env = push_env(sandbox, warehouse.url)
    first = PushProcess(env, "metadata", "--file", str(upload))
    first.wait_for("recorded")  # sent, and waiting for its async action: it holds the lock

    second = PushProcess(env, "metadata", "--file", str(upload), "--lock-wait", "0")
    code, output = second.finish()

    assert code == 1
    (line,) = output.splitlines()  # one line, and nothing else
    assert line.startswith(_busy_line(warehouse, first.pid)), line
    assert re.search(
        r"; waited 0\.\d s for it\. Try again once that run has finished, or allow a longer wait"
        r" \(--lock-wait SECONDS\)$",
        line,
    ), line
    code, output = first.finish()
    assert code == 0
    assert f"{SUCCEEDED}, unchanged 0, sent 2000, failed 0" in output
    assert applied_once(voucherify_admin, KEYS) == (0, 0)
    assert [(run["outcome"], run["rows_sent"]) for run in ledger(warehouse)] == [
        ("succeeded", 2000)
    ]


def test_two_pushes_started_together_run_one_after_the_other(
    sandbox, voucherify_admin, warehouse, tmp_path
) -> None:
    actions_take(voucherify_admin, 3)  # started together: the first holds its lock that long
    upload = metadata_file(tmp_path / "same.csv", KEYS)
    warehouse.dispose()
    env = push_env(sandbox, warehouse.url)

    both = [PushProcess(env, "metadata", "--file", str(upload)) for _ in range(2)]
    results = [process.finish() for process in both]

    assert [code for code, _ in results] == [0, 0], results
    summaries = sorted(
        line for _, output in results for line in output.splitlines() if SUCCEEDED in line
    )
    assert [re.search(r"unchanged (\d+), sent (\d+)", s).groups() for s in summaries] == [
        ("0", "2000"),
        ("2000", "0"),
    ]
    waited = next(output for _, output in results if "unchanged 2000" in output)
    assert "; waiting for it up to 60 s" in waited  # the second one said what it waited for
    assert applied_once(voucherify_admin, KEYS) == (0, 0)
    runs = [(run["outcome"], run["rows_sent"], run["rows_skipped"]) for run in ledger(warehouse)]
    assert sorted(runs) == [("succeeded", 0, 2000), ("succeeded", 2000, 0)]


@pytest.mark.parametrize("warehouse", ["postgresql"], indirect=True)  # DuckDB: one at a time
def test_two_operations_on_the_same_keys_run_at_once_and_apply_each_once(
    sandbox, voucherify_admin, warehouse, tmp_path
) -> None:
    """metadata and customers both start CUSTOMERS.BULK_UPDATE actions: their sends share the
    ledger lock, so neither adopts the other's action as its own."""
    actions_take(voucherify_admin, 0.5)
    metadata = metadata_file(tmp_path / "metadata.csv", KEYS)
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "source_id,name\n" + "".join(f"{key},Name {key}\n" for key in KEYS), encoding="utf-8"
    )
    warehouse.dispose()
    env = push_env(sandbox, warehouse.url)
    runs = [
        PushProcess(env, "metadata", "--file", str(metadata)),
        PushProcess(env, "customers", "--file", str(customers)),
    ]
    results = [process.finish() for process in runs]
    assert [code for code, _ in results] == [0, 0], results
    assert (
        "metadata: succeeded — considered 2000, invalid 0, unchanged 0, sent 2000"
        in (results[0][1])
    )
    assert (
        "customers: succeeded — considered 2000, invalid 0, unchanged 0, sent 2000"
        in (results[1][1])
    )
    assert applied_once(voucherify_admin, KEYS * 2) == (0, 0)  # once per operation
    truth = {c["source_id"]: c for c in voucherify_admin.get("/_sandbox/truth/customers").json()}
    assert truth[KEYS[-1]]["name"] == f"Name {KEYS[-1]}"
    assert truth[KEYS[-1]]["metadata"]["tier"] == "gold"


@pytest.mark.parametrize("warehouse", ["postgresql"], indirect=True)  # DuckDB: the file, above
def test_a_resume_waits_for_the_push_of_the_operation_it_would_poll(
    sandbox, voucherify_admin, warehouse, tmp_path
) -> None:
    actions_take(voucherify_admin, 2)  # the resume below comes within milliseconds
    upload = metadata_file(tmp_path / "same.csv", KEYS[:100])
    warehouse.dispose()
    first = PushProcess(push_env(sandbox, warehouse.url), "metadata", "--file", str(upload))
    first.wait_for("recorded")
    with pytest.raises(WarehouseBusy) as refused:
        push.resume_pending(voucherify_on(sandbox), warehouse, lock_wait_seconds=0)
    expected = _busy_line(warehouse, first.pid).removeprefix("push refused: ")
    assert str(refused.value).startswith(expected)
    assert first.finish()[0] == 0
    warehouse.dispose()
    assert applied_once(voucherify_admin, KEYS[:100]) == (0, 0)
