"""Voucherify push against the sandbox: round trips, change-only, async outcomes, resume."""

from __future__ import annotations

import orjson
import pytest
import sqlalchemy as sa
from promosync.connectors.push import jobs
from promosync.connectors.voucherify import customer_rows as customer_fields
from promosync.connectors.voucherify import push, sync


def _json(value):
    return orjson.loads(value) if isinstance(value, str) else value


def insert(warehouse, table: str, rows: list[dict]) -> None:
    """Fill an input table as an analyst would."""
    target = sa.table(table, *(sa.column(c) for c in rows[0]))
    with warehouse.engine.begin() as conn:
        conn.execute(sa.insert(target), rows)


def posts(admin) -> dict[str, int]:
    """POSTs served per route."""
    counts: dict[str, int] = {}
    for route in admin.get("/_sandbox/stats").json()["routes"]:
        if route["method"] == "POST":
            counts[route["route"]] = counts.get(route["route"], 0) + route["count"]
    return counts


def truth(admin) -> dict[str, dict]:
    return {c["source_id"]: c for c in admin.get("/_sandbox/truth/customers").json()}


def test_metadata_round_trip_change_only_and_pull(client, warehouse, voucherify_admin) -> None:
    existing = sorted(truth(voucherify_admin))[:30]
    wanted = {sid: {"tier": "gold"} for sid in existing[:20]}
    wanted |= {sid: {"score": i, "tags": ["a", i]} for i, sid in enumerate(existing[20:])}
    wanted |= {f"new-{i}": {"tier": "silver", "n": i} for i in range(5)}
    insert(
        warehouse,
        "push_voucherify_metadata",
        [{"source_id": k, "metadata": orjson.dumps(v).decode()} for k, v in wanted.items()],
    )

    report = push.push(client, warehouse, "metadata")

    assert (report.outcome, report.rows_sent, report.rows_failed) == ("succeeded", 35, 0)
    customers = truth(voucherify_admin)
    for source_id, metadata in wanted.items():
        assert customers[source_id]["metadata"].items() >= metadata.items()
    assert customers["new-3"]["metadata"] == {"tier": "silver", "n": 3}  # created by the upsert
    sync.sync_customers(client, warehouse)
    pulled = warehouse.query("SELECT source_id, metadata FROM voucherify_customers")
    pulled = {row["source_id"]: _json(row["metadata"]) for row in pulled}
    for source_id, metadata in wanted.items():
        assert pulled[source_id].items() >= metadata.items()

    before = posts(voucherify_admin)
    again = push.push(client, warehouse, "metadata")
    assert (again.rows_sent, again.rows_skipped, again.requests) == (0, 35, 0)
    assert posts(voucherify_admin) == before

    with warehouse.engine.begin() as conn:
        changed = existing[:10]
        conn.execute(
            sa.text("UPDATE push_voucherify_metadata SET metadata = :m WHERE source_id = :s"),
            [{"m": orjson.dumps({"tier": "platinum"}).decode(), "s": s} for s in changed],
        )
    third = push.push(client, warehouse, "metadata")
    assert (third.rows_sent, third.rows_skipped) == (10, 25)
    assert all(truth(voucherify_admin)[s]["metadata"]["tier"] == "platinum" for s in changed)
    forced = push.push(client, warehouse, "metadata", force=True)
    assert forced.rows_sent == 35


def test_identical_metadata_goes_in_one_metadata_request(client, warehouse, voucherify_admin):
    source_ids = sorted(truth(voucherify_admin))[:200]
    insert(
        warehouse,
        "push_voucherify_metadata",
        [{"source_id": s, "metadata": '{"campaign": "spring"}'} for s in source_ids],
    )
    report = push.push(client, warehouse, "metadata")
    assert report.outcome == "succeeded"
    assert posts(voucherify_admin) == {"/v1/customers/metadata/async": 1}


def test_customers_and_csv_import_round_trip(client, warehouse, voucherify_admin, tmp_path):
    rows = [
        {
            "source_id": f"bulk-{i}",
            "name": f"Zoë {i}",
            "email": f"z{i}@example.com",
            "birthdate": "1990-05-0" + str(i + 1),
            "address_city": "Łódź",
            "metadata": orjson.dumps({"vip": i % 2 == 0, "ltv": i * 10.5}).decode(),
        }
        for i in range(6)
    ]
    insert(warehouse, "push_voucherify_customers", rows)
    report = push.push(client, warehouse, "customers")
    assert (report.outcome, report.rows_sent) == ("succeeded", 6)
    customers = truth(voucherify_admin)
    for row in rows:
        got = customers[row["source_id"]]
        assert (got["name"], got["email"], got["birthdate"]) == (
            row["name"],
            row["email"],
            row["birthdate"],
        )
        assert got["address"]["city"] == "Łódź"
        assert got["metadata"] == orjson.loads(row["metadata"])

    upload = tmp_path / "import.csv"
    upload.write_text(
        "source_id,name,email,phone,favourite_colour\n"
        "csv-1,Ann,ann@example.com,+48 600 000 001,teal\n"
        'csv-2,"Bob, Jr.",bob@example.com,,"say ""hi"""\n',
        encoding="utf-8",
    )
    imported = push.push(client, warehouse, "csv_import", file=str(upload))
    assert (imported.outcome, imported.rows_sent) == ("succeeded", 2)
    assert posts(voucherify_admin)["/v1/customers/importCSV"] == 1
    customers = truth(voucherify_admin)
    assert customers["csv-1"]["phone"] == "+48 600 000 001"
    assert customers["csv-1"]["metadata"] == {"favourite_colour": "teal"}  # unmapped -> metadata
    assert customers["csv-2"]["name"] == "Bob, Jr."
    assert customers["csv-2"]["metadata"] == {"favourite_colour": 'say "hi"'}

    sync.sync_customers(client, warehouse)
    pulled = {
        r["source_id"]: r
        for r in warehouse.query(
            "SELECT source_id, name, email, address_city FROM voucherify_customers"
        )
    }
    assert pulled["bulk-3"]["email"] == "z3@example.com"
    assert pulled["bulk-3"]["address_city"] == "Łódź"
    assert pulled["csv-2"]["name"] == "Bob, Jr."


