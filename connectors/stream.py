"""A pull stream declared as data: where it reads, what it writes, and how it resumes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class Stream:
    """One pull stream; its behaviour lives in the platform's sync functions."""

    name: str  # also the warehouse table
    endpoint: str
    primary_key: tuple[str, ...]
    cursor_field: str | None  # what the committed cursor holds; None for a snapshot
    page_size: int | None  # None: the endpoint is not paged
    records_key: str
    to_row: Callable[[dict[str, Any], datetime], Row]
