"""read_ahead: pages fetched in a background thread arrive in order, errors and early stops too."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest
from promosync.connectors.read_ahead import read_ahead


def _read_ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "read-ahead"]


def test_items_arrive_in_order_and_the_thread_ends() -> None:
    assert list(read_ahead(range(1000), depth=3)) == list(range(1000))
    assert _read_ahead_threads() == []


def test_an_error_of_the_source_is_raised_after_the_items_before_it() -> None:
    def pages() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("HTTP 500 on page 3")

    seen = []
    with pytest.raises(RuntimeError, match="HTTP 500 on page 3"):
        for page in read_ahead(pages()):
            seen.append(page)
    assert seen == [1, 2]
    assert _read_ahead_threads() == []


def test_a_consumer_that_stops_early_stops_the_source() -> None:
    produced = itertools.count()

    def endless() -> Iterator[int]:
        while True:
            yield next(produced)

    with pytest.raises(ValueError, match="warehouse write failed"):
        for page in read_ahead(endless(), depth=2):
            if page == 5:
                raise ValueError("warehouse write failed")
    assert _read_ahead_threads() == []
    # Pages 0-5 consumed, at most `depth` queued, and one more held by the blocked producer.
    assert next(produced) <= 6 + 2 + 1
