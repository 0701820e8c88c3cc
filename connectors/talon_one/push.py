"""Push to Talon.One: customer profiles (`PUT /v2/customer_profiles`) and audience memberships.

Both calls are synchronous and idempotent, so a batch's hashes are saved right after its 2xx:
a crash in between only means those rows are sent once more. A refused batch is split in
halves until the rows the API refuses are isolated, so one bad row never sinks the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from promosync.connectors.http import ApiClient, ApiError
from promosync.connectors.push import audit
from promosync.connectors.push.audit import PushReport, RowResult
from promosync.connectors.push.hashing import Change, select_changed
from promosync.connectors.push.rows import csv_rows, query_rows, unreadable
from promosync.connectors.push.validate import RowProblem, json_object, prepare_rows, required_text
from promosync.connectors.talon_one.client import TalonOne
from promosync.connectors.warehouse import Warehouse

DESTINATION = "talon_one"
MAX_PER_REQUEST = 1000  # profiles per PUT /v2/customer_profiles; actions per customer_audiences
MAX_INTEGRATION_ID = 1000
TRUE, FALSE = {"true", "t", "1", "yes", "y"}, {"false", "f", "0", "no", "n"}


def _integration_id(fields: dict[str, Any]) -> str:
    value = required_text(fields, "integration_id", "integrationId")
    if len(value) > MAX_INTEGRATION_ID:
        raise RowProblem(f"integrationId is {len(value)} characters, over {MAX_INTEGRATION_ID}")
    return value


def profile_row(fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(integrationId, profile): an `attributes` JSON object, or every other column as one."""
    integration_id = _integration_id(fields)
    if "attributes" in fields:
        if fields["attributes"] is None:
            raise RowProblem("attributes is missing")
        attributes = json_object(fields["attributes"], "attributes")
    else:
        attributes = {k: v for k, v in fields.items() if k != "integration_id" and v is not None}
    return integration_id, {"integrationId": integration_id, "attributes": attributes}


