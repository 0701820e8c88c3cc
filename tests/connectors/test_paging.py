"""The paginators, offline: the pages handed out, the exact params of each call, the loop guard."""

from __future__ import annotations

import pytest
from promosync.connectors.http import ApiError, UnexpectedAnswer
from promosync.connectors.offsets import MAX_PASSES
from promosync.connectors.paginators import (
    Offset,
    PageNumbers,
    StartingAfter,
    UpdatedAtKeyset,
    oldest_first,
)
from promosync.connectors.paging import Listing, pages, path

from tests.connectors.fakes import FakeApi, stream

THINGS = stream()


def walk(api: FakeApi, paginator, **values) -> list[tuple[list, str | None]]:
    """Every page as (ids, cursor)."""
    found = pages(api, THINGS, paginator, parentId=values.pop("parent", "p1"), **values)
    return [([record["id"] for record in page], page.cursor) for page in found]


def ids(*names: str) -> list[dict]:
    return [{"id": name} for name in names]


# --- starting_after_id (Voucherify activity, loyalty transactions) ---------------------------


def test_starting_after_follows_the_token_and_each_page_is_a_safe_point() -> None:
    api = FakeApi.pages(
        {"data": ids("a1", "a2"), "has_more": True, "more_starting_after": "a2"},
        {"data": ids("a3", "a4"), "has_more": True},  # no token: the last id
        {"data": ids("a5"), "has_more": False},
    )
    paginator = StartingAfter(2, after="a0")
    read = walk(api, paginator, params={"order": "created_at"}, parent="cus/1")
    assert read == [(["a1", "a2"], "a2"), (["a3", "a4"], "a4"), (["a5"], "a5")]
    assert {path for path, _ in api.calls} == {"/v1/parents/cus%2F1/things"}
    assert api.params == [
        {"order": "created_at", "limit": 2, "starting_after_id": "a0"},
        {"order": "created_at", "limit": 2, "starting_after_id": "a2"},
        {"order": "created_at", "limit": 2, "starting_after_id": "a4"},
    ]


def test_starting_after_an_empty_list_keeps_the_cursor() -> None:
    api = FakeApi.pages({"data": [], "has_more": False})
    assert walk(api, StartingAfter(2, after="a9")) == [([], "a9")]
    assert walk(FakeApi.pages({"data": [], "has_more": False}), StartingAfter(2)) == [([], None)]


def test_starting_after_refuses_a_token_that_does_not_move() -> None:
    api = FakeApi.pages(
        {"data": ids("a1", "a2"), "has_more": True},
        {"data": ids("a1", "a2"), "has_more": True},  # the API ignored starting_after_id
    )
    found = pages(api, THINGS, StartingAfter(2), parentId="p1")
    assert [r["id"] for r in next(found)] == ["a1", "a2"]
    with pytest.raises(UnexpectedAnswer) as refused:
        next(found)
    assert str(refused.value) == (
        "voucherify GET /v1/parents/p1/things answered HTTP 200, but has_more with the page after"
        " 'a2' again instead of the next one: stopped so as not to loop (the cursor stays at the"
        " last page committed)"
    )
    assert len(api.calls) == 2


def test_starting_after_without_has_more_goes_on_while_pages_are_full() -> None:
    api = FakeApi.pages({"data": ids("a1", "a2")}, {"data": ids("a3")})
    assert walk(api, StartingAfter(2)) == [(["a1", "a2"], "a2"), (["a3"], "a3")]


def test_starting_after_refuses_a_list_out_of_the_order_asked() -> None:
    newest_first = [
        {"id": "e2", "created_at": "2025-01-02T00:00:00Z"},
        {"id": "e1", "created_at": "2025-01-01T00:00:00Z"},
    ]
    api = FakeApi.pages({"data": newest_first, "has_more": False})
    with pytest.raises(UnexpectedAnswer, match=r"not in the order asked .* ignored `order`"):
        walk(api, StartingAfter(2, ordered=oldest_first("created_at")))


def test_more_promised_with_an_empty_page_is_refused() -> None:
    api = FakeApi.pages({"data": [], "has_more": True})
    with pytest.raises(UnexpectedAnswer, match=r"things answered HTTP 200, but has_more with an"):
        walk(api, StartingAfter(2))


