"""A warehouse edited by hand, met at the start of a run (`connectors/preflight.py`).

A dropped table or column and rows deleted under a cursor are repaired by the next sync, which
says so and re-reads the stream to parity with the source; a cursor in the future or unreadable,
and a table that lost its key, are refused with the command that fixes it, which then works.
`promosync status` reports each of them before any sync, and exits 1.
"""

from __future__ import annotations

import pytest
from promosync.connectors.voucherify import sync
from promosync.connectors.warehouse import Warehouse

from tests.reliability import checks
from tests.reliability.cli import env_for, one_line, promosync, small, table_rows
from tests.reliability.runs import voucherify as voucherify_client

FUTURE = "2031-01-01T00:00:00.000Z"


@pytest.fixture
def synced(sandbox, warehouse: Warehouse) -> tuple[Warehouse, dict[str, str]]:
    """Customers, activity and loyalty transactions of 40 customers, synced; the CLI's env."""
    small(sandbox, 40)
    client = voucherify_client(sandbox.voucherify_url)
    sync.sync_customers(client, warehouse)
    sync.sync_activities(client, warehouse)
    sync.sync_loyalty_transactions(client, warehouse)
    return warehouse, env_for(sandbox, warehouse.url)


def _parity(admin, warehouse: Warehouse, tables: tuple[str, ...]) -> list[str]:
    """Differences from the source in `tables` (lost, duplicated, stale rows)."""
    verdict = checks.voucherify_parity(admin, warehouse)
    return [p for p in verdict.problems if p.split(":")[0] in tables]


def _status(env: dict[str, str]) -> tuple[int, str]:
    code, out, err = promosync({**env, "VOUCHERIFY_APP_TOKEN": ""}, "status")
    return code, one_line(out + err)


@pytest.mark.parametrize(
    ("cursor", "problem"),
    [
        (FUTURE, f"cursor {FUTURE} is in the future"),
        ("yesterday", "cursor 'yesterday' is not an instant"),
    ],
)
def test_a_cursor_that_cannot_be_right_is_refused_with_the_command_that_fixes_it(
    synced, voucherify_admin, cursor: str, problem: str
) -> None:
    warehouse, env = synced
    warehouse.run_ddl(
        f"UPDATE sync_state SET cursor_value = '{cursor}'"
        " WHERE stream = 'voucherify_customers' AND partition_key = ''",
        "editing by hand",
    )
    before = checks.voucherify_parity(voucherify_admin, warehouse)
    fix = "run `promosync sync --only voucherify_customers --full-refresh`"

    code, status = _status(env)
    assert code == 1 and problem in status and fix in status, status
    code, out, err = promosync(env, "sync", "--only", "voucherify")

    assert code == 1
    report = [line for line in err.splitlines() if not line.startswith("voucherify_")]
    assert report[0].startswith(f"sync failed: voucherify_customers: {problem}")
    assert fix in report[0] and "Traceback" not in err
    assert f"voucherify_customers: failed: {problem}" in err  # as soon as it ended
    rows = table_rows(out)
    assert rows["voucherify_customers"][-1] == "failed"
    assert rows["voucherify_loyalty_transactions"][-1] == "ok"  # the other streams still ran
    assert warehouse.read_cursor("voucherify_customers") == cursor  # nothing touched
    assert checks.voucherify_parity(voucherify_admin, warehouse).problems == before.problems

    code, out, err = promosync(env, "sync", "--only", "voucherify_customers", "--full-refresh")

    assert code == 0, err
    assert warehouse.read_cursor("voucherify_customers") < FUTURE
    assert not _parity(voucherify_admin, warehouse, ("voucherify_customers",))
    assert _status(env)[0] == 0


@pytest.mark.parametrize(
    ("edit", "stream", "problem"),
    [
        (
            "DROP TABLE voucherify_customer_activities",
            "voucherify_customer_activities",
            "table missing (dropped by hand?)",
        ),
        (
            "ALTER TABLE voucherify_customers DROP COLUMN email",
            "voucherify_customers",
            "column email missing (dropped by hand?)",
        ),
        (
            "DELETE FROM voucherify_customers",
            "voucherify_customers",
            "its cursor has no stored row behind it (deleted by hand?)",
        ),
        (
            "DELETE FROM voucherify_loyalty_transactions WHERE campaign_id IN"
            " (SELECT min(campaign_id) FROM voucherify_loyalty_transactions)",
            "voucherify_loyalty_transactions",
            "1 campaign_id cursor(s) have no stored row behind them (deleted by hand?)",
        ),
    ],
)
def test_a_table_or_column_dropped_or_emptied_by_hand_is_repaired_and_read_again(
    synced, voucherify_admin, edit: str, stream: str, problem: str
) -> None:
    warehouse, env = synced
    warehouse.run_ddl(edit, "editing by hand")
    code, status = _status(env)
    assert code == 1 and (problem in status or f"lacks {stream}" in status), status

    code, out, err = promosync(env, "sync", "--only", stream)

    assert code == 0, err
    said = one_line(err)
    assert (
        f"{stream}: {problem}; this sync" in said and "re-reads the stream from the start" in said
    )
    assert table_rows(out)[stream][-1] == "ok"
    assert not _parity(voucherify_admin, warehouse, (stream,))
    if "email" in edit:
        truth = [c for c in voucherify_admin.get("/_sandbox/truth/customers").json() if c["email"]]
        held = warehouse.query("SELECT count(email) AS n FROM voucherify_customers")[0]["n"]
        assert held == len(truth)  # the column is filled again, not only re-created
    assert _status(env)[0] == 0


def test_a_table_that_lost_its_key_is_refused_until_dropped(synced, voucherify_admin) -> None:
    warehouse, env = synced
    stream = "voucherify_loyalty_transactions"
    columns = [c for c in warehouse.columns(stream) if c != "id"]
    warehouse.run_ddl(
        f"CREATE TABLE copied AS SELECT {', '.join(columns)} FROM {stream};"
        f" DROP TABLE {stream}; ALTER TABLE copied RENAME TO {stream}",
        "copying by hand",
    )
    code, _, err = promosync(env, "sync", "--only", stream)

    assert code == 1
    assert one_line(err.split("sync failed: ", 1)[-1]).startswith(
        f"{stream}: key column id missing, rows cannot be matched; drop the table"
        f" (DROP TABLE {stream}) and run `promosync sync --only {stream}`"
    )
    warehouse.run_ddl(f"DROP TABLE {stream}", "following the advice")
    code, _, err = promosync(env, "sync", "--only", stream)
    assert code == 0, err
    assert not _parity(voucherify_admin, warehouse, (stream,))