def audience_row(fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(audience_id:integrationId, membership change): `member` true adds, false removes."""
    integration_id = _integration_id(fields)
    try:
        audience_id = int(str(required_text(fields, "audience_id")))
    except ValueError:
        raise RowProblem(f"audience_id {fields['audience_id']!r} is not an integer") from None
    member = fields.get("member")
    if isinstance(member, str) and member.strip().lower() in TRUE | FALSE:
        member = member.strip().lower() in TRUE
    if not isinstance(member, bool):
        raise RowProblem(f"member {member!r} must be true (add) or false (remove)")
    change = {"audienceId": audience_id, "profileIntegrationId": integration_id,
              "action": "add" if member else "delete"}  # fmt: skip
    return f"{audience_id}:{integration_id}", change


def _isolating(
    send: Callable[[list[Change]], list[RowResult]], changes: list[Change]
) -> tuple[list[Change], list[RowResult]]:
    """Send; on a refusal of the content (400, 404, 409, 413, 422) retry each half alone."""
    try:
        return changes, send(changes)
    except ApiError as error:
        if error.status not in (400, 404, 409, 413, 422):
            raise
        if len(changes) == 1:
            row = changes[0].row
            return [], [RowResult(row.number, row.key, "rejected", error.detail)]
    middle = len(changes) // 2
    sent_a, results_a = _isolating(send, changes[:middle])
    sent_b, results_b = _isolating(send, changes[middle:])
    return sent_a + sent_b, results_a + results_b


def _push(
    client: ApiClient,
    warehouse: Warehouse,
    report: PushReport,
    rows_from: tuple[str | None, str],
    build: Callable[[dict[str, Any]], tuple[str, Any]],
    send: Callable[[list[Change]], list[RowResult]],
    dry_run: bool,
    describe: str,
) -> PushReport:
    file, query = rows_from
    key_column = "integration_id"
    if file:
        rows, rejected = csv_rows(file, key_column)
        report.error = unreadable(rejected)  # a file that cannot be read fails the run
    else:
        rows, rejected = query_rows(warehouse, query), []
    prepared, refused = prepare_rows(rows, build, key_column)
    pushed = audit.pushed_hashes(warehouse, DESTINATION, report.operation)
    changes, report.rows_skipped = select_changed(prepared, pushed, {}, report.forced)
    batches = [changes[i : i + MAX_PER_REQUEST] for i in range(0, len(changes), MAX_PER_REQUEST)]
    report.problems = [RowResult.invalid(r) for r in rejected + refused]
    report.rows_considered = len(rows) + len(rejected)
    report.rows_invalid = len(report.problems)
    report.batches = [
        f"batch {n}: {describe} — {len(b)} rows — "
        + ", ".join(c.row.key for c in b[:3]) + (f", … {b[-1].row.key}" if len(b) > 3 else "")
        for n, b in enumerate(batches, start=1)
    ]  # fmt: skip
    if dry_run:
        report.rows_failed = report.rows_invalid
        report.finish("dry_run")
        return report
    spent = client.counters.requests
    audit.save_run(warehouse, report)
    audit.record_results(warehouse, report, report.problems)
    refusals: list[RowResult] = []
    try:
        for number, batch in enumerate(batches, start=1):
            arrived, results = _isolating(send, batch)
            audit.save_hashes(warehouse, DESTINATION, report.operation, report.run_id,
                              audit.confirmed(arrived))  # fmt: skip
            report.rows_sent += len(arrived)
            refusals += [r for r in results if r.status == "rejected"]
            audit.record_results(warehouse, report, results, f"{report.run_id}:{number}")
    except ApiError as error:
        report.error = str(error)
    report.problems += refusals
    report.rows_failed = report.rows_invalid + len(refusals)
    report.requests = client.counters.requests - spent
    outcome = "failed" if report.error else "partial" if report.rows_failed else "succeeded"
    report.finish(outcome)
    audit.save_run(warehouse, report)
    return report


def push_profiles(
    talon_one: TalonOne,
    warehouse: Warehouse,
    *,
    query: str | None = None,
    file: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    row_results: bool = False,
) -> PushReport:
    """Upsert profiles' attributes, 1,000 a request (`silent=no` only when asked for results)."""
    client = talon_one.integration
    query = query or "talon_one_profiles"
    report = PushReport(
        DESTINATION, "profiles", f"file:{file}" if file else f"query:{query}", force
    )
    silent = "no" if row_results else "yes"

    def send(changes: list[Change]) -> list[RowResult]:
        body = {"customerProfiles": [change.row.payload for change in changes]}
        response = client.request("PUT", "/v2/customer_profiles", params={"silent": silent},
                                  expect_json=row_results, json=body)  # fmt: skip
        if not row_results:
            return []
        states = response.parsed_json.get("integrationStates") or []
        return [
            RowResult(change.row.number, change.row.key, "done", "profile upserted",
                      {"id": (state.get("customerProfile") or {}).get("id")})
            for change, state in zip(changes, states, strict=False)
        ]  # fmt: skip

    describe = f"PUT /v2/customer_profiles?silent={silent}"
    return _push(client, warehouse, report, (file, query), profile_row, send, dry_run, describe)


def push_audiences(
    talon_one: TalonOne,
    warehouse: Warehouse,
    *,
    query: str | None = None,
    file: str | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> PushReport:
    """Add and remove audience memberships, 1,000 changes a request."""
    client = talon_one.integration
    query = query or "talon_one_audiences"
    report = PushReport(
        DESTINATION, "audiences", f"file:{file}" if file else f"query:{query}", force
    )

    def send(changes: list[Change]) -> list[RowResult]:
        body = {"data": [change.row.payload for change in changes]}
        client.request("POST", "/v2/customer_audiences", json=body)
        return []

    describe = "POST /v2/customer_audiences"
    return _push(client, warehouse, report, (file, query), audience_row, send, dry_run, describe)
