"""Voucherify async actions: polling with capped backoff, per-row outcomes, lost-id recovery."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from promosync.connectors.cursor import TICK, format_instant, parse_instant
from promosync.connectors.http import ApiClient, UnexpectedAnswer
from promosync.connectors.push.audit import RowResult
from promosync.connectors.push.jobs import Job

log = logging.getLogger(__name__)

FINAL = frozenset({"DONE", "FAILED"})
CLOCK_SKEW = timedelta(minutes=2)  # tolerated difference between our clock and Voucherify's
LIST_LIMIT = 100
ACTIONS = "/v1/async-actions"


@dataclass(frozen=True)
class Backoff:
    """Delays between polls of one action: initial, multiplied each time, capped."""

    initial: float = 0.25
    factor: float = 2.0
    cap: float = 10.0


DEFAULT_BACKOFF = Backoff()


def poll_actions(
    client: ApiClient,
    jobs: list[Job],
    deadline: float,
    on_final: Callable[[Job, dict[str, Any]], None],
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll each job's action until DONE or FAILED, oldest first, until `deadline` (monotonic).

    Voucherify runs bulk jobs first in, first out, so only the oldest unfinished action is
    polled; the ones behind it are asked once it ends. Jobs left unfinished stay `sent`.
    """
    for job in jobs:
        delay = backoff.initial
        while True:
            action = client.get_json(f"/v1/async-actions/{quote(job.async_action_id or '')}")
            job.async_status = action.get("status")
            if job.async_status in FINAL:
                on_final(job, action)
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.info("async action %s still %s at the deadline", job.async_action_id,
                         job.async_status)  # fmt: skip
                return
            sleep(min(delay, remaining))
            delay = min(backoff.cap, delay * backoff.factor)


def row_outcomes(
    action: dict[str, Any], rows: list[dict[str, Any]]
) -> tuple[list[RowResult], set[str] | None]:
    """Rows the action refused, and the keys it applied (None when it cannot be told).

    `rows` are the job's rows in request order (a CSV upload's `row` numbers index them).
    """
    result = action.get("result") or {}
    by_key = {row["row_key"]: row for row in rows}
    failures: list[RowResult] = []
    failed_keys: set[str] = set()
    unattributed = False
    for item in result.get("failed") or []:  # CUSTOMERS.IMPORT_CSV
        number = item.get("row")
        row = rows[number - 1] if isinstance(number, int) and 0 < number <= len(rows) else None
        row = row or by_key.get(item.get("source_id"))
        key = item.get("source_id") or (row["row_key"] if row else None)
        failures.append(RowResult(row["row_number"] if row else None, key, "rejected",
                                  str(item.get("reason") or "rejected"), item))  # fmt: skip
        unattributed |= key is None
        failed_keys.add(key or "")
    for item in result.get("errors") or []:  # CUSTOMERS.BULK_UPDATE / METADATA_UPDATE
        row = by_key.get(item.get("source_id"))
        reason = item.get("details") or item.get("message") or "rejected"
        key = row["row_key"] if row else item.get("source_id") or None
        failures.append(
            RowResult(row["row_number"] if row else None, key, "rejected", str(reason), item)
        )
        unattributed |= row is None
        failed_keys.add(key or "")
    if applied_none(action):
        why = result.get("message") or f"the async action applied no row ({_ending(action)})"
        failures += [
            RowResult(row["row_number"], row["row_key"], "rejected", str(why), None)
            for row in rows
            if row["row_key"] not in failed_keys
        ]
        return failures, set()
    if unattributed:
        return failures, None
    return failures, {row["row_key"] for row in rows} - failed_keys


def applied_none(action: dict[str, Any]) -> bool:
    """Whether an ended action applied none of its rows, however it says so.

    The spec leaves it open: its examples end a job whose every row failed `DONE` with
    `done_count: 0` (and the failures in `result`), an `operation_status` of `FAILED` is
    undescribed, and a job that could not run at all ends `FAILED`. All three mean no row arrived.
    """
    done = (action.get("result") or {}).get("done_count")
    return (
        action.get("status") == "FAILED" or action.get("operation_status") == "FAILED" or done == 0
    )


def ended(action: dict[str, Any]) -> str:
    """A job's status once its action ended: `failed` if no row arrived, else `done`."""
    return "failed" if applied_none(action) else "done"


def _ending(action: dict[str, Any]) -> str:
    status, operation = action.get("status"), action.get("operation_status")
    return f"{status}, operation_status {operation}" if operation else str(status)


def list_actions_since(client: ApiClient, since: Any) -> list[dict[str, Any]]:
    """Async actions created at or after `since` (less the clock skew), oldest first, each once.

    The list is newest first and paged by `end_date`, which the spec words "scheduled before" the
    date: exclusive, or inclusive to its authors. Each page asks for actions before a tick past the
    oldest one seen, so those sharing its instant are never left out, and those seen twice are
    kept once; a page bringing nothing new cannot be paged past and is refused.
    """
    floor = since - CLOCK_SKEW
    found: dict[str, dict[str, Any]] = {}
    params: dict[str, Any] = {"limit": LIST_LIMIT}
    while True:
        page = client.get_json(ACTIONS, params)
        actions = page.get("async_actions") or []
        fresh = [action for action in actions if action["id"] not in found]
        found.update((a["id"], a) for a in fresh if parse_instant(a["created_at"]) >= floor)
        if not page.get("has_more") or not actions:
            break
        oldest = min(parse_instant(action["created_at"]) for action in actions)
        if oldest < floor:
            break
        if not fresh:
            raise UnexpectedAnswer(
                "voucherify", "GET", ACTIONS,
                f"more than {LIST_LIMIT} async actions share created_at {format_instant(oldest)}:"
                " the list cannot be paged past them by end_date",
            )  # fmt: skip
        params["end_date"] = format_instant(oldest + TICK)
    return sorted(found.values(), key=lambda a: (a["created_at"], a["id"]))


def recover_intents(client: ApiClient, intents: list[Job], known: set[str]) -> None:
    """Give `intent` jobs the action id a crash kept from being recorded, or mark them `lost`.

    A run records a job as `intent` before its POST and stores the id after the 202; a crash in
    between leaves an action that the ledger does not know. `GET /v1/async-actions` lists actions
    newest first, without results: every action of the job's type created no earlier than its
    intent (less CLOCK_SKEW) and not recorded for another job is a candidate, and intents take
    candidates oldest first, in the order they were recorded. An intent with no candidate never
    reached Voucherify: it becomes `lost`, and its rows are sent again by the run.
    """
    if not intents:
        return
    candidates = [
        a for a in list_actions_since(client, min(j.intent_at for j in intents))
        if a["id"] not in known
    ]  # fmt: skip
    for job in intents:
        floor = job.intent_at - CLOCK_SKEW
        match = next(
            (a for a in candidates
             if a.get("type") == job.action_type and parse_instant(a["created_at"]) >= floor),
            None,
        )  # fmt: skip
        if match is None:
            job.status = "lost"
            log.warning("job %s never reached Voucherify; its rows will be sent again", job.job_id)
            continue
        candidates.remove(match)
        job.async_action_id, job.status = match["id"], "sent"
        log.info("job %s recovered its async action %s", job.job_id, match["id"])
