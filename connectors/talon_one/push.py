"""Push to Talon.One: customer profiles (`PUT /v2/customer_profiles`) and audience memberships.

Both calls are synchronous and idempotent, so a batch's hashes are saved right after its 2xx:
a crash in between only means those rows are sent once more. A refused batch is split in
halves until the rows the API refuses are isolated, so one bad row never sinks the others.
A run holds the warehouse lock `push:talon_one:<operation>`: one run of an operation at a time.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import Any

import orjson
from promosync.connectors.http import ApiClient, ApiError
from promosync.connectors.locks import warehouse_lock
from promosync.connectors.push import audit, runs
from promosync.connectors.push.audit import PushReport, RowResult
from promosync.connectors.push.intake import Source
from promosync.connectors.push.jobs import outcome_of
from promosync.connectors.push.loop import Plan, Refuse, plan_and_send
from promosync.connectors.push.spool import Spool, Spooled
from promosync.connectors.push.validate import RowProblem, json_object, required_text
from promosync.connectors.talon_one.client import TalonOne
from promosync.connectors.warehouse import Warehouse

log = logging.getLogger(__name__)

DESTINATION = "talon_one"
MAX_PER_REQUEST = 1000  # profiles per PUT /v2/customer_profiles; actions per customer_audiences
MAX_INTEGRATION_ID = 1000
TRUE, FALSE = {"true", "t", "1", "yes", "y"}, {"false", "f", "0", "no", "n"}
AUDIENCE_ID = re.compile(r"^[0-9]{1,19}$")  # digits only: no sign, no "1_000", no "١٢"
MAX_INT64 = 2**63 - 1


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


def audience_id(fields: dict[str, Any]) -> int:
    """A Talon.One audience id: a positive whole number that fits 64 bits, written in digits."""
    text = required_text(fields, "audience_id")
    if not AUDIENCE_ID.match(text) or not 0 < int(text) <= MAX_INT64:
        raise RowProblem(
            f"audience_id {text[:40]!r} is not an audience id (a whole number from 1 to"
            f" {MAX_INT64})"
        )
    return int(text)


def audience_row(fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(audience_id:integrationId, membership change): `member` true adds, false removes."""
    integration_id = _integration_id(fields)
    audience = audience_id(fields)
    member = fields.get("member")
    if isinstance(member, str) and member.strip().lower() in TRUE | FALSE:
        member = member.strip().lower() in TRUE
    if not isinstance(member, bool):
        raise RowProblem(f"member {member!r:.60} must be true (add) or false (remove)")
    change = {"audienceId": audience, "profileIntegrationId": integration_id,
              "action": "add" if member else "delete"}  # fmt: skip
    return f"{audience}:{integration_id}", change


Send = Callable[[list[Spooled]], list[RowResult]]


def _isolating(send: Send, rows: list[Spooled]) -> tuple[list[Spooled], list[RowResult]]:
    """Send; on a refusal of the content (400, 404, 409, 413, 422) retry each half alone."""
    try:
        return rows, send(rows)
    except ApiError as error:
        if error.status not in (400, 404, 409, 413, 422):
            raise
        if len(rows) == 1:
            return [], [RowResult(rows[0].number, rows[0].key, "rejected", error.detail)]
    middle = len(rows) // 2
    sent_a, results_a = _isolating(send, rows[:middle])
    sent_b, results_b = _isolating(send, rows[middle:])
    return sent_a + sent_b, results_a + results_b


@dataclass(frozen=True)
class Rows:
    """One request's rows (at most 1,000) and its endpoint as shown."""

    endpoint: str
    rows: list[Spooled]

    def describe(self, sequence: int) -> str:
        keys = ", ".join(row.key for row in self.rows[:3])
        more = f", … {self.rows[-1].key}" if len(self.rows) > 3 else ""
        return f"batch {sequence}: {self.endpoint} — {len(self.rows)} rows — {keys}{more}"


def _planner(endpoint: str) -> Plan[Rows]:
    """Batches of the spooled rows, 1,000 a request (no row is too big to go alone)."""

    def plan(spool: Spool, refuse: Refuse) -> Iterator[Rows]:
        rows = spool.rows()
        while batch := list(islice(rows, MAX_PER_REQUEST)):
            yield Rows(endpoint, batch)

    return plan


