"""Voucherify bulk requests planned under the 10 MB body limit, in as few requests as it allows.

Planners read the run's spool and yield one request at a time: its body (at most 10 MB) and
the numbers of the rows it carries, whatever the number of rows; a row too big to travel even
alone is refused through `refuse` as the planner meets it.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import orjson
from promosync.connectors import stopping
from promosync.connectors.push.audit import RowResult
from promosync.connectors.push.batching import MAX_BODY_BYTES, pack
from promosync.connectors.push.spool import Spool, Spooled
from promosync.connectors.voucherify.customer_rows import csv_columns, csv_header, csv_record

METADATA = ("/v1/customers/metadata/async", "CUSTOMERS.METADATA_UPDATE")
BULK = ("/v1/customers/bulk/async", "CUSTOMERS.BULK_UPDATE")
IMPORT_CSV = ("/v1/customers/importCSV", "CUSTOMERS.IMPORT_CSV")
MULTIPART_MARGIN = 4096  # boundary lines and part headers around the CSV file
# What orjson writes around a metadata object and its ids, {"source_ids":[…],"metadata":M},
# and around a bulk item, {"source_id":K,"metadata":M}.
_IDS_OPEN, _IDS_CLOSE = b'{"source_ids":[', b'],"metadata":'
_ITEM_OPEN, _ITEM_MIDDLE = b'{"source_id":', b',"metadata":'
GROUP_BASE = len(_IDS_OPEN) + len(_IDS_CLOSE) + 1  # + the metadata's bytes
ITEM_BASE = len(_ITEM_OPEN) + len(_ITEM_MIDDLE) + 1  # + the key's and the metadata's bytes

Refuse = Callable[[RowResult], None]
Planner = Callable[[Spool, Refuse], Iterator["Batch"]]


@dataclass(frozen=True)
class Batch:
    """One request: endpoint, the async action type it starts, its rows and its exact body.

    `numbers` are the input row numbers of its rows, ascending (which is their request order);
    `keys` are its first three keys and its last, for display. The body is a view of the run's
    request buffer: valid until the planner is asked for the next batch.
    """

    path: str
    action_type: str
    numbers: array
    body: memoryview
    keys: tuple[str, ...]
    is_csv: bool = False

    def describe(self, number: int) -> str:
        """One line for a dry run: where it goes, how many rows, how big, which keys."""
        shown = ", ".join(self.keys[:3]) + (f", … {self.keys[3]}" if len(self.keys) > 3 else "")
        return (
            f"batch {number}: POST {self.path} — {len(self.numbers)} rows,"
            f" {len(self.body):,} bytes — {shown}"
        )


@dataclass(frozen=True)
class _Frame:
    """How a request's body wraps its items: before, between, after; and where it goes."""

    endpoint: tuple[str, str]
    opening: bytes
    separator: bytes = b","
    closing: bytes = b""
    limit: int = field(default_factory=lambda: MAX_BODY_BYTES)
    is_csv: bool = False


def _too_big(row: Spooled, size: int) -> RowResult:
    reason = f"the row alone is {size:,} bytes, over the {MAX_BODY_BYTES:,}-byte limit"
    return RowResult(row.number, row.key, "invalid", reason)


class _Request:
    """A request body being written in place into the run's buffer, with its rows' numbers.

    Every request of a run is written into one buffer of the largest body's size, allocated
    once: growing and freeing a 10 MB buffer per request fragments the heap, which then keeps
    more memory the more requests a run sends.
    """

    def __init__(self, frame: _Frame, buffer: bytearray) -> None:
        self.frame, self.buffer = frame, buffer
        self.size = 0
        self.numbers = array("q")
        self.keys: list[str] = []
        self._write(frame.opening)

    def _write(self, data: bytes) -> None:
        end = self.size + len(data)
        self.buffer[self.size : end] = data
        self.size = end

    def fits(self, encoded: bytes) -> bool:
        extra = len(encoded) + (len(self.frame.separator) if self.numbers else 0)
        return self.size + extra + len(self.frame.closing) <= self.frame.limit

    def add(self, row: Spooled, encoded: bytes) -> None:
        if self.numbers:
            self._write(self.frame.separator)
        self._write(encoded)
        self.numbers.append(row.number)
        if len(self.keys) < 4:
            self.keys.append(row.key)
        else:
            self.keys[3] = row.key

    def batch(self) -> Batch:
        self._write(self.frame.closing)
        frame, body = self.frame, memoryview(self.buffer)[: self.size]
        return Batch(*frame.endpoint, self.numbers, body, tuple(self.keys), frame.is_csv)


def request_buffer() -> bytearray:
    """The buffer a planner writes every request of a run into."""
    return bytearray(MAX_BODY_BYTES)


def _bodies(
    items: Iterable[tuple[Spooled, bytes]], frame: _Frame, refuse: Refuse, buffer: bytearray
) -> Iterator[Batch]:
    """Greedy requests of the items in order, each body written in place; too-big items refused.

    A batch's body is valid until the next batch is asked for.
    """
    request = _Request(frame, buffer)
    for row, encoded in items:
        if len(frame.opening) + len(encoded) + len(frame.closing) > frame.limit:
            refuse(_too_big(row, len(encoded)))
            continue
        if request.numbers and not request.fits(encoded):
            yield request.batch()
            request = _Request(frame, buffer)
        request.add(row, encoded)
    if request.numbers:
        yield request.batch()


