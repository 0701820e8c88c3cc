"""Offline: which path a customers read takes, and export rows read as the list's customers."""

from __future__ import annotations

import pytest
from promosync.connectors.voucherify import exports
from promosync.connectors.voucherify.customer_exports import choose_path
from promosync.connectors.voucherify.export_records import customer_record


@pytest.mark.parametrize(
    ("first_page", "total", "mode"),
    [
        (37, 37, "list"),  # the first page held the whole window
        (100, 300, "list"),  # three pages are cheaper than an export
        (100, 100_000, "export"),  # a thousand pages are not
        (100, None, "export"),  # no total: the export's cost is the bounded one
        (100, 12, "export"),  # a total below what one page holds says nothing
    ],
)
def test_the_cheaper_path_is_chosen(first_page, total, mode) -> None:
    choice = choose_path(first_page, total, 100)
    assert choice.mode == mode
    if total == 100_000:
        assert (choice.list_requests, choice.other_requests) == (1000, 1000)
        assert choice.export_requests < 10


KNOWN = {
    "id": "cust_1",
    "name": "Ada",
    "email": "ada@example.com",
    "address": {"city": "Kraków", "state": None, "country": "PL"},
    "metadata": {"code": "007", "visits": 7, "outside_schema": "kept"},
    "loyalty": {"points": 5, "referred_customers": 0, "campaigns": {"Gold": {"points": 5}}},
    "summary": {"orders": {"total_amount": 100}, "redemptions": {"gift": {"redeemed_amount": 1}}},
    "object": "customer",
}


def test_an_export_row_keeps_what_it_does_not_carry_and_the_known_types() -> None:
    cells = {
        "id": "cust_1", "name": "Ada L.", "email": "", "address_city": "Kraków",
        "address_country": "PL", "metadata.code": "007", "metadata.visits": "8",
        "loyalty_points": "5", "orders_total_amount": "250",
    }  # fmt: skip
    record = customer_record(cells, KNOWN)
    assert record["name"] == "Ada L." and record["email"] is None  # changed, cleared
    assert record["metadata"] == {"code": "007", "visits": 8, "outside_schema": "kept"}
    assert record["loyalty"]["campaigns"] == {"Gold": {"points": 5}}
    assert record["loyalty"]["points"] == 5 and record["summary"]["orders"]["total_amount"] == 250
    assert record["summary"]["redemptions"]["gift"] == {"redeemed_amount": 1}
    assert record["object"] == "customer"
    assert KNOWN["metadata"]["visits"] == 7  # the known record is not changed in place


def test_a_new_customer_from_an_export_has_the_lists_shape() -> None:
    cells = {"id": "cust_2", "name": "", "address_city": "", "orders_total_count": "3"}
    record = customer_record(cells, None)
    assert record == {
        "id": "cust_2",
        "name": None,
        "address": None,
        "summary": {"orders": {"total_count": 3}},
        "metadata": {},
    }


@pytest.mark.parametrize(
    ("header", "field"),
    [("Source ID", "source_id"), ("Address Line 1", "address_line_1"), ("id", "id"),
     ("metadata.tier", "metadata.tier"), ("Orders Last Order Date", "orders_last_order_date")],
)  # fmt: skip
def test_headers_as_titles_or_field_names_name_the_same_field(header, field) -> None:
    assert exports.field_name(header) == field


class _Client:
    download_origins = frozenset({"https://download.voucherify.io", "http://127.0.0.1:9"})


def test_a_file_on_a_foreign_host_is_refused_before_any_request() -> None:
    trusted = {"id": "exp_1", "result": {"url": "https://download.voucherify.io/v1/exports/e?t=1"}}
    assert exports.file_urls(_Client(), trusted) == [trusted["result"]["url"]]
    split = {"id": "exp_2", "result": {"url": "http://127.0.0.1:9/a", "urls": [
        "http://127.0.0.1:9/a", "https://download.voucherify.io.evil.example/b",
    ]}}  # fmt: skip
    with pytest.raises(exports.ExportFailed, match="not a Voucherify download host"):
        exports.file_urls(_Client(), split)
