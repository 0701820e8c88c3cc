"""The fan-out engine: visit many entities (customers, ledgers) with bounded concurrency and commit
each batch's rows and cursors in one transaction, in order."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any, Generic, TypeVar

from promosync.connectors.batches import CUT_OFF, Cursors, StreamWriter, TableRows
from promosync.connectors.cursor import format_instant
from promosync.connectors.http import ApiError
from promosync.connectors.stream import Record, Stream
from promosync.connectors.warehouse import Warehouse

log = logging.getLogger(__name__)

PREFETCH = 2  # batches fetched ahead of the one being written
Entity = TypeVar("Entity")


class MeteredClient:
    """A client that counts the requests of one visit (the client's own counters serve them all).

    It counts the requests a visit asks for; the client's retries of one of them are not counted.
    """

    def __init__(self, client: Any) -> None:
        self.client, self.requests = client, 0

    @property
    def platform(self) -> str:
        return self.client.platform

    def get_json(self, path: str, params: Any = None) -> Any:
        self.requests += 1
        return self.client.get_json(path, params)

    def request(self, method: str, path: str, **options: Any) -> Any:
        self.requests += 1
        return self.client.request(method, path, **options)


@dataclass(frozen=True)
class Visit(Generic[Entity]):
    """What one entity's visit read: its records, the cursor to commit with them, its requests."""

    entity: Entity
    records: list[Record]
    cursor: str | None  # None: the entity's cursor stays as it was
    requests: int
    missing: bool = False  # the API answered 404 (the entity is gone): skipped


Fetch = Callable[[Entity, str | None, MeteredClient], tuple[list[Record], str | None]]
Marker = Callable[[list[Visit[Entity]]], Cursors]
Done = Callable[[list[str]], TableRows]  # rows marking entities (by key) visited: a queue's


def fan_out(
    writer: StreamWriter,
    client: Any,
    entities: Iterable[Entity],
    fetch: Fetch[Entity],
    *,
    concurrency: int,
    batch_size: int,
    key: Callable[[Entity], str] = str,
    skip_missing: bool = False,
    parent_column: str | None = None,
    replace: bool = False,
    marker: Marker[Entity] | None = None,
    done: Done | None = None,
    prefetch: int = PREFETCH,
) -> None:
    """Visit every entity: `fetch(entity, its committed cursor, metered client)` gives its records
    and the cursor to commit; `concurrency` visits run at once.

    `entities` is read a batch at a time, so it may come from any function (changed entities, a
    deferred queue, a sweep slice) and may end early (an allowance spent). Each batch's rows and
    cursors, plus `marker`'s cursors (a "visited" mark), commit in one transaction, in order;
    `prefetch` batches are fetched while one is written; each committed batch is a safe point.
    `key` names an entity's cursor partition; with `parent_column`, rows get the key in that
    column, and with `replace` a visited entity's rows are replaced by what the visit read.
    `skip_missing`: an entity the API answers 404 for (gone since it was listed) is skipped.
    `done(keys)` gives rows committed with the visits (the visit queue's "done" marks).

    A visit cut off (the allowance spent, a vendor block, a signal: CUT_OFF) ends the fan-out,
    but first the visits that finished, of its batch and of those fetched ahead, commit: a
    cut-off run never pays twice for a visit. Any other failure drops its batch, as before.
    """
    stream, report = writer.stream, writer.report
    if stream.cost_per_entity is None:
        raise ValueError(f"{stream.name} fans out: declare its cost_per_entity")
    cursors = writer.warehouse.read_cursors(stream.name)
    total = len(entities) if isinstance(entities, Sized) else None
    batches = _batches(entities, batch_size)

    def visit(entity: Entity) -> Visit[Entity]:
        metered = MeteredClient(client)
        try:
            records, cursor = fetch(entity, cursors.get(key(entity)), metered)
        except ApiError as error:
            if not (skip_missing and error.status == 404):
                raise
            return Visit(entity, [], None, metered.requests, missing=True)
        return Visit(entity, records, cursor, metered.requests)

    with _pool(concurrency) as pool:
        fetching: deque[list[Future[Visit[Entity]]]] = deque()

        def submit() -> None:
            batch = next(batches, None)
            if batch:
                fetching.append([pool.submit(visit, entity) for entity in batch])

        for _ in range(prefetch + 1):
            submit()
        while fetching:
            futures = fetching.popleft()
            submit()  # keeps the pool busy while this batch is written
            ahead = [future for batch in fetching for future in batch]
            visits, error = _finished([*futures, *ahead], len(futures))
            if error is not None and not isinstance(error, CUT_OFF):
                raise error  # a fatal answer: the batch is dropped, as a failed transaction
            report.entities += len(visits)
            report.plan(stream, len(visits))
            if visits:
                _commit(writer, visits, key, parent_column, replace, marker, done, error is None)
            if error is not None:
                raise error
            log.info(
                "%s: %d%s entities visited, %d rows written",
                stream.name, report.entities, f" of {total}" if total else "", report.written,
            )  # fmt: skip


def _commit(
    writer: StreamWriter,
    visits: list[Visit[Entity]],
    key: Callable[[Entity], str],
    parent_column: str | None,
    replace: bool,
    marker: Marker[Entity] | None,
    done: Done | None = None,
    safe_point: bool = True,
) -> None:
    rows, cursors = [], {}
    for visit in visits:
        fill = {parent_column: key(visit.entity)} if parent_column else None
        rows += writer.rows(visit.records, fill)
        if visit.cursor is not None:
            cursors[key(visit.entity)] = visit.cursor
    if marker is not None:
        cursors.update(marker(visits))
    keys = [key(visit.entity) for visit in visits]
    replaced = (parent_column, keys) if replace and parent_column else None
    also = [done(keys)] if done is not None else []
    writer.commit(rows, cursors, replaced, safe_point=safe_point, also=also)


def _finished(
    futures: list[Future[Visit[Entity]]], batch: int
) -> tuple[list[Visit[Entity]], Exception | None]:
    """The visits of the first `batch` futures, or, if one of them failed, the first error and
    the visits of every future that succeeded (those not started are cancelled, those running
    waited for: each one finished was paid for)."""
    visits, error = [], None
    for index, future in enumerate(futures):
        if index >= batch and error is None:
            break
        try:
            visits.append(future.result())
        except CancelledError:
            continue
        except Exception as failure:  # raised again by the caller
            if error is None:
                error = failure
                for later in futures[index + 1 :]:
                    later.cancel()
    return visits, error


def _batches(entities: Iterable[Entity], size: int) -> Iterator[list[Entity]]:
    source = iter(entities)
    while batch := list(islice(source, size)):
        yield batch


@contextmanager
def _pool(concurrency: int) -> Iterator[ThreadPoolExecutor]:
    """A thread pool that, on an error, drops the visits not yet started instead of running them
    (up to `prefetch` batches of requests that would only spend the rate budget)."""
    pool = ThreadPoolExecutor(max_workers=concurrency)
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


def changed_since(
    warehouse: Warehouse, parent: Stream, stream: Stream, full_sweep: bool = False
) -> tuple[list[tuple[str, Any]], str | None]:
    """Live `parent` rows whose cursor field moved past `stream`'s watermark, as (id, instant of
    the change), oldest first, and the new mark.

    A fan-out over a parent stream (customers) visits only the entities changed since its last
    run; `full_sweep` visits them all. Commit the mark with the entities it selected (enqueued
    in the visit queue, connectors/visits.py).
    """
    if parent.cursor_field is None or len(parent.primary_key) != 1:
        raise ValueError(f"{parent.name} needs one key column and a cursor field to fan out from")
    key, field = parent.primary_key[0], parent.cursor_field
    watermark = None if full_sweep else warehouse.read_cursor(stream.name)
    sql = f'SELECT "{key}" AS id, "{field}" AS mark FROM "{parent.name}" WHERE _deleted_at IS NULL'
    params = {}
    if watermark:
        sql += f' AND "{field}" > CAST(:watermark AS TIMESTAMPTZ)'
        params["watermark"] = watermark
    rows = warehouse.query(sql + " ORDER BY mark, id", params)
    newest = max((row["mark"] for row in rows if row["mark"] is not None), default=None)
    mark = format_instant(newest) if newest else watermark
    return [(row["id"], row["mark"]) for row in rows], mark
