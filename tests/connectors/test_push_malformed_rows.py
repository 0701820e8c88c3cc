"""Rows the push cannot read, from the warehouse's input tables and from a CSV file: each is
refused alone with its reason in `push_row_results`, the others arrive, and the run says
`partial` with the count."""

from __future__ import annotations

from promosync.connectors.talon_one import push as talon_one_push
from promosync.connectors.talon_one.client import talon_one_client
from promosync.connectors.voucherify import push

from tests.connectors.test_push_voucherify import insert, truth


def refused(warehouse, run_id: str) -> dict[str, str]:
    rows = warehouse.query(
        "SELECT row_key, row_number, reason FROM push_row_results"
        " WHERE run_id = :r AND status = 'invalid'",
        {"r": run_id},
    )
    return {row["row_key"] or f"row {row['row_number']}": row["reason"] for row in rows}


def test_voucherify_rows_the_push_cannot_read_are_refused_alone(
    client, warehouse, voucherify_admin, tmp_path
) -> None:
    rows = [
        {"source_id": "good-1", "email": "a@example.com", "birthdate": "1990-01-31"},
        {"source_id": "bad-date", "birthdate": "1990-02-30"},  # an invalid date
        {"source_id": "text-for-object", "metadata": '"gold"'},  # text where an object belongs
        {"source_id": "", "email": "b@example.com"},  # no value where one is required
        {"source_id": "good-2", "metadata": '{"tier": "gold"}'},
    ]
    columns = ("source_id", "email", "birthdate", "metadata")
    insert(warehouse, "push_voucherify_customers", [{c: r.get(c) for c in columns} for r in rows])
    report = push.push(client, warehouse, "customers")
    assert (report.outcome, report.rows_invalid, report.rows_sent) == ("partial", 3, 2)
    reasons = refused(warehouse, report.run_id)
    assert "not a date in the YYYY-MM-DD format" in reasons["bad-date"]
    # A JSON column holding a JSON string comes back as text: refused as text that is no object.
    assert reasons["text-for-object"] == "metadata is not valid JSON: 'gold'"
    assert reasons["row 4"] == "source_id is missing"
    assert {"good-1", "good-2"} <= set(truth(voucherify_admin))

    upload = tmp_path / "customers.csv"
    upload.write_text("source_id,email\nc-1,c@example.com\nc-2,d@example.com,extra\n")
    report = push.push(client, warehouse, "customers", file=str(upload))
    assert (report.outcome, report.rows_invalid, report.rows_sent) == ("partial", 1, 1)
    assert refused(warehouse, report.run_id) == {"row 2": "row has 3 cells, the header has 2"}
    keyless = tmp_path / "keyless.csv"
    keyless.write_text("email\ne@example.com\n")  # no key column at all
    report = push.push(client, warehouse, "customers", file=str(keyless))
    assert (report.outcome, report.rows_sent, refused(warehouse, report.run_id)) == (
        "failed",
        0,
        {},
    )
    assert "the file has no header row naming source_id" in str(report.error)


def test_talon_one_rows_the_push_cannot_read_are_refused_alone(
    sandbox, warehouse, talon_one_admin
) -> None:
    settings = sandbox.settings
    t1 = talon_one_client(sandbox.talon_one_url, settings.talon_one_api_key)
    rows = [
        {"integration_id": "p-good", "attributes": '{"Tier": "gold"}'},
        {"integration_id": "p-array", "attributes": "[1, 2]"},  # an array where an object belongs
        {"integration_id": "", "attributes": "{}"},  # no value where one is required
    ]
    insert(warehouse, "push_talon_one_profiles", rows)
    report = talon_one_push.push_profiles(t1, warehouse)
    assert (report.outcome, report.rows_invalid, report.rows_sent) == ("partial", 2, 1)
    reasons = refused(warehouse, report.run_id)
    assert "attributes must be a JSON object, got list" in reasons["p-array"]
    assert reasons["row 3"] == "integrationId is missing"
    profiles = {
        p["integrationId"]: p for p in talon_one_admin.get("/_sandbox/truth/profiles").json()
    }
    assert profiles["p-good"]["attributes"]["Tier"] == "gold"
