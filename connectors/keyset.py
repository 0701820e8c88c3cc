"""The `updated_at` keyset with tie groups (Voucherify customers), held under every reading of
what the spec leaves open about it.

`GET /v1/customers` documents neither whether `updated_at[after]` / `updated_at[before]` include
the instant they name, nor what `total` counts, and its own example has no `has_more`. The walk
therefore never depends on one reading:

- `has_more` missing: a full page means more may follow; the walk ends at a short page (one more
  request when the list ends on a page boundary).
- A bound the API takes as inclusive shows itself: a record stamped exactly at the bound. The
  walk then moves that bound one tick inward (timestamps carry milliseconds), asks again, and
  keeps the moved bound for the rest of the walk; a record past a bound is refused (the API
  ignored it). Until a record sits exactly at a bound, both readings answer the same.
- `total` is used only where it proves itself: a tie group's last page must hold what `total`
  says it holds. When it does not (it counts every customer, or it is missing), the group's last
  page is found by bisection and page 1 is always read again last.
- A record whose `updated_at` is no instant is passed on (the writer rejects it, see
  connectors/rejects.py) and plays no part in the cursor; a full page of them cannot be walked
  past and is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from itertools import pairwise
from typing import Any

from promosync.connectors.cursor import TICK, format_instant, parse_instant, tie_window
from promosync.connectors.http import ApiError
from promosync.connectors.paging import STOPPED, Listing, Page, Paginator, Params
from promosync.connectors.stream import Record

Stamp = tuple[datetime, str]  # a readable record's instant, and its text as the API wrote it
# Reads a tie group the pages cannot reach (by an export): its pages, the last with the instant.
OversizeReader = Callable[[str], Iterator[Page]]


class TieGroupTooLarge(ApiError):
    """More records share one instant than `page` can reach; `instant` names it."""

    def __init__(self, platform: str, path: str, detail: str, instant: str) -> None:
        super().__init__(platform, "GET", path, None, detail)
        self.instant = instant


def instant_or_none(value: Any) -> datetime | None:
    """`value` as an instant, or None when it is no ISO 8601 instant."""
    try:
        return parse_instant(value)
    except (TypeError, ValueError, AttributeError):
        return None


def _shifted(text: str, ticks: int) -> str:
    return format_instant(parse_instant(text) + ticks * TICK)


class UpdatedAtKeyset(Paginator):
    """A list in `field` order, walked by the keyset `field[after]` < field < `field[before]`.

    Each page's cursor is the instant up to which every record has now been read (None while
    inside a tie group). A page ends in the middle of the group of records sharing its last
    instant, so the cursor stops before that group and the next page re-reads it; a group filling
    a whole page is read completely by page number inside a one-instant window. The module doc
    says how each open reading is met.
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
        oversize: OversizeReader | None = None,
    ) -> None:
        self.page_size, self.after, self.before = page_size, after, before
        self.field, self.noun, self.page_cap = field, noun, page_cap
        self.oversize = oversize  # reads a group past the page cap; None: such a group stops
        self.inclusive = {"after": False, "before": False}  # learned from the answers

    def _window(self, after: str | None, before: str) -> Params:
        """The bounds to send for the open interval (after, before), as the API reads them."""
        if self.inclusive["before"]:
            before = _shifted(before, -1)
        window = {f"{self.field}[before]": before}
        if after:
            window[f"{self.field}[after]"] = (
                _shifted(after, 1) if self.inclusive["after"] else after
            )
        return window

    def _get(
        self, listing: Listing, after: str | None, before: str, **extra: Any
    ) -> tuple[Mapping[str, Any], list[Record], list[Stamp]]:
        """One answer inside (after, before); a bound found inclusive is moved and asked again."""
        while True:
            params = {"order": self.field, "limit": self.page_size, **self._window(after, before)}
            body, records = listing.get({**params, **extra})
            stamps = self._stamps(listing, records)
            if not self._learned(listing, stamps, after, before):
                return body, records, stamps

    def _stamps(self, listing: Listing, records: list[Record]) -> list[Stamp]:
        stamps = []
        for record in records:
            value = record.get(self.field)
            moment = instant_or_none(value)
            if moment is not None:
                stamps.append((moment, value))
        if any(later[0] < earlier[0] for earlier, later in pairwise(stamps)):
            listing.refuse(
                f"the {self.noun}s are not in {self.field} order though order={self.field} was"
                f" asked; {STOPPED}"
            )
        return stamps

    def _learned(
        self, listing: Listing, stamps: list[Stamp], after: str | None, before: str
    ) -> bool:
        """True when a record at a bound showed it inclusive (now learned); refuse one past it."""
        if not stamps:
            return False
        learned = False
        if after and stamps[0][0] <= parse_instant(after):
            if stamps[0][0] < parse_instant(after) or self.inclusive["after"]:
                listing.refuse(
                    f"the page after {self.field} {after} starts at {stamps[0][1]}, not after it:"
                    f" the API ignored the cursor; {STOPPED}"
                )
            self.inclusive["after"] = learned = True
        if stamps[-1][0] >= parse_instant(before):
            if stamps[-1][0] > parse_instant(before) or self.inclusive["before"]:
                listing.refuse(
                    f"the page before {self.field} {before} holds {stamps[-1][1]}: the API"
                    f" ignored {self.field}[before]; {STOPPED}"
                )
            self.inclusive["before"] = learned = True
        return learned

    def _more(self, body: Mapping[str, Any], records: list[Record]) -> bool:
        """A full page may have more after it, unless `has_more` (which may be absent) says no."""
        return len(records) >= self.page_size and body.get("has_more") is not False

    def pages(self, listing: Listing) -> Iterator[Page]:
        after = self.after
        while True:
            body, records, stamps = self._get(listing, after, self.before)
            if not records:
                return
            more = self._more(body, records)
            if not stamps:  # nothing readable to move the cursor with
                if more:
                    listing.refuse(
                        f"no {self.noun} of a full page has an ISO 8601 {self.field}: the walk"
                        " cannot move past them; nothing of this page was written"
                    )
                yield Page(records, after)
                return
            last = stamps[-1]
            if not more:
                yield Page(records, last[1])
                return
            if stamps[0][0] == last[0]:
                yield from self._tie_group(listing, last[1])
                after = last[1]
                continue
            complete = next(text for moment, text in reversed(stamps) if moment != last[0])
            yield Page(records, complete)
            after = complete

    def _tie_group(self, listing: Listing, instant: str) -> Iterator[Page]:
        """Every record stamped `instant`, by page number, last page first, page 1 last.

        A member updated meanwhile leaves the group and shifts the members after it one place
        forward: read backwards, those were already read, and a member that slides onto a page
        still to come is only read twice (and upserted once). Page 1 is read first for `total`;
        page 1 is read again at the end whenever the group may have shrunk meanwhile (or `total`
        could not be trusted to say). A bound learned inclusive meanwhile restarts the group.
        """
        while True:
            learned = dict(self.inclusive)
            try:
                pages = list(self._group_pages(listing, instant))
            except TieGroupTooLarge:
                if self.oversize is None:
                    raise
                yield from self.oversize(instant)
                return
            if learned == self.inclusive:
                yield from pages
                return

    def _group_pages(self, listing: Listing, instant: str) -> Iterator[Page]:
        low, high = tie_window(instant)
        body, first, _ = self._get(listing, low, high, page=1)
        total = body.get("total")
        count = -(-total // self.page_size) if isinstance(total, int) and total > 0 else None
        if count == 1:
            answer, records, last, trusted = body, None, 1, self._fits(body, first, 1)
        elif count is not None and count <= self.page_cap:
            answer, records, _ = self._get(listing, low, high, page=count)
            self._not_page_one(listing, records, first, count, instant)
            last, trusted = count, self._fits(answer, records, count)
        else:
            answer, records, last, trusted = body, None, self.page_cap + 1, False
        if not trusted:  # `total` says nothing of this group: find its last page
            last, records = self._last_page(listing, (low, high), instant, last, records, first)
        latest = answer.get("total") if trusted else None
        guard, previous = listing.guard(first), 1
        for number in range(last, 1, -1):
            if records is None:
                answer, records, _ = self._get(listing, low, high, page=number)
                latest = answer.get("total") if trusted else None
            guard.same_page(
                records,
                f"page {number} of the {self.noun}s sharing {self.field} {instant} repeats page"
                f" {previous}: the API ignored `page`; {STOPPED}",
            )
            previous = number
            yield Page(records)
            records = None
        if latest != total:  # the group may have changed since page 1 was read (or untrusted)
            _, first, _ = self._get(listing, low, high, page=1)
        yield Page(first, instant)

    def _fits(self, answer: Mapping[str, Any], records: list[Record], number: int) -> bool:
        """Whether page `number` is the last page of a group as large as its own `total`."""
        total = answer.get("total")
        if not isinstance(total, int) or max(1, -(-total // self.page_size)) != number:
            return False
        return len(records) == total - (number - 1) * self.page_size

    def _not_page_one(
        self, listing: Listing, records: list[Record], first: list[Record], number: int, at: str
    ) -> None:
        if records and records == first:
            listing.refuse(
                f"page {number} of the {self.noun}s sharing {self.field} {at} repeats page 1:"
                f" the API ignored `page`; {STOPPED}"
            )

    def _last_page(
        self,
        listing: Listing,
        window: tuple[str, str],
        instant: str,
        probe: int,
        records: list[Record] | None,
        first: list[Record],
    ) -> tuple[int, list[Record] | None]:
        """The group's last page, by bisection between page 1 (full) and page `probe` (read as
        `records`, or beyond the cap); with its records when they were the last thing read."""
        lo, hi = 1, probe
        if records:
            if len(records) < self.page_size:
                return probe, records
            lo, hi = probe, self.page_cap + 1
        while hi - lo > 1:
            middle = (lo + hi) // 2
            _, found, _ = self._get(listing, *window, page=middle)
            self._not_page_one(listing, found, first, middle, instant)
            if not found:
                hi = middle
            elif len(found) < self.page_size:
                return middle, found
            else:
                lo = middle
        if lo >= self.page_cap:
            raise TieGroupTooLarge(
                listing.platform, listing.path,
                f"more than {self.page_cap * self.page_size} {self.noun}s share {self.field}"
                f" {instant}; the API cannot page past that",
                instant,
            )  # fmt: skip
        return lo, None
