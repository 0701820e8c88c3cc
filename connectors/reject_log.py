"""The `sync_rejects` table: what is open, what a batch resolves, what a person marks resolved.

A reject is *resolved* when either
- a later batch of its stream lands a row with the same key (the record was read cleanly since:
  `resolution` 'read cleanly', stamped in that batch's transaction), or
- someone marks it resolved (`promosync rejects resolve`, e.g. after the vendor fixed the data,
  or for a record without a key, which can never be read cleanly "again").
A reject met again while open is updated in place (its reason and record are the latest seen).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from promosync.connectors.health import Finding
from promosync.connectors.rejects import TABLE, key_text
from promosync.connectors.stream import Row, Stream
from promosync.connectors.warehouse import Warehouse

CHECK = "rejects_resolved"
READ_CLEANLY = "read cleanly"
EXAMPLES = 3  # open rejects named in a finding

_rejects = sa.table(
    TABLE,
    *(sa.column(name) for name in ("stream", "record_key", "field", "reason", "record")),
    *(sa.column(name) for name in ("seen_at", "resolved_at", "resolution")),
)


def _exists(warehouse: Warehouse) -> bool:
    return sa.inspect(warehouse.engine).has_table(TABLE)


def open_rejects(warehouse: Warehouse, stream: str) -> dict[str, Row]:
    """The stream's unresolved rejects, by record key."""
    rows = warehouse.query(
        f"SELECT * FROM {TABLE} WHERE stream = :stream AND resolved_at IS NULL", {"stream": stream}
    )
    return {row["record_key"]: row for row in rows}


def resolved_by(
    stream: Stream, rows: Iterable[Row], still_open: dict[str, Row], at: datetime
) -> list[Row]:
    """The open rejects whose key `rows` land cleanly, marked resolved (and no longer open)."""
    if not still_open:
        return []
    resolved = []
    for row in rows:
        found = still_open.pop(key_text([row[column] for column in stream.primary_key]), None)
        if found is not None:
            resolved.append({**found, "resolved_at": at, "resolution": READ_CLEANLY})
    return resolved


def unresolved(warehouse: Warehouse, streams: Sequence[str]) -> list[Finding]:
    """One finding per stream: passed, or how many rejects are open and the first few."""
    rows: list[Any] = []
    if _exists(warehouse):
        query = (
            sa.select(_rejects.c.stream, _rejects.c.record_key, _rejects.c.field, _rejects.c.reason)
            .where(_rejects.c.resolved_at.is_(None), _rejects.c.stream.in_(list(streams)))
            .order_by(_rejects.c.stream, _rejects.c.seen_at, _rejects.c.record_key)
        )
        with warehouse.engine.connect() as conn:
            rows = conn.execute(query).all()
    findings = []
    for stream in streams:
        mine = [row for row in rows if row.stream == stream]
        if not mine:
            findings.append(Finding(CHECK, stream, True, f"{stream}: no unresolved reject"))
            continue
        shown = "; ".join(f"{r.record_key} {r.field} {r.reason}" for r in mine[:EXAMPLES])
        summary = (
            f"{stream}: {len(mine)} record(s) rejected and not resolved, e.g. {shown}"
            " (`promosync rejects` lists them)"
        )
        details = {"unresolved": len(mine), "examples": [r.record_key for r in mine[:EXAMPLES]]}
        findings.append(Finding(CHECK, stream, False, summary, details))
    return findings


def listed(warehouse: Warehouse, stream: str | None = None, everything: bool = False) -> list[Row]:
    """Rejects, newest first: the unresolved ones (`everything`: resolved ones too)."""
    if not _exists(warehouse):
        return []
    query = sa.select(_rejects).order_by(_rejects.c.seen_at.desc(), _rejects.c.record_key)
    if stream:
        query = query.where(_rejects.c.stream == stream)
    if not everything:
        query = query.where(_rejects.c.resolved_at.is_(None))
    with warehouse.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def resolve(warehouse: Warehouse, stream: str, keys: Sequence[str], note: str) -> int:
    """Mark the stream's open rejects resolved (only `keys`, if given); return how many."""
    if not _exists(warehouse):
        return 0
    update = (
        sa.update(_rejects)
        .where(_rejects.c.stream == stream, _rejects.c.resolved_at.is_(None))
        .values(resolved_at=datetime.now(UTC), resolution=note)
    )
    if keys:
        update = update.where(_rejects.c.record_key.in_(list(keys)))
    with warehouse.engine.begin() as conn:
        return conn.execute(update).rowcount
