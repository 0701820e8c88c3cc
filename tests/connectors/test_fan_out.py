"""The write side and the fan-out engine, offline: what each transaction holds, 404-skip, stops."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from promosync.connectors import batches, stopping
from promosync.connectors.batches import StreamWriter
from promosync.connectors.fan_out import Visit, fan_out
from promosync.connectors.http import ApiError
from promosync.connectors.paginators import StartingAfter
from promosync.connectors.paging import Page, pages
from promosync.connectors.report import SyncReport

from tests.connectors.fakes import SYNCED_AT, FakeApi, FakeWarehouse, not_found, stream

THINGS = stream()


@pytest.fixture(autouse=True)
def no_stop() -> Iterator[None]:
    """Each test starts and ends with no stop asked for (the flag is process-wide)."""
    stopping.reset()
    yield
    stopping.reset()


def writer(warehouse: FakeWarehouse) -> StreamWriter:
    return StreamWriter(THINGS, warehouse, SyncReport(THINGS.name), SYNCED_AT)


def things(*names: str) -> list[dict]:
    return [{"id": name} for name in names]


# --- pages committed in batches ---------------------------------------------------------------


def test_pages_commit_in_batches_each_with_the_latest_safe_cursor(monkeypatch) -> None:
    monkeypatch.setattr(batches, "WRITE_ROWS", 3)
    warehouse = FakeWarehouse()
    source = [
        Page(things("a", "b"), "b"),
        Page(things("c", "d"), None),  # inside a tie group: no safe point here
        Page(things("e"), "e"),
        Page(things("f"), "f"),
    ]
    cursor = writer(warehouse).commit_pages(source, "p1", fill={"parent": "p1"})
    assert cursor == "f"
    assert warehouse.ids == [["a", "b", "c", "d"], ["e", "f"]]
    assert [b["cursors"] for b in warehouse.batches] == [{"p1": "b"}, {"p1": "f"}]
    assert {row["parent"] for b in warehouse.batches for row in b["rows"]} == {"p1"}


def test_a_closed_window_commits_its_end_only_with_its_last_rows(monkeypatch) -> None:
    monkeypatch.setattr(batches, "WRITE_ROWS", 2)
    warehouse = FakeWarehouse()
    source = [Page(things("a", "b")), Page(things("c"))]
    writer(warehouse).commit_pages(source, "program:1", final="2026-01-01T00:00:00.000Z")
    assert [b["cursors"] for b in warehouse.batches] == [
        {},
        {"program:1": "2026-01-01T00:00:00.000Z"},
    ]


def test_nothing_new_commits_nothing_and_a_backfill_commits_no_cursor() -> None:
    warehouse = FakeWarehouse()
    assert writer(warehouse).commit_pages([Page([], "a9")], "p1", cursor="a9") == "a9"
    assert warehouse.batches == []
    writer(warehouse).commit_pages([Page(things("x"), "x")], None)
    assert warehouse.batches == [
        {"rows": warehouse.batches[0]["rows"], "cursors": {}, "replace": None}
    ]


def test_a_stop_while_reading_commits_what_was_read_up_to_the_last_safe_cursor() -> None:
    warehouse = FakeWarehouse()

    def source() -> Iterator[Page]:
        yield Page(things("a", "b"), "b")
        yield Page(things("c"), None)
        raise stopping.StopRequested("SIGTERM")

    with pytest.raises(stopping.StopRequested):
        writer(warehouse).commit_pages(source(), "p1")
    assert warehouse.ids == [["a", "b", "c"]]
    assert warehouse.batches[0]["cursors"] == {"p1": "b"}


def test_each_committed_batch_is_a_stop_point() -> None:
    warehouse = FakeWarehouse()
    stopping.request_stop()
    with pytest.raises(stopping.StopRequested):
        writer(warehouse).commit([{"id": "a"}], {"p1": "a"})
    assert warehouse.batches[0]["cursors"] == {"p1": "a"}  # committed first, then stopped


def test_pages_read_live_commit_with_their_cursor_per_write(monkeypatch) -> None:
    monkeypatch.setattr(batches, "WRITE_ROWS", 2)
    api = FakeApi.pages(
        {"data": things("a1", "a2"), "has_more": True},
        {"data": things("a3"), "has_more": False},
    )
    warehouse = FakeWarehouse({"p1": "a0"})
    source = pages(api, THINGS, StartingAfter(2, "a0"), parentId="p1")
    writer(warehouse).commit_pages(source, "p1", cursor="a0")
    assert [b["cursors"] for b in warehouse.batches] == [{"p1": "a2"}, {"p1": "a3"}]
    assert [p["starting_after_id"] for p in api.params] == ["a0", "a2"]


# --- the fan-out engine -----------------------------------------------------------------------


def activity(api: FakeApi):
    """A visit reading every page of one parent's things after its cursor."""

    def fetch(parent: str, cursor: str | None, client) -> tuple[list[dict], str | None]:
        records, last = [], cursor
        for page in pages(client, THINGS, StartingAfter(2, cursor), parentId=parent):
            records += page
            last = page.cursor
        return records, last

    return fetch


def parents_api(things_of: dict[str, list[str]]) -> FakeApi:
    """Each parent's things in pages of two, after `starting_after_id`."""

    def answer(path: str, params: dict) -> dict:
        parent = path.split("/")[3]
        if parent not in things_of:
            raise not_found(path)
        names = things_of[parent]
        start = names.index(params["starting_after_id"]) + 1 if "starting_after_id" in params else 0
        page = names[start : start + params["limit"]]
        return {"data": things(*page), "has_more": start + len(page) < len(names)}

    return FakeApi(answer)