def test_an_answer_without_its_records_is_refused_not_read_as_empty() -> None:
    api = FakeApi.pages({"object": "list", "items": []})
    with pytest.raises(
        UnexpectedAnswer, match=r"p1/things answered HTTP 200, but its body has no data$"
    ):
        walk(api, StartingAfter(2))


# --- offset (Talon.One) -----------------------------------------------------------------------


def listed(rows: list[dict], change=None) -> FakeApi:
    """An offset list over `rows`, in their order; `change(rows, params)` runs before answering."""

    def answer(_: str, params: dict) -> dict:
        if change:
            change(rows, params)
        page = rows[params["skip"] : params["skip"] + params["pageSize"]]
        return {"data": page, "hasMore": params["skip"] + len(page) < len(rows)}

    return FakeApi(answer)


def by_id(record: dict):
    return record.get("id")


def test_offset_pages_overlap_one_record_until_has_more_is_false() -> None:
    api = listed([{"id": n} for n in (1, 2, 3)])
    paginator = Offset(2, by_id)
    assert walk(api, paginator, params={"endDate": "E"}) == [([1, 2], None), ([3], None)]
    assert api.params == [
        {"endDate": "E", "pageSize": 2, "skip": 0},
        {"endDate": "E", "pageSize": 2, "skip": 1},  # starts on record 2, the last one read
    ]
    assert (paginator.order, paginator.settled) == ("ascending", True)


@pytest.mark.parametrize("newest_first", [False, True])
def test_ordered_offset_steps_back_when_rows_before_were_deleted_in_either_direction(
    newest_first,
) -> None:
    order = [1, 2, 3, 4, 5, 6, 7]
    rows = [{"id": n} for n in (order[::-1] if newest_first else order)]
    gone = rows[:2]

    def delete(live: list[dict], params: dict) -> None:
        if params["skip"] == 2 and gone[0] in live:  # after the first page, two rows go
            live.remove(gone[0])
            live.remove(gone[1])

    api = listed(rows, delete)
    paginator = Offset(3, by_id)
    read = [i for page, _ in walk(api, paginator) for i in page]
    assert sorted(read) == [1, 2, 3, 4, 5, 6, 7] and len(read) == 7  # none missed, none twice
    # skip=2 should start on the third row; it slid to 0, so the request steps back to find it.
    assert [p["skip"] for p in api.params] == [0, 2, 0, 2]
    assert paginator.order == ("descending" if newest_first else "ascending")


def test_a_list_in_an_order_of_its_own_is_read_whole_by_its_anchors() -> None:
    rows = [{"id": n} for n in (5, 1, 9, 3, 7, 2)]
    paginator = Offset(3, by_id, snapshot=True)
    read = [i for page, _ in walk(listed(rows), paginator) for i in page]
    assert read == [5, 1, 9, 3, 7, 2]
    assert (paginator.order, paginator.settled) == ("unordered", True)


def test_a_list_of_its_own_order_that_moves_is_read_again_and_marked_unsettled() -> None:
    rows = [{"id": n} for n in (5, 1, 9, 3, 7, 2, 8)]

    def move(live: list[dict], params: dict) -> None:
        if params["skip"] > 0:  # the row read first moves behind the read position each time
            live.append(live.pop(0))

    api = listed(rows, move)
    paginator = Offset(3, by_id, snapshot=True)
    read = [i for page, _ in walk(api, paginator) for i in page]
    assert sorted(read) == [1, 2, 3, 5, 7, 8, 9] and len(read) == 7
    assert not paginator.settled  # every pass saw the list move: no delete may be marked
    assert sum(1 for p in api.params if p["skip"] == 0) == 1 + MAX_PASSES


def test_a_closed_window_that_keeps_moving_is_refused_not_committed() -> None:
    rows = [{"id": n} for n in (5, 1, 9, 3, 7, 2, 8)]
    api = listed(rows, lambda live, params: params["skip"] and live.append(live.pop(0)))
    with pytest.raises(UnexpectedAnswer, match="the list moved under each of 3 reads in an order"):
        walk(api, Offset(3, by_id))


