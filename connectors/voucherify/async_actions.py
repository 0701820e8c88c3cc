"""Voucherify async actions: polling with capped backoff, per-row outcomes, lost-id recovery."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from promosync.connectors import stopping
from promosync.connectors.cursor import TICK, format_instant, parse_instant
from promosync.connectors.http import ApiClient, UnexpectedAnswer
from promosync.connectors.push.audit import RowResult
from promosync.connectors.push.jobs import Job, JobRow

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
    sleep: Callable[[float], None] = stopping.sleep,
) -> None:
    """Poll each job's action until DONE or FAILED, oldest first, until `deadline` (monotonic).

    Voucherify runs bulk jobs first in, first out, so only the oldest unfinished action is
    polled; the ones behind it are asked once it ends. Jobs left unfinished stay `sent`, also
    when a stop asked for by a signal ends a wait (StopRequested): a later run polls them.
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


class ActionRows:
    """What an ended action did to a job's rows, judged chunk by chunk of the job's rows.

    The action's result names the rows it refused: `failed` items of a CSV import by `row` (the
    1-based data row of the upload, its position in the job) or `source_id`, `errors` items of a
    bulk or metadata update by `source_id`. When a refusal names no row of the job, which rows
    were applied cannot be told, and no hash is saved. When the action applied no row (see
    `applied_none`), every row it did not name is rejected with the action's message.
    """

    def __init__(self, action: dict[str, Any], row_count: int) -> None:
        result = action.get("result") or {}
        self.failed = applied_none(action)
        self.why = str(
            result.get("message") or f"the async action applied no row ({_ending(action)})"
        )
        self.at_position: dict[int, list[dict[str, Any]]] = {}
        self.for_key: dict[str, list[dict[str, Any]]] = {}
        self.unmatched: list[dict[str, Any]] = []  # refusals naming no row (yet)
        self._by_key_only: set[str] = set()  # `errors` keys: unattributed unless a row has it
        for item in result.get("failed") or []:  # CUSTOMERS.IMPORT_CSV
            number = item.get("row")
            if isinstance(number, int) and 0 < number <= row_count:
                self.at_position.setdefault(number, []).append(item)
            elif item.get("source_id"):
                self.for_key.setdefault(str(item["source_id"]), []).append(item)
            else:
                self.unmatched.append(item)
        for item in result.get("errors") or []:  # CUSTOMERS.BULK_UPDATE / METADATA_UPDATE
            key = str(item.get("source_id") or "")
            self.for_key.setdefault(key, []).append(item)
            self._by_key_only.add(key)
        self._seen: set[str] = set()

    def judge(self, rows: list[JobRow]) -> tuple[list[RowResult], list[tuple[str, str]]]:
        """The refused rows of a chunk, and (key, hash) of the rows it applied."""
        failures, applied = [], []
        for row in rows:
            items = self.at_position.get(row.position, []) + self.for_key.get(row.row_key, [])
            for item in items:
                reason = item.get("reason") or item.get("details") or item.get("message")
                key = item.get("source_id") or row.row_key
                failures.append(RowResult(row.row_number, key, "rejected",
                                          str(reason or "rejected"), item))  # fmt: skip
            if self.failed and not items:
                failures.append(RowResult(row.row_number, row.row_key, "rejected", self.why))
            elif not items:
                applied.append((row.row_key, row.content_hash))
        return failures, applied

    def needs_keys(self) -> bool:
        """Whether `see` must meet every row before `attributed` can be told."""
        return bool(self.for_key)

    def see(self, rows: list[JobRow]) -> None:
        """Note which keys the refusals name are rows of the job (a first pass over its rows)."""
        self._seen.update(row.row_key for row in rows if row.row_key in self.for_key)

    def leftovers(self) -> list[RowResult]:
        """Refusals that named no row of the job (once `see` met every row)."""
        items = self.unmatched + [
            item for key, found in self.for_key.items() if key not in self._seen for item in found
        ]
        return [
            RowResult(None, item.get("source_id") or None, "rejected",
                      str(item.get("reason") or item.get("details") or item.get("message")
                          or "rejected"), item)
            for item in items
        ]  # fmt: skip

    def attributed(self) -> bool:
        """Whether every refusal named a row of the job (once `see` met every row)."""
        unseen_errors = any(key not in self._seen for key in self._by_key_only)
        return not self.unmatched and not unseen_errors


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
