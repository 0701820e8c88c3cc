"""Content hashes: a row is sent only if its payload changed since its last successful push."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from promosync.connectors.push.validate import Prepared


def content_hash(payload: Any) -> str:
    """A stable hash of a JSON-ready payload (keys sorted, so key order never matters)."""
    encoded = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


@dataclass(frozen=True)
class Change:
    """A row to send and the hash it will have once the destination confirms it."""

    row: Prepared
    hash: str


def select_changed(
    rows: Iterable[Prepared],
    pushed: Mapping[str, str],
    in_flight: Mapping[str, str],
    force: bool = False,
) -> tuple[list[Change], int]:
    """Rows whose payload differs from both the last pushed and the in-flight one; and the rest."""
    changes, skipped = [], 0
    for row in rows:
        digest = content_hash(row.payload)
        if not force and digest in (pushed.get(row.key), in_flight.get(row.key)):
            skipped += 1
        else:
            changes.append(Change(row, digest))
    return changes, skipped
