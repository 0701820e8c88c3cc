"""Talon.One profiles and audiences, and row-level validation of bad input."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from promosync.connectors.talon_one import push as talon_one_push
from promosync.connectors.talon_one.client import talon_one_client
from promosync.connectors.voucherify import push

from tests.connectors.test_push_voucherify import insert, truth


@pytest.fixture
def talon(sandbox):
    return talon_one_client(sandbox.talon_one_url, sandbox.settings.talon_one_api_key)


def test_profiles_round_trip_and_change_only(talon, warehouse, talon_one_admin) -> None:
    insert(
        warehouse,
        "push_talon_one_profiles",
        [{"integration_id": f"pr-{i}", "attributes": f'{{"tier": "t{i}"}}'} for i in range(20)],
    )
    report = talon_one_push.push_profiles(talon, warehouse, row_results=True)
    assert (report.outcome, report.rows_sent, report.requests) == ("succeeded", 20, 1)
    profiles = {
        p["integrationId"]: p for p in talon_one_admin.get("/_sandbox/truth/profiles").json()
    }
    assert all(profiles[f"pr-{i}"]["attributes"]["tier"] == f"t{i}" for i in range(20))
    done = warehouse.query("SELECT count(*) AS n FROM push_row_results WHERE status = 'done'")
    assert done[0]["n"] == 20
    again = talon_one_push.push_profiles(talon, warehouse)
    assert (again.rows_sent, again.rows_skipped, again.requests) == (0, 20, 0)


def test_audience_memberships_added_and_removed(
    talon, warehouse, talon_one, talon_one_admin
) -> None:
    audience = talon_one.post("/v2/audiences", json={"name": "push-test"}).json()["id"]
    members = [
        p["integrationId"] for p in talon_one_admin.get("/_sandbox/truth/profiles").json()[:6]
    ]
    rows = [{"audience_id": audience, "integration_id": m, "member": True} for m in members]
    rows.append({"audience_id": audience, "integration_id": "nobody-at-all", "member": True})
    insert(warehouse, "push_talon_one_audiences", rows)
    report = talon_one_push.push_audiences(talon, warehouse)
    assert (report.outcome, report.rows_sent, report.rows_failed) == ("partial", 6, 1)
    assert "nobody-at-all" in report.problems[0].reason and report.problems[0].number == 7
    audiences = {a["id"]: a for a in talon_one_admin.get("/_sandbox/truth/audiences").json()}
    assert audiences[audience]["members"] == sorted(members)

    with warehouse.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE push_talon_one_audiences SET member = false WHERE integration_id = :i"),
            {"i": members[0]},
        )
    removal = talon_one_push.push_audiences(talon, warehouse)
    assert removal.rows_sent == 1
    audiences = {a["id"]: a for a in talon_one_admin.get("/_sandbox/truth/audiences").json()}
    assert audiences[audience]["members"] == sorted(members[1:])


def test_each_bad_row_gets_its_reason_and_the_valid_rows_arrive(
    client, warehouse, voucherify_admin, tmp_path
) -> None:
    upload = tmp_path / "customers.csv"
    upload.write_bytes(
        b"source_id,email,birthdate,metadata\n"
        b"good-1,a@example.com,1990-01-01,\n"
        b",b@example.com,,\n"
        b"dup,c@example.com,,\n"
        b"dup,d@example.com,,\n"
        b"bad-email,not-an-email,,\n"
        b"bad-date,e@example.com,31/12/1990,\n"
        b'bad-meta,f@example.com,,"[1, 2]"\n'
        b"latin1,caf\xe9@example.com,,\n"
        b"good-2,g@example.com,,\n"
    )
    report = push.push(client, warehouse, "customers", file=str(upload))
    reasons = {p.number: p.reason for p in report.problems}
    assert reasons[2] == "source_id is missing"
    assert "appears in rows 3, 4" in reasons[3] and "appears in rows 3, 4" in reasons[4]
    assert "not a valid email address" in reasons[5]
    assert "not a date in the YYYY-MM-DD format" in reasons[6]
    assert "metadata must be a JSON object" in reasons[7]
    assert "not valid UTF-8: byte 0xe9" in reasons[8]
    assert (report.rows_considered, report.rows_invalid, report.rows_sent) == (9, 7, 2)
    recorded = warehouse.query(
        "SELECT count(*) AS n FROM push_row_results WHERE status = 'invalid'"
    )
    assert recorded[0]["n"] == 7
    assert {"good-1", "good-2"} <= set(truth(voucherify_admin))

    headless = tmp_path / "headless.csv"
    headless.write_text("x-1,a@example.com\nx-2,b@example.com\n", encoding="utf-8")
    report = push.push(client, warehouse, "customers", file=str(headless))
    assert (report.outcome, report.rows_sent, report.problems) == ("failed", 0, [])
    assert report.error == (
        "the file has no header row naming source_id (its first row has 2 column(s)); is it the"
        " CSV file of this push? Nothing in it was sent"
    )
    assert "x-1" not in str(warehouse.query("SELECT * FROM push_row_results"))