def _sender(warehouse: Warehouse, report: PushReport, send: Send) -> Callable[..., bool]:
    """How one batch goes: sent (halves retried alone on a refusal of their content), each
    request's hashes saved right after its 2xx, its rows' results recorded."""

    def send_batch(spool: Spool, sequence: int, batch: Rows) -> bool:
        arrived, results = _isolating(send, batch.rows)
        audit.save_hashes(warehouse, DESTINATION, report.operation, report.run_id,
                          [(row.key, row.hash) for row in arrived])  # fmt: skip
        report.rows_sent += len(arrived)
        refusals = [r for r in results if r.status == "rejected"]
        report.rows_failed += len(refusals)
        report.note(refusals)
        audit.record_results(warehouse, report, results, f"{report.run_id}:{sequence}")
        log.info("talon_one %s: request %d sent, %d of %d rows arrived", report.operation,
                 sequence, len(arrived), len(batch.rows))  # fmt: skip
        return True

    return send_batch


def _push(
    client: ApiClient,
    warehouse: Warehouse,
    report: PushReport,
    source: Source,
    send: tuple[str, Send],
    dry_run: bool,
    lock_wait_seconds: float,
) -> PushReport:
    """Read, check and send the rows of `source`, `send` = (endpoint as shown, how to send)."""
    endpoint, sender = send
    source.check()
    plan = partial(plan_and_send, warehouse, report, source, _planner(endpoint), in_flight=False)

    def outcome() -> str:
        if report.stopped_by or report.error:
            return "stopped" if report.stopped_by else "failed"
        return outcome_of(report.rows_considered, report.rows_failed)

    if dry_run:
        return runs.dry_run(report, plan)
    with warehouse_lock(
        warehouse, runs.lock_name(DESTINATION, report.operation), lock_wait_seconds
    ):
        runs.recorded(
            client, warehouse, report, partial(plan, _sender(warehouse, report, sender)), outcome
        )
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
    lock_wait_seconds: float = runs.DEFAULT_LOCK_WAIT,
) -> PushReport:
    """Upsert profiles' attributes, 1,000 a request (`silent=no` only when asked for results)."""
    client = talon_one.integration
    source = Source(file, query or "talon_one_profiles", profile_row, "integration_id")
    report = PushReport(DESTINATION, "profiles", source.label(), force)
    silent = "no" if row_results else "yes"

    def send(rows: list[Spooled]) -> list[RowResult]:
        body = {"customerProfiles": [orjson.loads(row.payload) for row in rows]}
        response = client.request("PUT", "/v2/customer_profiles", params={"silent": silent},
                                  expect_json=row_results, json=body)  # fmt: skip
        if not row_results:
            return []
        states = response.parsed_json.get("integrationStates") or []
        return [
            RowResult(row.number, row.key, "done", "profile upserted",
                      {"id": (state.get("customerProfile") or {}).get("id")})
            for row, state in zip(rows, states, strict=False)
        ]  # fmt: skip

    endpoint = f"PUT /v2/customer_profiles?silent={silent}"
    return _push(client, warehouse, report, source, (endpoint, send), dry_run, lock_wait_seconds)


def push_audiences(
    talon_one: TalonOne,
    warehouse: Warehouse,
    *,
    query: str | None = None,
    file: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    lock_wait_seconds: float = runs.DEFAULT_LOCK_WAIT,
) -> PushReport:
    """Add and remove audience memberships, 1,000 changes a request."""
    client = talon_one.integration
    source = Source(file, query or "talon_one_audiences", audience_row, "integration_id")
    report = PushReport(DESTINATION, "audiences", source.label(), force)

    def send(rows: list[Spooled]) -> list[RowResult]:
        body = {"data": [orjson.loads(row.payload) for row in rows]}
        client.request("POST", "/v2/customer_audiences", json=body)
        return []

    endpoint = "POST /v2/customer_audiences"
    return _push(client, warehouse, report, source, (endpoint, send), dry_run, lock_wait_seconds)