def test_offset_refuses_the_same_page_at_the_next_skip() -> None:
    same = {"data": ids("1", "2"), "hasMore": True}
    api = FakeApi.pages(same, same)
    with pytest.raises(UnexpectedAnswer) as refused:
        walk(api, Offset(2, by_id))
    assert "but the page at skip=1 repeats the page before it: the API ignored skip" in str(
        refused.value
    )
    assert len(api.calls) == 2


def test_offset_refuses_has_more_with_an_empty_page() -> None:
    api = FakeApi.pages({"data": [], "hasMore": True})
    with pytest.raises(UnexpectedAnswer, match=r"hasMore is true with an empty page at skip=0$"):
        walk(api, Offset(2, by_id))


# --- page numbers (Voucherify loyalty campaigns) --------------------------------------------------


def test_page_numbers_stop_at_a_short_page_or_the_total() -> None:
    api = FakeApi.pages(
        {"data": ids("c1", "c2"), "total": 4},
        {"data": ids("c3", "c4"), "total": 4},
    )
    assert walk(api, PageNumbers(2, cap=99)) == [(["c1", "c2"], None), (["c3", "c4"], None)]
    assert api.params == [{"limit": 2, "page": 1}, {"limit": 2, "page": 2}]


def test_page_numbers_without_a_total_stop_only_at_a_short_page() -> None:
    api = FakeApi.pages({"data": ids("c1", "c2")}, {"data": ids("c3")})
    assert walk(api, PageNumbers(2, cap=99)) == [(["c1", "c2"], None), (["c3"], None)]


def test_page_numbers_refuse_a_repeated_page_and_a_list_past_the_cap() -> None:
    same = {"data": ids("c1", "c2"), "total": 10}
    with pytest.raises(UnexpectedAnswer, match="page 2 repeats page 1: the API ignored `page`"):
        walk(FakeApi.pages(same, same), PageNumbers(2, cap=99))
    pages_ = [{"data": ids(f"c{n}a", f"c{n}b"), "total": 10} for n in range(3)]
    with pytest.raises(ApiError, match="more than 4 data; the API cannot page past page 2"):
        walk(FakeApi.pages(*pages_), PageNumbers(2, cap=2))


# --- updated_at keyset with tie groups (Voucherify customers) ---------------------------------


def customer(cid: str, second: int) -> dict:
    return {"id": cid, "updated_at": f"2025-01-01T00:00:{second:02d}.000Z"}


def keyset(after: str | None = None) -> UpdatedAtKeyset:
    return UpdatedAtKeyset(
        3, after, "2026-01-01T00:00:00.000Z", field="updated_at", noun="customer", page_cap=99
    )


def test_keyset_cursor_stops_before_the_group_a_page_ends_in() -> None:
    api = FakeApi.pages(
        {"data": [customer("a", 1), customer("b", 2), customer("c", 2)], "has_more": True},
        {"data": [customer("b", 2), customer("c", 2), customer("d", 3)], "has_more": True},
        {"data": [customer("e", 4)], "has_more": False},
    )
    read = walk(api, keyset())
    assert read == [
        (["a", "b", "c"], "2025-01-01T00:00:01.000Z"),  # b and c share the page's last instant
        (["b", "c", "d"], "2025-01-01T00:00:02.000Z"),
        (["e"], "2025-01-01T00:00:04.000Z"),
    ]
    base = {"order": "updated_at", "limit": 3, "updated_at[before]": "2026-01-01T00:00:00.000Z"}
    assert api.params == [
        base,
        {**base, "updated_at[after]": "2025-01-01T00:00:01.000Z"},
        {**base, "updated_at[after]": "2025-01-01T00:00:02.000Z"},
    ]


