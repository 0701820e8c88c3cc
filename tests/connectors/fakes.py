"""Tiny fakes for the offline toolkit tests: an API of canned pages, a warehouse in memory."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from promosync.connectors.http import ApiError
from promosync.connectors.stream import Stream

SYNCED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def stream(**fields: Any) -> Stream:
    """A small stream declaration: rows are the records' `id` and `v`, and a `parent` column."""
    declared: dict[str, Any] = dict(
        name="things", platform="voucherify", description="Things, for tests.",
        endpoint="/v1/parents/{parentId}/things", primary_key=("id",), cursor_field="id",
        page_size=2, records_key="data", cost_per_entity=1,
        to_row=lambda record, synced_at: {
            "id": record["id"], "v": record.get("v"), "parent": None, "_synced_at": synced_at
        },
    )  # fmt: skip
    return Stream(**{**declared, **fields})


class FakeApi:
    """Answers each GET from `answer(path, params)` and records every call, in order.

    `answer` may return a body, or raise (an ApiError with a status, as the real client does).
    """

    platform = "voucherify"

    def __init__(self, answer: Callable[[str, dict[str, Any]], Any]) -> None:
        self.answer, self.calls = answer, []
        self._lock = threading.Lock()

    @classmethod
    def pages(cls, *bodies: Any) -> FakeApi:
        """An API answering `bodies` one after another, whatever it is asked."""
        queue = list(bodies)
        return cls(lambda path, params: queue.pop(0))

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        with self._lock:
            self.calls.append((path, dict(params or {})))
        return self.answer(path, dict(params or {}))

    @property
    def params(self) -> list[dict[str, Any]]:
        """The params of every call, in order."""
        return [params for _, params in self.calls]


def not_found(path: str) -> ApiError:
    """The error the client raises for a 404."""
    return ApiError("voucherify", "GET", path, 404, "resource_not_found")


class FakeWarehouse:
    """Records every write_batch as one transaction: rows, cursors, replace (and the rejects
    written with them); serves cursors; its tables have no typed columns, it holds no reject."""

    def __init__(self, cursors: Mapping[str, str | None] | None = None) -> None:
        self.cursors = dict(cursors or {})
        self.batches: list[dict[str, Any]] = []

    def column_types(self, table: str) -> dict[str, tuple[str, bool]]:
        return {}

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return []

    def write_batch(
        self,
        table: str,
        primary_key: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
        cursors: Mapping[tuple[str, str], str | None] | None = None,
        replace: tuple[str, Sequence[str]] | None = None,
        also: Sequence[Any] = (),
    ) -> Any:
        saved = {partition: value for (_, partition), value in (cursors or {}).items()}
        batch = {"rows": list(rows), "cursors": saved, "replace": replace}
        if also:  # rejects written with the batch
            batch["also"] = list(also)
        self.batches.append(batch)
        self.cursors.update(saved)
        return _Result(len(rows), 0)

    def read_cursors(self, stream: str) -> dict[str, str | None]:
        return dict(self.cursors)

    @property
    def ids(self) -> list[list[Any]]:
        """The row ids of each committed batch."""
        return [[row["id"] for row in batch["rows"]] for batch in self.batches]


class _Result:
    def __init__(self, inserted: int, updated: int) -> None:
        self.inserted, self.updated = inserted, updated
