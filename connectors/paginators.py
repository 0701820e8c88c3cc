"""The paginators: Voucherify's id tokens, keysets with tie groups (connectors/keyset.py) and page
numbers; Talon.One's offsets (connectors/offsets.py). Each walks a `Listing` and guards its walk
with the listing's one `LoopGuard`.

An envelope field the spec leaves optional is never read as "no": a list whose `has_more` is
missing goes on while its pages are full.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import pairwise
from typing import Any

from promosync.connectors.keyset import UpdatedAtKeyset, instant_or_none
from promosync.connectors.offsets import Offset
from promosync.connectors.paging import STOPPED, Listing, Page, Paginator, Params
from promosync.connectors.stream import Record

__all__ = ["Offset", "PageNumbers", "StartingAfter", "UpdatedAtKeyset", "oldest_first"]


def oldest_first(field: str) -> Callable[[Record], datetime | None]:
    """The order key of a list asked oldest first by `field` (None where it is no instant)."""
    return lambda record: instant_or_none(record.get(field))


class StartingAfter(Paginator):
    """Voucherify's `starting_after_id` lists: follow `more_starting_after` while there is more.

    Each page is a safe point; its cursor is the last record's `field` (the id to start after).
    `ordered`: the key of the order the list was asked in (e.g. `created_at` for
    `order=created_at`); the cursor is only right if the API honoured it, so a page out of that
    order is refused rather than followed (a list newest first would leave the cursor on the
    oldest record and every later one unread).
    """

    def __init__(
        self,
        page_size: int,
        after: str | None = None,
        field: str = "id",
        ordered: Callable[[Record], Any] | None = None,
    ) -> None:
        self.page_size, self.after, self.field, self.ordered = page_size, after, field, ordered

    def _check_order(self, listing: Listing, records: list[Record], previous: Any) -> Any:
        if self.ordered is None:
            return None
        keys = [key for key in map(self.ordered, records) if key is not None]
        if previous is not None:
            keys.insert(0, previous)
        if any(later < earlier for earlier, later in pairwise(keys)):
            listing.refuse(
                f"its records are not in the order asked ({listing.params}): the API ignored"
                f" `order`; {STOPPED} (the cursor stays at the last page committed)"
            )
        return keys[-1] if keys else previous

    def pages(self, listing: Listing) -> Iterator[Page]:
        guard, after, latest = listing.guard(), self.after, None
        while True:
            params: Params = {"limit": self.page_size}
            if after:
                params["starting_after_id"] = after
            body, records = listing.get(params)
            more = body.get("has_more")
            if not isinstance(more, bool):  # missing: a full page may have more after it
                more = len(records) >= self.page_size
            named = [record[self.field] for record in records if record.get(self.field)]
            last = named[-1] if named else None  # a record without its id cannot be a cursor
            following = body.get("more_starting_after") or last
            guard.promised_more(more, following, "has_more with an empty page")
            if more:
                guard.same_token(
                    after,
                    following,
                    f"has_more with the page after {following!r} again instead of the next one:"
                    f" {STOPPED} (the cursor stays at the last page committed)",
                )
            latest = self._check_order(listing, records, latest)
            yield Page(records, last or after)
            if not more:
                return
            after = following


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
            total = body.get("total")  # may be missing: then only a short page ends the list
            if len(records) < self.page_size or (isinstance(total, int) and seen >= total):
                return
        listing.cannot_page(
            f"more than {self.cap * self.page_size} {listing.records_key}; the API cannot page"
            f" past page {self.cap}"
        )
