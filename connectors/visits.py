"""The visit queue: entities a fan-out stream owes a visit, oldest change first, kept in the
warehouse so that a run cut off (by its allowance, a vendor block, a signal) leaves the rest to
the next run or cycle instead of reading the same entities again, and each entity's last
verified instant.

The API is small on purpose: `enqueue` (with a reason and the instant of the change), `owed`
(the oldest N), `done_rows` (written in the transaction of the visit's rows), `deferred`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from promosync.connectors.warehouse import TableRows, Warehouse

TABLE = "visit_queue"
KEY = ("stream", "entity_id")


def enqueue(
    warehouse: Warehouse,
    stream: str,
    changes: Iterable[tuple[str, Any]],
    reason: str,
    cursors: dict[str, str | None] | None = None,
) -> int:
    """Owe `stream` a visit of each (entity id, instant of its change); an entity already owed
    keeps its older change and reason. `cursors` (the stream's, by partition) commit with them:
    the watermark the selection read up to. Returns how many were given."""
    now = datetime.now(UTC)
    rows = [
        {"stream": stream, "entity_id": entity, "owed_since": changed_at or now,
         "reason": reason, "enqueued_at": now, "verified_at": None}
        for entity, changed_at in changes
    ]  # fmt: skip
    keyed = {(stream, p): value for p, value in cursors.items()} if cursors else None
    warehouse.write_batch(TABLE, KEY, rows, keyed, keep=True, counted=False)
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


def deferred(warehouse: Warehouse, stream: str) -> int:
    """How many entities `stream` still owes a visit."""
    sql = f"SELECT count(*) AS n FROM {TABLE} WHERE stream = :stream AND owed_since IS NOT NULL"
    return int(warehouse.query(sql, {"stream": stream})[0]["n"])


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


def verified_at(warehouse: Warehouse, stream: str, entity: str) -> datetime | None:
    """When `entity`'s last visit by `stream` committed (None: never)."""
    rows = warehouse.query(
        f"SELECT verified_at FROM {TABLE} WHERE stream = :stream AND entity_id = :entity",
        {"stream": stream, "entity": entity},
    )
    return rows[0]["verified_at"] if rows else None
