"""Paging semantics: page cap, keyset walks over ties, strict date filters, activity and ledgers."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.contract import assert_conforms


def _shift(instant: str, milliseconds: int) -> str:
    moment = datetime.fromisoformat(instant.replace("Z", "+00:00")) + timedelta(
        milliseconds=milliseconds
    )
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _get(session, **params):
    # Validating a customer costs ~20 ms, so walks validate a few pages (see _validated), not all.
    response = session.get("/v1/customers", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _validated(session, **params):
    return assert_conforms("voucherify", session.get("/v1/customers", params=params)).json()


def test_page_numbers_cover_everything_up_to_the_cap(voucherify):
    pages = [_get(voucherify, limit=100, page=n) for n in (1, 2, 3)] + [
        _validated(voucherify, limit=100, page=4)
    ]
    ids = [c["id"] for page in pages for c in page["customers"]]
    assert len(ids) == len(set(ids)) == 300
    assert [p["has_more"] for p in pages] == [True, True, False, False]
    created = [c["created_at"] for page in pages for c in page["customers"]]
    assert created == sorted(created, reverse=True)  # default order: newest first
    assert _validated(voucherify, limit=1, page=99)["customers"]
    assert voucherify.get("/v1/customers", params={"page": 100}).status_code == 400


def _tie_safe_walk(session, limit: int) -> list[str]:
    """order=updated_at keyset walk that finishes every tie group by page number."""
    seen, cursor = [], None
    while True:
        params = {"order": "updated_at", "limit": limit}
        if cursor:
            params["updated_at[after]"] = cursor
        rows = _get(session, **params)["customers"]
        if not rows:
            return seen
        last = rows[-1]["updated_at"]
        seen += [r["id"] for r in rows if r["updated_at"] < last]
        window = {"updated_at[after]": _shift(last, -1), "updated_at[before]": _shift(last, 1)}
        page = 1
        while True:
            tied = _get(session, order="updated_at", limit=limit, page=page, **window)
            seen += [r["id"] for r in tied["customers"]]
            if not tied["has_more"]:
                break
            page += 1
        cursor = last


def test_updated_at_keyset_walks_everything_exactly_once_through_a_tie_storm(
    voucherify, voucherify_admin
):
    storm = voucherify_admin.post("/_sandbox/mutate", json={"tie_storm": {"count": 40}}).json()[
        "tie_storm"
    ]
    truth = [c["id"] for c in voucherify_admin.get("/_sandbox/truth/customers").json()]
    seen = _tie_safe_walk(voucherify, limit=15)
    assert sorted(seen) == sorted(truth) and len(seen) == len(set(seen))
    window = {
        "updated_at[after]": _shift(storm["updated_at"], -1),
        "updated_at[before]": _shift(storm["updated_at"], 1),
    }
    tied = _validated(voucherify, limit=100, **window)
    assert tied["total"] == 40 and {c["updated_at"] for c in tied["customers"]} == {
        storm["updated_at"]
    }
    # The naive keyset (strict `after` the last row) loses the rest of the storm at a page edge.
    naive, cursor = [], None
    while True:
        params = {
            "order": "updated_at",
            "limit": 15,
            **({"updated_at[after]": cursor} if cursor else {}),
        }
        rows = _get(voucherify, **params)["customers"]
        if not rows:
            break
        naive += [r["id"] for r in rows]
        cursor = rows[-1]["updated_at"]
    assert len(naive) < len(truth)


def test_starting_after_reads_before_without_order_and_after_with_one(voucherify, voucherify_admin):
    truth = voucherify_admin.get("/_sandbox/truth/customers").json()  # oldest first
    pivot = truth[150]["created_at"]
    before = _get(voucherify, limit=100, starting_after=pivot)
    assert [c["id"] for c in before["customers"]] == [c["id"] for c in truth[:150]][::-1][:100]
    assert before["total"] == 150 and before["has_more"] is True
    after = _get(voucherify, limit=100, order="created_at", starting_after=pivot)
    assert [c["id"] for c in after["customers"]] == [c["id"] for c in truth[151:251]]
    by_update = sorted(truth, key=lambda c: (c["updated_at"], c["id"]))
    cut = by_update[100]["updated_at"]
    later = _validated(voucherify, limit=5, order="updated_at", starting_after=cut)["customers"]
    assert later and all(c["updated_at"] > cut for c in later)
    assert [c["updated_at"] for c in later] == sorted(c["updated_at"] for c in later)


def test_date_filters_are_strict_and_total_counts_every_match(voucherify, voucherify_admin):
    truth = voucherify_admin.get("/_sandbox/truth/customers").json()
    low, high = truth[20]["created_at"], truth[80]["created_at"]
    window = _validated(
        voucherify, limit=10, **{"created_at[after]": low, "created_at[before]": high}
    )
    expected = [c for c in truth if low < c["created_at"] < high]
    assert window["total"] == len(expected) and window["has_more"] is True
    assert truth[20]["id"] not in {c["id"] for c in window["customers"]}
    mixed = _get(voucherify, limit=100, order="-updated_at", **{"created_at[after]": low})
    assert mixed["total"] == sum(c["created_at"] > low for c in truth)
    assert [c["updated_at"] for c in mixed["customers"]] == sorted(
        (c["updated_at"] for c in mixed["customers"]), reverse=True
    )
    with_email = next(c for c in truth if c["email"])
    assert [c["id"] for c in _get(voucherify, email=with_email["email"])["customers"]] == [
        with_email["id"]
    ]
    city = next(c["address"]["city"] for c in truth if c["address"])
    assert _get(voucherify, city=city)["total"] == sum(
        1 for c in truth if (c["address"] or {}).get("city") == city
    )


def test_activity_pages_by_more_starting_after(voucherify, voucherify_admin):
    events = voucherify_admin.get("/_sandbox/truth/activities").json()
    counts: dict[str, int] = {}
    for event in events:
        counts[event["customer_id"]] = counts.get(event["customer_id"], 0) + 1
    customer = max(counts, key=counts.get)
    assert counts[customer] > 25 and len(counts) < 300  # skewed: some customers have none
    walked, params = [], {"limit": 7}
    while True:
        page = assert_conforms(
            "voucherify", voucherify.get(f"/v1/customers/{customer}/activity", params=params)
        ).json()
        walked += page["data"]
        if not page["has_more"]:
            break
        params["starting_after_id"] = page["more_starting_after"]
    mine = [e for e in events if e["customer_id"] == customer]
    assert [e["id"] for e in walked] == [e["id"] for e in mine][::-1]
    assert walked[-1]["type"] == "customer.created"
    actions = voucherify.get(
        f"/v1/customers/{customer}/activity", params={"limit": 100, "category": "EFFECT"}
    ).json()
    assert actions["data"] and all(
        not e["type"].startswith("customer.order") for e in actions["data"]
    )


def test_loyalty_transactions_page_by_starting_after_id(voucherify, voucherify_admin):
    truth = voucherify_admin.get("/_sandbox/truth/loyalty_transactions").json()
    campaign = truth[0]["campaign_id"]
    expected = [t["id"] for t in truth if t["campaign_id"] == campaign]
    for order, ordered in (("-id", expected[::-1]), ("id", expected)):
        walked, params = [], {"limit": 9, "order": order}
        while True:
            page = voucherify.get(f"/v1/loyalties/{campaign}/transactions", params=params)
            body = assert_conforms("voucherify", page).json()
            walked += [t["id"] for t in body["data"]]
            if not body["has_more"]:
                break
            params["starting_after_id"] = body["more_starting_after"]
        assert walked == ordered
    member = truth[0]["member_id"]
    mine = [t for t in truth if t["member_id"] == member]
    page = voucherify.get(
        f"/v1/loyalties/members/{member}/transactions", params={"limit": 100}
    ).json()
    assert [t["id"] for t in page["data"]] == [t["id"] for t in mine][::-1]
    balances = [t["details"]["balance"]["balance"] for t in mine]
    assert all(b >= 0 for b in balances)