def test_rows_the_async_job_rejects_are_recorded_with_its_reason(
    client, warehouse, voucherify_admin, monkeypatch
) -> None:
    # The sandbox checks emails more strictly than this (relaxed) client-side validation.
    monkeypatch.setattr(customer_fields, "email", lambda value: value)
    rows = [{"source_id": f"ok-{i}", "email": f"ok{i}@example.com"} for i in range(5)]
    rows += [{"source_id": f"bad-{i}", "email": f"bad{i}-at-example"} for i in range(3)]
    insert(warehouse, "push_voucherify_customers", rows)

    report = push.push(client, warehouse, "customers")

    assert (report.outcome, report.rows_sent, report.rows_failed) == ("partial", 8, 3)
    results = warehouse.query(
        "SELECT row_key, row_number, status, reason FROM push_row_results"
        " WHERE run_id = :r ORDER BY row_number",
        {"r": report.run_id},
    )
    assert [(r["row_key"], r["row_number"], r["status"]) for r in results] == [
        ("bad-0", 6, "rejected"),
        ("bad-1", 7, "rejected"),
        ("bad-2", 8, "rejected"),
    ]
    assert (
        "must be a valid email address (actual value is 'bad0-at-example')" in results[0]["reason"]
    )
    assert set(truth(voucherify_admin)) >= {f"ok-{i}" for i in range(5)}
    retry = push.push(client, warehouse, "customers")  # only the refused rows go again
    assert (retry.rows_sent, retry.rows_skipped) == (3, 5)


def test_a_failed_async_job_is_reported_as_failed(client, warehouse, monkeypatch) -> None:
    monkeypatch.setattr(customer_fields, "email", lambda value: value)
    insert(
        warehouse,
        "push_voucherify_customers",
        [{"source_id": f"bad-{i}", "email": "nope"} for i in range(4)],
    )
    report = push.push(client, warehouse, "customers")
    assert (report.outcome, report.rows_failed) == ("failed", 4)
    (job,) = jobs.run_jobs(warehouse, report.run_id)
    assert (job.status, job.async_status, job.failed_count) == ("failed", "FAILED", 4)
    run = warehouse.query("SELECT outcome FROM push_runs WHERE run_id = :r", {"r": report.run_id})
    assert run[0]["outcome"] == "failed"


def test_a_job_running_at_the_deadline_is_resumed_not_resent(
    client, warehouse, voucherify_admin
) -> None:
    voucherify_admin.put("/_sandbox/config", json={"async_action_seconds": 1.0})
    insert(
        warehouse,
        "push_voucherify_metadata",
        [{"source_id": f"p-{i}", "metadata": '{"a": 1}'} for i in range(50)],
    )

    first = push.push(client, warehouse, "metadata", deadline_seconds=0.05)
    assert first.outcome == "pending"
    second = push.push(client, warehouse, "metadata", deadline_seconds=10)

    assert second.rows_sent == 0 and second.rows_skipped == 50
    assert second.resumed_action_ids == first.async_action_ids
    assert sum(posts(voucherify_admin).values()) == 1
    assert len(voucherify_admin.get("/_sandbox/truth/async_actions").json()) == 1
    run = warehouse.query("SELECT outcome FROM push_runs WHERE run_id = :r", {"r": first.run_id})
    assert run[0]["outcome"] == "succeeded"
    assert len(push.push(client, warehouse, "metadata").async_action_ids) == 0


def test_an_id_lost_between_post_and_record_is_recovered(
    client, warehouse, voucherify_admin, monkeypatch
) -> None:
    insert(
        warehouse,
        "push_voucherify_metadata",
        [{"source_id": f"p-{i}", "metadata": f'{{"n": {i}}}'} for i in range(20)],
    )
    save_job = jobs.save_job

    def crash_after_post(store, job):
        if job.status == "sent":
            raise KeyboardInterrupt("killed before the id was recorded")
        save_job(store, job)

    monkeypatch.setattr(jobs, "save_job", crash_after_post)
    with pytest.raises(KeyboardInterrupt):
        push.push(client, warehouse, "metadata")
    monkeypatch.setattr(jobs, "save_job", save_job)

    report = push.push(client, warehouse, "metadata", deadline_seconds=10)

    actions = voucherify_admin.get("/_sandbox/truth/async_actions").json()
    assert len(actions) == 1 and sum(posts(voucherify_admin).values()) == 1
    assert report.resumed_action_ids == [actions[0]["id"]]
    assert (report.rows_sent, report.rows_skipped) == (0, 20)
    assert push.push(client, warehouse, "metadata").rows_skipped == 20