def test_fan_out_commits_each_batch_rows_and_cursors_together_in_order() -> None:
    api = parents_api({"p1": ["x1", "x2", "x3"], "p2": [], "p3": ["z1"], "p4": ["w1"]})
    warehouse = FakeWarehouse({"p1": None, "p4": "w1"})
    report_writer = writer(warehouse)
    fan_out(
        report_writer, api, ["p1", "p2", "p3", "p4"], activity(api),
        concurrency=3, batch_size=2, parent_column="parent",
    )  # fmt: skip
    assert warehouse.ids == [["x1", "x2", "x3"], ["z1"]]  # p4 had nothing after w1
    assert [b["cursors"] for b in warehouse.batches] == [{"p1": "x3"}, {"p3": "z1", "p4": "w1"}]
    assert [row["parent"] for row in warehouse.batches[0]["rows"]] == ["p1", "p1", "p1"]
    report = report_writer.report
    assert (report.entities, report.inserted, report.planned_requests) == (4, 4, 4)
    sent = sorted((path, params.get("starting_after_id", "")) for path, params in api.calls)
    assert sent == [
        ("/v1/parents/p1/things", ""), ("/v1/parents/p1/things", "x2"),
        ("/v1/parents/p2/things", ""), ("/v1/parents/p3/things", ""),
        ("/v1/parents/p4/things", "w1"),
    ]  # fmt: skip


def test_a_visit_answered_404_is_skipped_only_when_asked() -> None:
    api = parents_api({"p1": ["x1"]})
    visits: list[Visit] = []

    def mark(batch: list[Visit]) -> dict[str, str]:
        visits.extend(batch)
        return {f"visited:{v.entity}": "2026-01-01" for v in batch}

    warehouse = FakeWarehouse()
    fan_out(
        writer(warehouse), api, ["p1", "gone"], activity(api), concurrency=2, batch_size=5,
        skip_missing=True, parent_column="parent", replace=True, marker=mark,
    )  # fmt: skip
    assert warehouse.batches == [{
        "rows": warehouse.batches[0]["rows"],
        "cursors": {"p1": "x1", "visited:p1": "2026-01-01", "visited:gone": "2026-01-01"},
        "replace": ("parent", ["p1", "gone"]),
    }]  # fmt: skip
    assert [(v.entity, v.missing, v.requests, v.cursor) for v in visits] == [
        ("p1", False, 1, "x1"),
        ("gone", True, 1, None),
    ]
    with pytest.raises(ApiError, match="HTTP 404"):
        fan_out(writer(FakeWarehouse()), api, ["gone"], activity(api), concurrency=1, batch_size=5)


def test_entities_are_read_a_batch_at_a_time_so_a_source_may_end_early() -> None:
    api = parents_api({f"p{n}": [f"x{n}"] for n in range(10)})
    handed: list[str] = []

    def allowance(budget: int) -> Iterator[str]:
        """A source that hands out parents while an allowance lasts; the rest wait."""
        for n in range(10):
            if len(handed) == budget:
                return
            handed.append(f"p{n}")
            yield f"p{n}"

    warehouse = FakeWarehouse()
    fan_out(writer(warehouse), api, allowance(5), activity(api), concurrency=2, batch_size=2)
    assert warehouse.ids == [["x0", "x1"], ["x2", "x3"], ["x4"]]
    assert handed == ["p0", "p1", "p2", "p3", "p4"]


def test_entities_are_pulled_only_as_batches_are_fetched() -> None:
    api = parents_api({f"p{n}": [f"x{n}"] for n in range(20)})
    handed: list[str] = []
    warehouse = FakeWarehouse()
    pulled_at_commit: list[int] = []
    write_batch = warehouse.write_batch

    def noting(*args, **kwargs):
        pulled_at_commit.append(len(handed))
        return write_batch(*args, **kwargs)

    warehouse.write_batch = noting  # type: ignore[method-assign]
    source = (handed.append(f"p{n}") or f"p{n}" for n in range(20))
    fan_out(writer(warehouse), api, source, activity(api), concurrency=2, batch_size=2)
    # The batch being written, plus two fetched ahead, plus the one just submitted.
    assert pulled_at_commit[:3] == [8, 10, 12]
    assert len(warehouse.batches) == 10


def test_a_stop_ends_the_fan_out_after_the_batch_being_committed() -> None:
    api = parents_api({f"p{n}": [f"x{n}"] for n in range(6)})
    fetch = activity(api)

    def fetch_then_stop(parent: str, cursor, client):
        if parent == "p1":
            stopping.request_stop()
        return fetch(parent, cursor, client)

    warehouse = FakeWarehouse()
    with pytest.raises(stopping.StopRequested):
        fan_out(writer(warehouse), api, [f"p{n}" for n in range(6)], fetch_then_stop,
                concurrency=1, batch_size=2, prefetch=0)  # fmt: skip
    assert warehouse.ids == [["x0", "x1"]]


def test_a_fan_out_stream_must_declare_its_cost() -> None:
    unpriced = StreamWriter(
        stream(cost_per_entity=None), FakeWarehouse(), SyncReport("t"), SYNCED_AT
    )
    with pytest.raises(ValueError, match="things fans out: declare its cost_per_entity"):
        fan_out(unpriced, FakeApi.pages(), [], lambda *a: ([], None), concurrency=1, batch_size=1)
