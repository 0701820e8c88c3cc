"""Paging: one interface for every list the streams read, and one guard against lists that loop.

A paginator walks one kind of list and yields `Page`s: the records of one answer, and the cursor up
to which the list is now read whole (None where stopping would lose rows: inside a tie group,
inside a closed window). A consumer commits rows with the last cursor it saw, so it can stop after
any page, at a budget boundary or a signal, and resume from what it committed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NoReturn, Protocol
from urllib.parse import quote

from promosync.connectors.http import ApiError, UnexpectedAnswer
from promosync.connectors.stream import Record, Stream

Params = dict[str, Any]
STOPPED = "stopped so as not to loop"


class JsonClient(Protocol):
    """What paging needs of a client: `ApiClient` and the test fakes alike."""

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any: ...


class Page(list):
    """The records of one answer; `cursor`: up to where the list is read whole (None: not here)."""

    __slots__ = ("cursor",)

    def __init__(self, records: Iterable[Record] = (), cursor: str | None = None) -> None:
        super().__init__(records)
        self.cursor = cursor


def path(template: str, **values: object) -> str:
    """A path from its template, every value URL-encoded (card codes may hold `%`, `+`, `@`)."""
    return template.format(**{key: quote(str(value), safe="") for key, value in values.items()})


class Listing:
    """One list endpoint as a paginator reads it: its fixed params, its answers, its refusals."""

    def __init__(
        self,
        client: JsonClient,
        platform: str,
        path: str,
        records_key: str,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.client, self.platform, self.path = client, platform, path
        self.records_key, self.params = records_key, dict(params or {})

    @classmethod
    def of(
        cls,
        client: JsonClient,
        stream: Stream,
        template: str | None = None,
        params: Mapping[str, Any] | None = None,
        **values: object,
    ) -> Listing:
        """The list `stream` reads (or `template`, another path of it), its placeholders filled."""
        if stream.records_key is None:
            raise ValueError(f"{stream.name} does not read a JSON list")
        where = path(template or stream.endpoint, **values)
        return cls(client, stream.platform, where, stream.records_key, params)

    def get(
        self, params: Mapping[str, Any] | None = None
    ) -> tuple[Mapping[str, Any], list[Record]]:
        """One answer and its records; an answer without the records list is refused."""
        body = self.client.get_json(self.path, {**self.params, **(params or {})})
        records = body.get(self.records_key) if isinstance(body, dict) else None
        if not isinstance(records, list):
            self.refuse(f"its body has no {self.records_key}")
        return body, records

    def refuse(self, detail: str) -> NoReturn:
        """Stop with an UnexpectedAnswer naming the endpoint: nothing of this answer is used."""
        raise UnexpectedAnswer(self.platform, "GET", self.path, detail)

    def cannot_page(self, detail: str) -> NoReturn:
        """Stop where the API's paging cannot reach the rest of the list."""
        raise ApiError(self.platform, "GET", self.path, None, detail)

    def guard(self, previous: list[Record] | None = None) -> LoopGuard:
        """A fresh loop guard for one walk of this list (`previous`: a page already read)."""
        return LoopGuard(self, previous)


class LoopGuard:
    """The one guard against lists that would never end, whatever moves them.

    An API that ignores what moves a list (a token, `skip`, `page`) answers the same page forever;
    one that promises more with nothing to go on cannot be followed. The guard stops at the first
    such answer with a clear UnexpectedAnswer naming the endpoint, before anything of it is handed
    out. (A keyset checks its own bounds: connectors/keyset.py.)
    """

    def __init__(self, listing: Listing, previous: list[Record] | None = None) -> None:
        self.listing, self._previous = listing, previous

    def promised_more(self, more: bool, following: object, detail: str) -> None:
        """Refuse an answer that says more follows but gives nothing to ask for it with."""
        if more and not following:
            self.listing.refuse(detail)

    def same_token(self, sent: object, following: object, detail: str) -> None:
        """Refuse when the next request would carry the token just sent."""
        if following == sent:
            self.listing.refuse(detail)

    def same_page(self, records: list[Record], detail: str) -> None:
        """Refuse an answer equal to the one before it (an empty one proves nothing)."""
        if records and records == self._previous:
            self.listing.refuse(detail)
        self._previous = records


class Paginator(ABC):
    """How one kind of list is walked: which requests, in which order, and where to stop safely."""

    @abstractmethod
    def pages(self, listing: Listing) -> Iterator[Page]:
        """The list's pages, in order, each with its safe cursor."""


def pages(
    client: JsonClient,
    stream: Stream,
    paginator: Paginator,
    *,
    template: str | None = None,
    params: Mapping[str, Any] | None = None,
    **values: object,
) -> Iterator[Page]:
    """Pages of `stream`'s list (`template`: another path of it), walked by `paginator`."""
    return paginator.pages(Listing.of(client, stream, template, params, **values))
