"""The paginators, offline: the pages handed out, the exact params of each call, the loop guard."""

from __future__ import annotations

import pytest
from promosync.connectors.http import ApiError, UnexpectedAnswer
from promosync.connectors.paginators import Offset, PageNumbers, StartingAfter, UpdatedAtKeyset
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


def test_offset_pages_by_skip_until_has_more_is_false() -> None:
    api = FakeApi.pages(
        {"data": ids("1", "2"), "hasMore": True},
        {"data": ids("3"), "hasMore": False},
    )
    assert walk(api, Offset(2), params={"endDate": "E"}) == [(["1", "2"], None), (["3"], None)]
    assert api.params == [
        {"endDate": "E", "pageSize": 2, "skip": 0},
        {"endDate": "E", "pageSize": 2, "skip": 2},
    ]


def test_ordered_offset_overlaps_one_record_and_steps_back_when_rows_were_deleted() -> None:
    rows = {n: {"id": n} for n in range(1, 8)}
    live = [1, 2, 3, 4, 5, 6, 7]

    def answer(_: str, params: dict) -> dict:
        if params["skip"] == 2 and 1 in live:  # after the first page, 1 and 2 are deleted
            live.remove(1)
            live.remove(2)
        page = live[params["skip"] : params["skip"] + params["pageSize"]]
        more = params["skip"] + len(page) < len(live)
        return {"data": [rows[n] for n in page], "hasMore": more}

    api = FakeApi(answer)
    read = [i for page, _ in walk(api, Offset(3, order=lambda r: r["id"])) for i in page]
    assert read == [1, 2, 3, 4, 5, 6, 7]  # nothing shifted out of sight, nothing twice
    # skip=2 overlaps record 3; its page no longer holds it, so the request steps back to 0.
    assert [p["skip"] for p in api.params] == [0, 2, 0, 2]


def test_offset_refuses_the_same_page_at_the_next_skip() -> None:
    same = {"data": ids("1", "2"), "hasMore": True}
    api = FakeApi.pages(same, same)
    with pytest.raises(UnexpectedAnswer) as refused:
        walk(api, Offset(2))
    assert "but the page at skip=2 repeats the page before it: the API ignored skip" in str(
        refused.value
    )
    assert len(api.calls) == 2


def test_offset_refuses_has_more_with_an_empty_page() -> None:
    api = FakeApi.pages({"data": [], "hasMore": True})
    with pytest.raises(UnexpectedAnswer, match=r"hasMore is true with an empty page at skip=0$"):
        walk(api, Offset(2))


# --- page numbers (Voucherify loyalty campaigns) --------------------------------------------------


def test_page_numbers_stop_at_a_short_page_or_the_total() -> None:
    api = FakeApi.pages(
        {"data": ids("c1", "c2"), "total": 4},
        {"data": ids("c3", "c4"), "total": 4},
    )
    assert walk(api, PageNumbers(2, cap=99)) == [(["c1", "c2"], None), (["c3", "c4"], None)]
    assert api.params == [{"limit": 2, "page": 1}, {"limit": 2, "page": 2}]


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


def test_a_tie_group_without_its_total_is_refused_not_crashed_on() -> None:
    tie = [customer(f"t{n}", 5) for n in range(3)]
    api = FakeApi(lambda path, params: {"data": tie, "has_more": True})
    with pytest.raises(UnexpectedAnswer, match=r"but its body has no total \(it has None\)$"):
        walk(api, keyset())


@pytest.mark.parametrize("value", ["yesterday", 1700000000, None])
def test_a_record_whose_cursor_is_no_instant_is_refused_with_its_id(value) -> None:
    api = FakeApi.pages({"data": [customer("a", 1), {"id": "b", "updated_at": value}]})
    with pytest.raises(UnexpectedAnswer, match=f"customer 'b' has updated_at {value!r}, not an"):
        walk(api, keyset())


# --- the rest ---------------------------------------------------------------------------------


def test_paths_are_filled_with_url_encoded_values() -> None:
    assert path("/v1/cards/{code}/x", code="a%b+c@d/é") == "/v1/cards/a%25b%2Bc%40d%2F%C3%A9/x"


def test_a_stream_that_reads_no_json_list_has_no_listing() -> None:
    with pytest.raises(ValueError, match="things does not read a JSON list"):
        Listing.of(FakeApi.pages(), stream(records_key=None))
