"""Pack items into requests under a byte limit (and an optional item cap), in input order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

MAX_BODY_BYTES = 10_000_000  # "10 MB" read in decimal: under the limit whichever way it is counted


def pack(
    items: Iterable[T],
    size: Callable[[T], int],
    *,
    limit: int,
    base: int,
    separator: int = 1,
    max_items: int | None = None,
) -> Iterator[list[T]]:
    """Greedy batches, one at a time: `base` bytes plus each item's size and a separator between.

    An item that cannot fit even alone raises ValueError; validate sizes first.
    """
    current: list[T] = []
    used = base
    for item in items:
        extra = size(item) + (separator if current else 0)
        full = max_items is not None and len(current) >= max_items
        if current and (used + extra > limit or full):
            yield current
            current, used = [], base
            extra = size(item)
        if used + extra > limit:
            raise ValueError(f"an item of {size(item)} bytes cannot fit in a {limit}-byte request")
        current.append(item)
        used += extra
    if current:
        yield current