def customers_batches(spool: Spool, refuse: Refuse) -> Iterator[Batch]:
    """`POST /v1/customers/bulk/async` requests: arrays of customer objects."""
    frame = _Frame(BULK, b"[", closing=b"]")
    return _bodies(((row, row.payload) for row in spool.rows()), frame, refuse, request_buffer())


def _metadata_item(row: Spooled) -> bytes:
    return _ITEM_OPEN + orjson.dumps(row.key) + _ITEM_MIDDLE + row.payload + b"}"


# Groups of rows sharing one metadata object (one hash, so one length) whose object and longest
# id fit one metadata request: hash, rows, first row, bytes of the ids, of the request without
# ids, and of the rows as bulk items. The index makes the grouping read no row of the table.
_GROUPS = (
    "CREATE TEMP TABLE groups AS SELECT hash, count(*) AS n, min(number) AS first,"
    " sum(key_bytes) AS id_bytes, :group_base + max(payload_bytes) AS base,"
    " sum(:item_base + key_bytes + payload_bytes + 1) AS bulk_bytes"
    " FROM rows GROUP BY hash HAVING :group_base + max(payload_bytes) + max(key_bytes) <= :limit"
)
_GROUPING_INDEX = "CREATE INDEX rows_hash ON rows (hash, number, key_bytes, payload_bytes)"
_LARGEST_FIRST = "SELECT hash, n, id_bytes, base, bulk_bytes FROM groups ORDER BY bulk_bytes DESC,"
_LARGEST_FIRST += " first LIMIT ?"


def _id_requests(spool: Spool, digest: str, base: int) -> Iterator[list[Spooled]]:
    members = spool.rows("hash = ?", (digest,))
    return pack(members, lambda row: row.key_bytes, limit=MAX_BODY_BYTES, base=base)


def _grouped_count(spool: Spool) -> int:
    """How many groups (largest first) go to metadata requests: the longest prefix of them that
    gives the fewest requests in all, the other rows going as bulk items."""
    pool = spool.execute("SELECT coalesce(sum(bulk_bytes), 0) FROM groups").fetchone()[0]
    best, best_count, grouped_requests = 0, math.ceil(pool / (MAX_BODY_BYTES - 2)), 0
    for index, (digest, rows, id_bytes, base, bulk_bytes) in enumerate(
        spool.execute(_LARGEST_FIRST, (-1,)), start=1
    ):
        stopping.check()
        if base + id_bytes + rows - 1 <= MAX_BODY_BYTES:
            grouped_requests += 1
        else:
            grouped_requests += sum(1 for _ in _id_requests(spool, digest, base))
        pool -= bulk_bytes
        count = grouped_requests + math.ceil(pool / (MAX_BODY_BYTES - 2))
        if count <= best_count:  # on a tie, grouping sends fewer bytes
            best, best_count = index, count
        elif bulk_bytes <= MAX_BODY_BYTES - 2:
            break  # a group this small costs a request and saves at most one: never better again
    return best


def metadata_batches(spool: Spool, refuse: Refuse) -> Iterator[Batch]:
    """Rows with identical metadata share a `metadata/async` request when that saves requests.

    A metadata request carries one metadata object for many ids, so a large group is cheapest
    there; rows whose metadata is (nearly) unique are packed together as `bulk/async` items
    `{source_id, metadata}`, which update metadata the same way. Groups go to metadata requests
    largest first while that lowers the total count of requests.
    """
    spool.execute(_GROUPING_INDEX)
    sizes = {"group_base": GROUP_BASE, "item_base": ITEM_BASE, "limit": MAX_BODY_BYTES}
    spool.execute(_GROUPS, sizes)
    spool.execute("CREATE INDEX groups_size ON groups (bulk_bytes DESC, first)")
    chosen = spool.execute(_LARGEST_FIRST, (_grouped_count(spool),)).fetchall()
    spool.execute("CREATE TEMP TABLE grouped (hash TEXT PRIMARY KEY)")
    spool.executemany("INSERT INTO grouped VALUES (?)", [(group[0],) for group in chosen])
    buffer = request_buffer()
    for digest, *_ in chosen:
        query = "SELECT payload FROM rows WHERE hash = ? ORDER BY number LIMIT 1"
        metadata = spool.execute(query, (digest,)).fetchone()[0]
        frame = _Frame(METADATA, _IDS_OPEN, closing=_IDS_CLOSE + metadata + b"}")
        ids = ((row, orjson.dumps(row.key)) for row in spool.rows("hash = ?", (digest,)))
        yield from _bodies(ids, frame, refuse, buffer)
    rest = spool.rows("hash NOT IN (SELECT hash FROM grouped)")
    frame = _Frame(BULK, b"[", closing=b"]")
    yield from _bodies(((row, _metadata_item(row)) for row in rest), frame, refuse, buffer)


def csv_batches(spool: Spool, refuse: Refuse) -> Iterator[Batch]:
    """`POST /v1/customers/importCSV` uploads: one header, then rows, each file under the limit."""
    columns = csv_columns(orjson.loads(row.payload) for row in spool.rows())
    frame = _Frame(IMPORT_CSV, csv_header(columns), b"", limit=MAX_BODY_BYTES - MULTIPART_MARGIN,
                   is_csv=True)  # fmt: skip
    lines = ((row, csv_record(orjson.loads(row.payload), columns)) for row in spool.rows())
    return _bodies(lines, frame, refuse, request_buffer())
