"""The paginators: Voucherify's id tokens, keysets with tie groups and page numbers; Talon.One's
offsets. Each walks a `Listing` and guards its walk with the listing's one `LoopGuard`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from promosync.connectors.cursor import parse_instant, tie_window
from promosync.connectors.paging import STOPPED, Listing, Page, Paginator, Params
from promosync.connectors.stream import Record


def check_instants(listing: Listing, records: list[Record], field: str, noun: str) -> None:
    """Refuse a page with a record whose `field` is no instant, before anything is written."""
    for record in records:
        if not _is_instant(record.get(field)):
            listing.refuse(
                f"{noun} {record.get('id')!r} has {field} {record.get(field)!r}, not an ISO 8601"
                " instant: the API's schema changed; nothing of this page was written and the"
                " cursor did not move"
            )


def _total(listing: Listing, body: Mapping[str, Any]) -> int:
    """The `total` a page by number reports: how many records the list holds."""
    total = body.get("total")
    if not isinstance(total, int):
        listing.refuse(f"its body has no total (it has {total!r})")
    return total


def _is_instant(value: Any) -> bool:
    try:
        parse_instant(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return True


class StartingAfter(Paginator):
    """Voucherify's `starting_after_id` lists: follow `more_starting_after` while `has_more`.

    Each page is a safe point; its cursor is the last record's `field` (the id to start after).
    """

    def __init__(self, page_size: int, after: str | None = None, field: str = "id") -> None:
        self.page_size, self.after, self.field = page_size, after, field

    def pages(self, listing: Listing) -> Iterator[Page]:
        guard, after = listing.guard(), self.after
        while True:
            params: Params = {"limit": self.page_size}
            if after:
                params["starting_after_id"] = after
            body, records = listing.get(params)
            more = bool(body.get("has_more"))
            last = records[-1][self.field] if records else None
            following = body.get("more_starting_after") or last
            guard.promised_more(more, following, "has_more with an empty page")
            if more:
                guard.same_token(
                    after,
                    following,
                    f"has_more with the page after {following!r} again instead of the next one:"
                    f" {STOPPED} (the cursor stays at the last page committed)",
                )
            yield Page(records, last or after)
            if not more:
                return
            after = following


class Offset(Paginator):
    """Talon.One's offset lists: `pageSize` and `skip` until `hasMore` is false.

    With `order` (a key that grows along the list), each page after the first starts on the last
    record already read, so rows deleted meanwhile cannot shift an unread row out of sight: the
    page keeps only records past that one, and when that record is no longer there (rows before
    it went away), the request steps back a page until it is found. No page is a safe point: the
    caller commits once the list (a closed window) is read whole.
    """

    def __init__(self, page_size: int, order: Callable[[Record], Any] | None = None) -> None:
        self.page_size, self.order = page_size, order

    def pages(self, listing: Listing) -> Iterator[Page]:
        guard, skip, last = listing.guard(), 0, None
        while True:
            body, records = listing.get({"pageSize": self.page_size, "skip": skip})
            guard.same_page(
                records,
                f"the page at skip={skip} repeats the page before it: the API ignored skip;"
                f" {STOPPED} (the cursor stays at the last window committed)",
            )
            if self.order is not None and last is not None:
                fresh = [record for record in records if self.order(record) > last]
                if skip > 0 and records and len(fresh) == len(records):
                    skip = max(0, skip - self.page_size)  # the overlap is gone: rows were deleted
                    continue
                skip, records = skip + len(records) - len(fresh), fresh
            yield Page(records)
            more = bool(body.get("hasMore"))
            guard.promised_more(more, records, f"hasMore is true with an empty page at skip={skip}")
            if not more:
                return
            skip += len(records)
            if self.order is not None:
                last = self.order(records[-1])
                skip -= 1  # one record of overlap


class PageNumbers(Paginator):
    """Lists paged by `page` (from 1) and `limit`, until a short page or `total` records."""

    def __init__(self, page_size: int, cap: int) -> None:
        self.page_size, self.cap = page_size, cap

    def pages(self, listing: Listing) -> Iterator[Page]:
        guard, seen = listing.guard(), 0
        for number in range(1, self.cap + 1):
            body, records = listing.get({"limit": self.page_size, "page": number})
            guard.same_page(
                records,
                f"page {number} repeats page {number - 1}: the API ignored `page`; {STOPPED}",
            )
            seen += len(records)
            yield Page(records)
            if len(records) < self.page_size or seen >= body.get("total", 0):
                return
        listing.cannot_page(
            f"more than {self.cap * self.page_size} {listing.records_key}; the API cannot page"
            f" past page {self.cap}"
        )


class UpdatedAtKeyset(Paginator):
    """A list in `field` order, walked by the keyset `field[after]` < field < `field[before]`.

    Each page's cursor is the instant up to which every record has now been read (None while
    inside a tie group). A page ends in the middle of the group of records sharing its last
    instant, so the cursor stops before that group and the next page re-reads it; a group filling
    a whole page is read completely by page number inside a one-instant window.
    """

    def __init__(
        self,
        page_size: int,
        after: str | None,
        before: str,
        *,
        field: str,
        noun: str,
        page_cap: int,
    ) -> None:
        self.page_size, self.after, self.before = page_size, after, before
        self.field, self.noun, self.page_cap = field, noun, page_cap

    def _get(self, listing: Listing, params: Params) -> tuple[Mapping[str, Any], list[Record]]:
        body, records = listing.get({"order": self.field, "limit": self.page_size, **params})
        check_instants(listing, records, self.field, self.noun)
        return body, records

    def pages(self, listing: Listing) -> Iterator[Page]:
        guard, field, after = listing.guard(), self.field, self.after
        while True:
            params: Params = {f"{field}[before]": self.before}
            if after:
                params[f"{field}[after]"] = after
            body, records = self._get(listing, params)
            if not records:
                return
            guard.not_past(
                parse_instant(records[0][field]),
                parse_instant(after) if after else None,
                f"the page after {field} {after} starts at {records[0][field]}, not after it: the"
                f" API ignored the cursor; {STOPPED}",
            )
            last = records[-1][field]
            if len(records) < self.page_size or not body.get("has_more"):
                yield Page(records, last)
                return
            if records[0][field] == last:
                yield from self._tie_group(listing, last)
                after = last
                continue
            complete = max((r[field] for r in records if r[field] != last), key=parse_instant)
            yield Page(records, complete)
            after = complete

    def _tie_group(self, listing: Listing, instant: str) -> Iterator[Page]:
        """Every record stamped `instant`, by page number, last page first, page 1 last.

        A member updated meanwhile leaves the group and shifts the members after it one place
        forward: read backwards, those were already read, and a member that slides onto a page
        still to come is only read twice (and upserted once). Page 1 is asked first for the size
        of the group; if the group shrank before the other pages were read, a member may have
        slid onto page 1, so it is read again.
        """
        after, before = tie_window(instant)
        window = {f"{self.field}[after]": after, f"{self.field}[before]": before}
        body, first = self._get(listing, {**window, "page": 1})
        total = latest = _total(listing, body)
        count = max(1, -(-total // self.page_size))
        if count > self.page_cap:
            listing.cannot_page(
                f"more than {self.page_cap * self.page_size} {self.noun}s share {self.field}"
                f" {instant}; the API cannot page past that"
            )
        guard, previous = listing.guard(first), 1
        for number in range(count, 1, -1):
            body, records = self._get(listing, {**window, "page": number})
            guard.same_page(
                records,
                f"page {number} of the {self.noun}s sharing {self.field} {instant} repeats page"
                f" {previous}: the API ignored `page`; {STOPPED}",
            )
            previous, latest = number, _total(listing, body)
            yield Page(records)
        if latest < total:
            _, first = self._get(listing, {**window, "page": 1})
        yield Page(first, instant)
