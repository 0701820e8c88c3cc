"""Customers with sorted indexes on created_at, updated_at and source_id, and cached JSON bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from promosync.sandbox.voucherify.instants import parse_instant
from sortedcontainers import SortedList

Predicate = Callable[[dict[str, Any], int, int], bool]  # (customer, created_us, updated_us)


@dataclass
class CustomerQuery:
    """One GET /v1/customers request, parsed: the ordering, bounds on it and other filters."""

    order: str = "-created_at"
    limit: int = 10
    page: int = 1
    # Inclusive microsecond bounds on the ordering key (created_at or updated_at).
    low: int | None = None
    high: int | None = None
    predicates: list[Predicate] = field(default_factory=list)
    # Orders rows sharing the sort key (default: by id, as the indexes hold them).
    tie_key: Callable[[str], Any] | None = None


class CustomerStore:
    """Every live customer, indexed for keyset and page access."""

    def __init__(self, customers: Iterable[dict[str, Any]] = ()) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}
        self.id_by_source: dict[str, str] = {}
        self._keys: dict[str, tuple[int, int]] = {}
        self._bytes: dict[str, bytes] = {}
        rows = []
        for customer in customers:
            keys = _keys_of(customer)
            self.by_id[customer["id"]] = customer
            self._keys[customer["id"]] = keys
            if customer["source_id"] is not None:
                self.id_by_source[customer["source_id"]] = customer["id"]
            rows.append((customer, keys))
        self.by_created = SortedList((keys[0], c["id"]) for c, keys in rows)
        self.by_updated = SortedList((keys[1], c["id"]) for c, keys in rows)
        self.by_source = SortedList((c["source_id"] or "", c["id"]) for c, _ in rows)

    def __len__(self) -> int:
        return len(self.by_id)

    def resolve(self, key: str) -> dict[str, Any] | None:
        """The customer whose `id` or `source_id` is `key`."""
        found = self.by_id.get(key)
        if found is None and key in self.id_by_source:
            found = self.by_id[self.id_by_source[key]]
        return found

    def put(self, customer: dict[str, Any]) -> None:
        """Insert or replace a customer, keeping every index and the byte cache consistent."""
        if customer["id"] in self.by_id:
            self.remove(customer["id"])
        keys = _keys_of(customer)
        self.by_id[customer["id"]] = customer
        self._keys[customer["id"]] = keys
        if customer["source_id"] is not None:
            self.id_by_source[customer["source_id"]] = customer["id"]
        self.by_created.add((keys[0], customer["id"]))
        self.by_updated.add((keys[1], customer["id"]))
        self.by_source.add((customer["source_id"] or "", customer["id"]))

    def remove(self, customer_id: str) -> dict[str, Any]:
        """Forget a customer; return it."""
        customer = self.by_id.pop(customer_id)
        created, updated = self._keys.pop(customer_id)
        self._bytes.pop(customer_id, None)
        if self.id_by_source.get(customer["source_id"]) == customer_id:
            del self.id_by_source[customer["source_id"]]
        self.by_created.remove((created, customer_id))
        self.by_updated.remove((updated, customer_id))
        self.by_source.remove((customer["source_id"] or "", customer_id))
        return customer

    def encoded(self, customer_id: str) -> bytes:
        """The customer's JSON, serialised once until it changes."""
        cached = self._bytes.get(customer_id)
        if cached is None:
            cached = self._bytes[customer_id] = orjson.dumps(self.by_id[customer_id])
        return cached

    def keys(self, customer_id: str) -> tuple[int, int]:
        """(created_at, updated_at) of a customer, in microseconds."""
        return self._keys[customer_id]

    def query(self, query: CustomerQuery) -> tuple[list[str], int, bool]:
        """Ids of the requested page, the total matching the filters, and whether more remain."""
        key = query.order.lstrip("-")
        descending = query.order.startswith("-")
        index = {"created_at": self.by_created, "updated_at": self.by_updated}.get(key)
        if index is None:
            start, stop = 0, len(self.by_source)
            index = self.by_source
        else:
            start = 0 if query.low is None else index.bisect_left((query.low, ""))
            stop = len(index) if query.high is None else index.bisect_left((query.high + 1, ""))
        offset = (query.page - 1) * query.limit
        if not query.predicates and query.tie_key is None:
            total = max(0, stop - start)
            if descending:
                hi = max(start, stop - offset)
                lo = max(start, hi - query.limit)
                ids = [row[1] for row in reversed(index[lo:hi])]
            else:
                lo = min(stop, start + offset)
                ids = [row[1] for row in index[lo : min(stop, lo + query.limit)]]
            return ids, total, offset + len(ids) < total
        rows: Iterable[tuple[Any, str]] = index.islice(start, stop, reverse=descending)
        if query.tie_key is not None:
            tie_key = query.tie_key
            rows = sorted(rows, key=lambda row: (row[0], tie_key(row[1])), reverse=descending)
        matching = list(self._matching(rows, query))
        ids = matching[offset : offset + query.limit]
        return ids, len(matching), offset + len(ids) < len(matching)

    def _matching(self, rows: Iterable[tuple[Any, str]], query: CustomerQuery) -> Iterator[str]:
        for _, customer_id in rows:
            created, updated = self._keys[customer_id]
            customer = self.by_id[customer_id]
            if all(predicate(customer, created, updated) for predicate in query.predicates):
                yield customer_id


def _keys_of(customer: dict[str, Any]) -> tuple[int, int]:
    return parse_instant(customer["created_at"][:-1]), parse_instant(customer["updated_at"][:-1])
