"""Talon.One's offset lists (`pageSize`, `skip`, `hasMore`), read whole whatever their order.

The specs state no order for these lists (profiles offer no sort at all, the card list's `sort`
"may not be usable", transaction logs may come newest or oldest first), and rows may be deleted or
may move while a list is paged, shifting every offset after them. So the order is read from the
answers, never assumed:

- A list in the order of `key`, ascending or descending (detected from the first page with two
  records): each page after the first starts on the last record already read, so rows deleted
  meanwhile cannot shift an unread row out of sight; when that record is no longer on the page
  (rows before it went away), the request steps back a page until it is found.
- A list in any other order (by last activity, by a hash of the id, ...): each page after the
  first must start with the record that ended the one before. When it does not, the list moved
  before the read position and a record may have slid past unread: the list is read again from
  the start (records already handed out are not handed out twice), up to MAX_PASSES times.
  A snapshot (`snapshot=True`) then reports `settled` false: its caller must not mark rows
  deleted from it. A closed window is refused instead: its cursor must not move past entries
  that may be missing.

No page is a safe point: the caller commits once the list (a closed window) is read whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from itertools import pairwise
from typing import Any

from promosync.connectors.paging import STOPPED, Listing, LoopGuard, Page, Paginator
from promosync.connectors.stream import Record

log = logging.getLogger(__name__)

MAX_PASSES = 3  # reads of a list in an order of its own, before giving up on a settled one
Pass = Generator[Page, None, bool]  # yields pages; returns whether the list moved under it


def _identity(record: Record) -> Any:
    return record.get("id")


class Offset(Paginator):
    """An offset list walked in the order its answers show; see the module doc.

    `key` gives a record's position in the list's natural order (None where unreadable: such a
    record is handed on, for the writer to reject, and plays no part in the walk). After `pages`
    ends, `order` says which order the answers showed and `settled` whether the walk read the
    list whole.
    """

    def __init__(
        self, page_size: int, key: Callable[[Record], Any], *, snapshot: bool = False
    ) -> None:
        self.page_size, self.key, self.snapshot = page_size, key, snapshot
        self.order: str | None = None  # "ascending", "descending" or "unordered"
        self.settled = False

    def pages(self, listing: Listing) -> Generator[Page, None, None]:
        seen: set[Any] = set()
        if not (yield from self._ordered_pass(listing, seen)):
            self.settled = True
            return
        for number in range(1, MAX_PASSES + 1):
            if not (yield from self._anchored_pass(listing, seen)):
                self.settled = True
                return
            log.info("%s moved while read (pass %d, %s order)", listing.path, number, self.order)
        if not self.snapshot:
            listing.refuse(
                f"the list moved under each of {MAX_PASSES} reads in an order of its own: its"
                " records cannot be proven whole; nothing of this window was committed"
            )

    def _read(self, listing: Listing, skip: int) -> tuple[bool, list[Record]]:
        body, records = listing.get({"pageSize": self.page_size, "skip": skip})
        more = bool(body.get("hasMore"))
        return more, records

    @staticmethod
    def _unseen(records: list[Record], seen: set[Any]) -> Page:
        fresh = []
        for record in records:
            identity = _identity(record)
            if identity is None or identity not in seen:
                fresh.append(record)
            if identity is not None:
                seen.add(identity)
        return Page(fresh)

    def _in_order(self, records: list[Record]) -> bool:
        """Learn the direction from a page; False once a page shows the list in neither."""
        keys = [key for key in map(self.key, records) if key is not None]
        up = any(a < b for a, b in pairwise(keys))
        down = any(a > b for a, b in pairwise(keys))
        seen_now = (
            "unordered" if up and down else "ascending" if up else "descending" if down else None
        )
        if seen_now is not None and self.order not in (None, seen_now):
            seen_now = "unordered"
        self.order = seen_now or self.order
        return self.order != "unordered"

    def _overlap_gone(self, records: list[Record], last: Any) -> bool:
        """Whether a page meant to start on the record at `last` holds only records beyond it."""
        known = [key for key in map(self.key, records) if key is not None]
        if last is None or self.order is None or not known:
            return False
        if self.order == "ascending":
            return all(key > last for key in known)
        return all(key < last for key in known)

    def _anchor(self, listing: Listing, records: list[Record], skip: int) -> int:
        """The index of the page's last record with a position and an id: the next page starts
        on it (one record of overlap)."""
        for index in range(len(records) - 1, 0, -1):
            if self.key(records[index]) is not None and _identity(records[index]) is not None:
                return index
        listing.refuse(
            f"hasMore is true, but the page at skip={skip} holds no record to go on from; {STOPPED}"
        )

    def _read_new(self, listing: Listing, guard: LoopGuard, skip: int) -> tuple[bool, list[Any]]:
        """The page at `skip`, refused if it repeats the page before it."""
        more, records = self._read(listing, skip)
        guard.same_page(
            records,
            f"the page at skip={skip} repeats the page before it: the API ignored skip;"
            f" {STOPPED} (the cursor stays at the last window committed)",
        )
        return more, records

    def _ordered_pass(self, listing: Listing, seen: set[Any]) -> Pass:
        """A pass over a list in `key` order; True as soon as the list shows another order."""
        guard, skip, last = listing.guard(), 0, None
        while True:
            more, records = self._read_new(listing, guard, skip)
            if not self._in_order(records):
                return True
            if skip > 0 and self._overlap_gone(records, last):  # rows before it were deleted:
                skip = max(0, skip - self.page_size)  # step back until it is found
                continue
            page = self._unseen(records, seen)
            yield page
            guard.promised_more(more, page, f"hasMore is true with an empty page at skip={skip}")
            if not more:
                return False
            index = self._anchor(listing, records, skip)
            skip, last = skip + index, self.key(records[index])

    def _anchored_pass(self, listing: Listing, seen: set[Any]) -> Pass:
        """A pass over a list in an order of its own; True if it moved before the read position."""
        guard, skip, anchor, moved = listing.guard(), 0, None, False
        while True:
            more, records = self._read_new(listing, guard, skip)
            if anchor is not None and (not records or _identity(records[0]) != anchor):
                moved = True  # rows came or went before the read position
            page = self._unseen(records, seen)
            yield page
            guard.promised_more(more, records, f"hasMore is true with an empty page at skip={skip}")
            if not more:
                return moved
            index = self._anchor(listing, records, skip)
            skip, anchor = skip + index, _identity(records[index])
