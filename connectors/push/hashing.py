"""Content hashes: a row is sent only if its payload changed since its last successful push."""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

import orjson


def json_bytes(value: Any) -> bytes:
    """`value` as compact JSON, in a bytes object of its own size.

    orjson's result keeps the buffer it was written in (some KiB however short the JSON), so
    bytes that are kept (a chunk of rows, a request's ids) are copied out of it.
    """
    return bytes(memoryview(orjson.dumps(value)))


def content_hash(payload: Any) -> str:
    """A stable hash of a JSON-ready payload (keys sorted, so key order never matters)."""
    encoded = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


class Change(NamedTuple):
    """A row to send: its input row number, its key, and its hash once the platform confirms it."""

    number: int
    key: str
    hash: str