def test_a_tie_group_filling_a_page_is_read_by_page_number_last_page_first() -> None:
    tie = [customer(f"t{n}", 5) for n in range(7)]  # seven customers share one instant

    def answer(_: str, params: dict) -> dict:
        if "page" in params:
            start = (params["page"] - 1) * 3
            return {"data": tie[start : start + 3], "total": len(tie), "has_more": True}
        if params.get("updated_at[after]") == "2025-01-01T00:00:05.000Z":
            return {"data": [customer("z", 9)], "has_more": False}
        return {"data": tie[:3], "has_more": True}

    api = FakeApi(answer)
    read = walk(api, keyset())
    assert read == [
        (["t6"], None),
        (["t3", "t4", "t5"], None),
        (["t0", "t1", "t2"], "2025-01-01T00:00:05.000Z"),  # page 1 last: the group is whole
        (["z"], "2025-01-01T00:00:09.000Z"),
    ]
    window = {
        "order": "updated_at", "limit": 3,
        "updated_at[after]": "2025-01-01T00:00:04.999Z",
        "updated_at[before]": "2025-01-01T00:00:05.001Z",
    }  # fmt: skip
    assert [p.get("page") for p in api.params] == [None, 1, 3, 2, None]
    assert api.params[1:4] == [{**window, "page": n} for n in (1, 3, 2)]


def test_a_tie_group_that_shrank_while_read_rereads_page_one() -> None:
    tie = [customer(f"t{n}", 5) for n in range(6)]
    answers = iter([
        {"data": tie[:3], "has_more": True},
        {"data": tie[:3], "total": 6},  # page 1
        {"data": tie[4:6], "total": 5},  # page 2: t3 left the group meanwhile, t4 slid back
        {"data": [tie[0], tie[1], tie[2]], "total": 5},  # page 1 again
        {"data": [], "has_more": False},
    ])  # fmt: skip
    api = FakeApi(lambda path, params: next(answers))
    assert [cursor for _, cursor in walk(api, keyset())] == [None, "2025-01-01T00:00:05.000Z"]
    assert [p.get("page") for p in api.params] == [None, 1, 2, 1, None]


def test_a_keyset_the_api_ignores_is_refused_at_the_second_page() -> None:
    first = {"data": [customer("a", 1), customer("b", 2), customer("c", 3)], "has_more": True}
    api = FakeApi.pages(first, first)
    with pytest.raises(UnexpectedAnswer) as refused:
        walk(api, keyset())
    assert str(refused.value).endswith(
        "but the page after updated_at 2025-01-01T00:00:02.000Z starts at"
        " 2025-01-01T00:00:01.000Z, not after it: the API ignored the cursor; stopped so as not"
        " to loop"
    )


def test_a_tie_group_the_api_pages_wrongly_is_refused() -> None:
    tie = [customer(f"t{n}", 5) for n in range(3)]
    api = FakeApi(lambda path, params: {"data": tie, "total": 6, "has_more": True})
    with pytest.raises(UnexpectedAnswer, match="page 2 of the customers sharing updated_at"):
        walk(api, keyset())
    assert len(api.calls) == 3


def _within(value: str, low: str | None, high: str, after: str, before: str) -> bool:
    above = low is None or value > low or (after == "inclusive" and value == low)
    return above and (value < high or (before == "inclusive" and value == high))


def customers_api(rows: list[dict], *, after="exclusive", before="exclusive", total="matching",
                  has_more=True, extra: int = 0) -> FakeApi:  # fmt: skip
    """GET /v1/customers over `rows` as each reading answers it (`extra`: customers outside)."""

    def answer(_: str, params: dict) -> dict:
        low = params.get("updated_at[after]")
        high = params["updated_at[before]"]
        inside = [r for r in rows if _within(r["updated_at"], low, high, after, before)]
        inside.sort(key=lambda r: (r["updated_at"], r["id"]))
        start = (params.get("page", 1) - 1) * params["limit"]
        page = inside[start : start + params["limit"]]
        body = {"data": page, "total": len(rows) + extra if total == "all" else len(inside)}
        if has_more:
            body["has_more"] = start + len(page) < len(inside)
        return body

    return FakeApi(answer)


def read_ids(api: FakeApi, after: str | None = None) -> list[str]:
    return [name for names, _ in walk(api, keyset(after)) for name in names]


READINGS = [
    {},
    {"has_more": False},
    {"after": "inclusive"},
    {"before": "inclusive"},
    {"total": "all", "extra": 1000},
    {"after": "inclusive", "before": "inclusive", "total": "all", "has_more": False, "extra": 9},
]


