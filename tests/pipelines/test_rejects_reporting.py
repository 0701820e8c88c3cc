"""Rejects as a user meets them: the materialization's count, the failing asset check,
`promosync status`, and `promosync rejects list / resolve`."""

from __future__ import annotations

import dagster as dg
from promosync.connectors.voucherify.streams import CUSTOMERS
from promosync.pipelines.checks import pull_checks
from promosync.pipelines.cli import app
from promosync.pipelines.resources import VoucherifyResource, WarehouseResource
from promosync.pipelines.stream_assets import pull_asset
from typer.testing import CliRunner

from tests.reliability.cli import env_for, promosync, small, table_rows


def test_a_rejected_customer_is_counted_failed_on_and_resolved_by_hand(
    sandbox, voucherify_admin, tmp_path, monkeypatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    bad = voucherify_admin.get("/_sandbox/truth/customers").json()[11]["id"]
    rule = {"path": "^/v1/customers$", "where": {"id": bad}, "set": {"created_at": "soon"}}
    voucherify_admin.put("/_sandbox/malformed", json=[rule]).raise_for_status()
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    settings = sandbox.settings
    resources = {
        "voucherify": VoucherifyResource(
            base_url=sandbox.voucherify_url,
            app_id=settings.voucherify_app_id,
            app_token=settings.voucherify_app_token,
        ),
        "warehouse": WarehouseResource(url=url),
    }
    rejects_check = next(
        c
        for c in pull_checks([CUSTOMERS])
        if {k.name for k in c.check_keys} == {"rejects_resolved"}
    )
    result = dg.materialize([pull_asset(CUSTOMERS), rejects_check], resources=resources)
    (materialization,) = result.asset_materializations_for_node("voucherify_customers")
    assert materialization.metadata["rejected"].value == 1
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["unresolved"].value == 1
    assert f"e.g. {bad} created_at is a str 'soon', not an ISO 8601" in evaluation.description

    monkeypatch.setenv("WAREHOUSE_URL", url)
    runner = CliRunner()
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 1
    assert (
        f"FAIL  rejects_resolved: voucherify_customers: 1 record(s) rejected and not resolved,"
        f" e.g. {bad} created_at is a str 'soon'"
    ) in status.output
    listed = runner.invoke(app, ["rejects", "list"])
    assert listed.exit_code == 0 and f"voucherify_customers  {bad}  created_at" in listed.output
    assert "[unresolved," in listed.output and listed.output.rstrip().endswith("1 reject(s)")

    wrong = runner.invoke(app, ["rejects", "resolve", "voucherify_customer"])
    assert wrong.exit_code == 2 and "is not a stream" in wrong.output
    done = runner.invoke(
        app, ["rejects", "resolve", "voucherify_customers", "--key", bad, "--note", "fixed"]
    )
    assert done.output.strip() == "1 reject(s) of voucherify_customers marked resolved"
    assert "rejects_resolved" not in runner.invoke(app, ["status"]).output
    everything = runner.invoke(app, ["rejects", "list", "--all"]).output
    assert "[resolved (fixed)," in everything


def test_rejects_commands_on_a_warehouse_they_cannot_use_say_why_in_one_line(
    tmp_path, monkeypatch
) -> None:
    runner = CliRunner()
    missing = tmp_path / "nowhere" / "warehouse.duckdb"
    for url, says in [
        (f"duckdb:///{missing}", f"{missing} does not exist: run `promosync sync` first"),
        ("duckdb:///:memory:", "names no database file"),
        ("postgresql+psycopg://nobody@127.0.0.1:1/x", "cannot open the warehouse"),
    ]:
        monkeypatch.setenv("WAREHOUSE_URL", url)
        for command in (["rejects", "list"], ["rejects", "resolve", "voucherify_customers"]):
            result = runner.invoke(app, command)
            assert result.exit_code == 1, (url, command, result.output)
            (line,) = result.output.splitlines()
            assert line.startswith("rejects: ") and says in line
    assert not missing.parent.exists()  # nothing was created


def test_the_sync_table_counts_the_rejected_records_of_each_stream(
    sandbox, voucherify_admin, tmp_path
) -> None:
    small(sandbox, 20)
    bad = voucherify_admin.get("/_sandbox/truth/customers").json()[3]["id"]
    rule = {"path": "^/v1/customers$", "where": {"id": bad}, "set": {"created_at": "soon"}}
    voucherify_admin.put("/_sandbox/malformed", json=[rule]).raise_for_status()
    env = env_for(sandbox, f"duckdb:///{tmp_path / 'w.duckdb'}")

    code, out, err = promosync(env, "sync", "--only", "voucherify_customers")

    assert code == 0, err
    header = next(line.split() for line in out.splitlines() if line.startswith("stream"))
    row = dict(zip(header, table_rows(out)["voucherify_customers"], strict=True))
    assert (row["inserted"], row["rejected"], row["status"]) == ("19", "1", "ok")
