"""The visit queue: entities a fan-out stream owes a visit, oldest change first, kept in the
warehouse so that a run cut off (by its allowance, a vendor block, a signal) leaves the rest to
the next run or cycle instead of reading the same entities again, and each entity's last
verified instant.

The API is small on purpose: `enqueue` (with a reason and the instant of the change), `owed`
(the oldest N), `done_rows` (written in the transaction of the visit's rows), `deferred`, and
the rolling sweep's `sweep` (the least recently verified, a slice paced over a period).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from promosync.connectors.cursor import format_instant, parse_instant
from promosync.connectors.warehouse import TableRows, Warehouse

TABLE = "visit_queue"
KEY = ("stream", "entity_id")
# The rolling sweep's pace mark, the instant it has taken its share up to: a cursor in sync_state
# under the stream's name and this suffix, out of the way of the stream's own cursors.
SWEEP_MARK = ":sweep"
SWEEP = "sweep"  # the reason of a visit the rolling sweep owes


def enqueue(
    warehouse: Warehouse,
    stream: str,
    changes: Iterable[tuple[str, Any]],
    reason: str,
    cursors: dict[str, str | None] | None = None,
    also: Sequence[TableRows] = (),
) -> int:
    """Owe `stream` a visit of each (entity id, instant of its change); an entity already owed
    keeps its older change and reason. `cursors` (the stream's, by partition) and `also` (the
    sweep's mark) commit with them: the watermark the selection read up to. Returns how many
    were given."""
    now = datetime.now(UTC)
    rows = [
        {"stream": stream, "entity_id": entity, "owed_since": changed_at or now,
         "reason": reason, "enqueued_at": now, "verified_at": None}
        for entity, changed_at in changes
    ]  # fmt: skip
    keyed = {(stream, p): value for p, value in cursors.items()} if cursors else None
    warehouse.write_batch(TABLE, KEY, rows, keyed, also=also, keep=True, counted=False)
    return len(rows)


def owed(warehouse: Warehouse, stream: str, limit: int | None = None) -> list[str]:
    """The entities `stream` owes a visit, oldest change first (at most `limit`)."""
    return [entity for entity, _ in owed_since(warehouse, stream, limit)]


def owed_since(
    warehouse: Warehouse, stream: str, limit: int | None = None
) -> list[tuple[str, datetime]]:
    """The entities `stream` owes a visit with the instant of their oldest change, oldest first
    (at most `limit`)."""
    sql = (
        f"SELECT entity_id, owed_since FROM {TABLE} WHERE stream = :stream"
        " AND owed_since IS NOT NULL ORDER BY owed_since, entity_id"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    rows = warehouse.query(sql, {"stream": stream})
    return [(row["entity_id"], row["owed_since"]) for row in rows]


def merged(
    queued: Iterable[tuple[str, datetime]], changes: Iterable[tuple[str, datetime | None]]
) -> list[str]:
    """The entities of the queue and of new `changes` (not enqueued yet), each once, oldest
    change first."""
    now = datetime.now(UTC)
    oldest: dict[str, datetime] = {}
    for entity, changed_at in [*queued, *changes]:
        instant = changed_at or now
        if entity not in oldest or instant < oldest[entity]:
            oldest[entity] = instant
    return sorted(oldest, key=lambda entity: (oldest[entity], entity))


def deferred(warehouse: Warehouse, stream: str, but: str | None = None) -> int:
    """How many entities `stream` still owes a visit (leaving out those owed for reason `but`)."""
    sql = f"SELECT count(*) AS n FROM {TABLE} WHERE stream = :stream AND owed_since IS NOT NULL"
    if but is not None:
        sql += " AND reason <> :but"
    return int(warehouse.query(sql, {"stream": stream, "but": but})[0]["n"])


def done_rows(stream: str, entities: Sequence[str], at: datetime | None = None) -> TableRows:
    """Rows that mark `entities` visited (nothing owed, verified at `at`), to write in the
    transaction of their visit's rows."""
    at = at or datetime.now(UTC)
    rows = [
        {"stream": stream, "entity_id": entity, "owed_since": None, "reason": None,
         "enqueued_at": None, "verified_at": at}
        for entity in entities
    ]  # fmt: skip
    return (TABLE, KEY, rows)


class Sweep(NamedTuple):
    """The rolling sweep's slice of one run: the entities to verify (as changes at the run's
    instant) and the pace mark to commit as they join the queue."""

    entities: list[tuple[str, datetime]]
    mark: TableRows


def sweep_slice(
    live: int, mark: datetime | None, now: datetime, period: timedelta
) -> tuple[int, datetime]:
    """How many of `live` entities the rolling sweep takes at `now`, and its new pace mark.

    The sweep takes `live` entities per `period`: as many as the time since its mark is worth,
    rounded down, and the mark moves on by exactly what they are worth, so the remainder carries
    to the next run (every entity is taken once per period at any run cadence, and a run soon
    after another takes none). A mark more than a period behind (runs paused) counts from a
    period ago: at most every entity at once. No mark yet (a first run, which visits everyone):
    none, and the mark starts now."""
    if mark is None or live <= 0:
        return 0, now
    mark = max(mark, now - period)
    taken = min(live, math.floor(live * ((now - mark) / period)))
    return taken, (now if taken >= live else mark + period * (taken / live))


def _sweep_owed(warehouse: Warehouse, stream: str) -> bool:
    rows = warehouse.query(
        f"SELECT count(*) AS n FROM {TABLE} WHERE stream = :stream AND reason = :reason"
        " AND owed_since IS NOT NULL",
        {"stream": stream, "reason": SWEEP},
    )
    return bool(rows[0]["n"])


def sweep(
    warehouse: Warehouse,
    stream: str,
    parent: str,
    period: timedelta,
    now: datetime,
    skip: Iterable[str] = (),
) -> Sweep:
    """The live `parent` rows (by `id`) that `stream` verified least recently (never verified
    first), not owed a visit already nor in `skip` (visited anyway), as many as `sweep_slice`
    allows now."""
    saved = warehouse.read_cursor(stream + SWEEP_MARK)
    live = warehouse.query(f'SELECT count(*) AS n FROM "{parent}" WHERE _deleted_at IS NULL')
    taken, mark = sweep_slice(live[0]["n"], parse_instant(saved) if saved else None, now, period)
    if taken and _sweep_owed(warehouse, stream):
        # The last slice is still waiting (the budget left no room for it): none is added and
        # the pace mark moves on, so the period stretches rather than a backlog growing that
        # would queue ahead of newer changes.
        taken, mark = 0, now
    skipped = set(skip)
    picked: list[tuple[str, datetime]] = []
    if taken:
        found = warehouse.query(
            f'SELECT c.id AS id FROM "{parent}" c LEFT JOIN {TABLE} q'
            " ON q.stream = :stream AND q.entity_id = c.id"
            " WHERE c._deleted_at IS NULL AND q.owed_since IS NULL"
            " ORDER BY CASE WHEN q.verified_at IS NULL THEN 0 ELSE 1 END, q.verified_at, c.id"
            f" LIMIT {int(taken + len(skipped))}",
            {"stream": stream},
        )
        picked = [(row["id"], now) for row in found if row["id"] not in skipped][:taken]
    marked = {"stream": stream + SWEEP_MARK, "partition_key": "",
              "cursor_value": format_instant(mark), "updated_at": now}  # fmt: skip
    return Sweep(picked, ("sync_state", ("stream", "partition_key"), [marked]))