@pytest.mark.parametrize("reading", READINGS, ids=lambda r: ",".join(map(str, r.items())) or "-")
def test_the_keyset_reads_ties_larger_than_a_page_whole_under_every_reading(reading) -> None:
    rows = [customer(f"a{n}", 1) for n in range(2)] + [customer(f"t{n:02d}", 5) for n in range(8)]
    rows += [customer("z", 9)]
    api = customers_api(rows, **reading)
    read = read_ids(api)
    assert sorted(set(read)) == sorted(r["id"] for r in rows)
    # From a cursor at the tie group's instant, none of the group is read again.
    assert read_ids(customers_api(rows, **reading), "2025-01-01T00:00:05.000Z") == ["z"]


def test_an_inclusive_after_is_learned_once_and_the_bound_moved_a_tick() -> None:
    rows = [customer("a", 1), customer("b", 2), customer("c", 3)]
    api = customers_api(rows, after="inclusive")
    assert read_ids(api, "2025-01-01T00:00:01.000Z") == ["b", "c"]
    afters = [p.get("updated_at[after]") for p in api.params]
    assert afters == ["2025-01-01T00:00:01.000Z", "2025-01-01T00:00:01.001Z"]


def test_a_customer_past_a_bound_is_refused_as_an_ignored_bound() -> None:
    api = FakeApi.pages({"data": [customer("a", 1), customer("late", 59)], "has_more": False})
    paginator = UpdatedAtKeyset(
        3, None, "2025-01-01T00:00:30.000Z", field="updated_at", noun="customer", page_cap=99
    )
    with pytest.raises(UnexpectedAnswer, match=r"holds 2025-01-01T00:00:59\.000Z: the API ignored"):
        walk(api, paginator)


def test_a_total_counting_every_customer_finds_the_group_end_by_bisection() -> None:
    rows = [customer(f"t{n:02d}", 5) for n in range(7)]  # three pages of three, the last short
    api = customers_api(rows, total="all", extra=100)  # total 107: "page 36" of the group
    assert sorted(set(read_ids(api))) == sorted(r["id"] for r in rows)
    pages_read = [p.get("page") for p in api.params]
    assert pages_read[:2] == [None, 1] and pages_read[-2:] == [1, None]  # page 1 read again
    assert 3 in pages_read and 36 in pages_read


def test_a_tie_group_without_its_total_is_read_by_finding_its_last_page() -> None:
    tie = [customer(f"t{n}", 5) for n in range(5)]

    def answer(_: str, params: dict) -> dict:
        if "page" not in params:
            return {"data": tie[:3] if "updated_at[after]" not in params else []}
        start = (params["page"] - 1) * 3
        return {"data": tie[start : start + 3]}

    read = [name for names, _ in walk(FakeApi(answer), keyset()) for name in names]
    assert sorted(set(read)) == [f"t{n}" for n in range(5)]


@pytest.mark.parametrize("value", ["yesterday", 1700000000, None])
def test_a_record_whose_cursor_is_no_instant_is_handed_on_and_moves_no_cursor(value) -> None:
    api = FakeApi.pages({"data": [customer("a", 1), {"id": "b", "updated_at": value}]})
    assert walk(api, keyset()) == [(["a", "b"], "2025-01-01T00:00:01.000Z")]


def test_a_full_page_of_records_without_an_instant_is_refused() -> None:
    api = FakeApi.pages({"data": [{"id": n, "updated_at": "?"} for n in "abc"], "has_more": True})
    with pytest.raises(UnexpectedAnswer, match="no customer of a full page has an ISO 8601"):
        walk(api, keyset())


# --- the rest ---------------------------------------------------------------------------------


def test_paths_are_filled_with_url_encoded_values() -> None:
    assert path("/v1/cards/{code}/x", code="a%b+c@d/é") == "/v1/cards/a%25b%2Bc%40d%2F%C3%A9/x"


def test_a_stream_that_reads_no_json_list_has_no_listing() -> None:
    with pytest.raises(ValueError, match="things does not read a JSON list"):
        Listing.of(FakeApi.pages(), stream(records_key=None))
