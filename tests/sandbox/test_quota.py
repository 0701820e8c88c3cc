"""Voucherify's plans, hourly and cycle quotas, compressed clocks and the stats that show them."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from promosync.sandbox.settings import SandboxSettings
from promosync.sandbox.voucherify.quota import VoucherifyQuota, rate_headers

from tests.conftest import ApiSession
from tests.contract import assert_conforms
from tests.sandbox.test_voucherify_contract import assert_error

THIRTY_DAYS = 30 * 86_400


def configure(admin: ApiSession, **settings: Any) -> dict[str, Any]:
    response = admin.put("/_sandbox/config", json=settings)
    assert response.status_code == 200, response.text
    return response.json()


def quota(admin: ApiSession) -> dict[str, Any]:
    return admin.get("/_sandbox/stats").json()["quota"]


def spend(admin: ApiSession) -> dict[str, Any]:
    """The current cycle of the sandbox's app id."""
    return quota(admin)["by_app_id"]["sandbox-app-id"]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@pytest.mark.parametrize(
    ("plan", "limits"),
    [
        ("business", (100, 0, 100_000)),
        ("organization", (2000, 0, 300_000)),
        ("sandbox", (0, 100, 0)),
        ("unlimited", (0, 0, 0)),
        ("custom", (2000, 0, 0)),
    ],
)
def test_plans_carry_the_documented_limits(voucherify, voucherify_admin, plan, limits):
    # tests/conftest.py turns the minute budget off explicitly: back to the plan's.
    configure(voucherify_admin, voucherify_plan=plan, voucherify_requests_per_minute=None)
    shown = quota(voucherify_admin)
    assert shown["plan"] == plan
    assert (shown["limits"]["per_minute"], shown["limits"]["per_hour"]) == limits[:2]
    assert shown["limits"]["per_cycle"] == limits[2]
    response = assert_conforms("voucherify", voucherify.get("/v1/customers", params={"limit": 1}))
    period = limits[0] or limits[1]
    if period:
        assert response.headers["X-Rate-Limit-Limit"] == str(period)
        assert response.headers["X-Rate-Limit-Remaining"] == str(period - 1)
        window = 60 if limits[0] else 3600
        assert time.time() < int(response.headers["X-Rate-Limit-Retry"]) <= time.time() + window + 1
    else:
        assert "X-Rate-Limit-Limit" not in response.headers
    assert "X-Rate-Limit-Type" not in response.headers and "Retry-After" not in response.headers


def test_explicit_numbers_override_the_plan(voucherify, voucherify_admin):
    configure(
        voucherify_admin,
        voucherify_plan="business",
        voucherify_requests_per_minute=3,
        voucherify_requests_per_cycle=1000,
    )
    assert quota(voucherify_admin)["limits"] == {
        "per_minute": 3, "per_hour": 0, "per_cycle": 1000, "bulk_per_minute": 0,
    }  # fmt: skip
    assert [voucherify.get("/v1/loyalties").status_code for _ in range(4)] == [200] * 3 + [429]
    configure(voucherify_admin, voucherify_requests_per_minute=0)
    assert "X-Rate-Limit-Limit" not in voucherify.get("/v1/loyalties").headers


def test_the_cycle_blocks_until_it_resets_then_serves_again(voucherify, voucherify_admin):
    configure(
        voucherify_admin,
        voucherify_requests_per_cycle=5,
        voucherify_cycle_seconds=3,
        voucherify_cycle_start=now_iso(),
    )
    for _ in range(5):
        assert voucherify.get("/v1/customers", params={"limit": 1}).status_code == 200
    requests.get(voucherify.base_url + "/v1/customers", timeout=10)  # no key: not charged
    blocked = voucherify.get("/v1/customers")
    body = assert_error(blocked, 429)
    assert "billing cycle" in body["message"]
    headers = blocked.headers
    assert headers["X-Rate-Limit-Type"] == "api_calls_cycle"
    assert headers["X-Rate-Limit-Limit"] == "5" and headers["X-Rate-Limit-Remaining"] == "0"
    assert 1 <= int(headers["Retry-After"]) <= 3
    cycle = spend(voucherify_admin)["cycle"]
    assert (cycle["count"], cycle["limit"], cycle["remaining"]) == (5, 5, 0)
    end = datetime.fromisoformat(cycle["end"]).timestamp()
    assert int(headers["X-Rate-Limit-Retry"]) == math.ceil(end)
    assert_error(voucherify.post("/v1/customers/bulk/async", json=[{"source_id": "x"}]), 429)
    assert spend(voucherify_admin)["cycle"]["blocked"]["api_calls_cycle"] == 2
    time.sleep(max(0.0, int(headers["X-Rate-Limit-Retry"]) - time.time()) + 0.05)
    assert assert_conforms("voucherify", voucherify.get("/v1/loyalties")).status_code == 200
    seen = spend(voucherify_admin)
    assert seen["cycle"]["count"] == 1 and seen["cycle"]["number"] >= 1
    past = seen["past_cycles"][-1]
    assert past["count"] == 5 and past["blocked"]["api_calls_cycle"] == 2
    assert past["end"] <= seen["cycle"]["start"]


def test_the_sandbox_project_announces_its_hourly_budget(voucherify, voucherify_admin):
    # An hour compressed into ten seconds: a 30-day cycle lasting 7,200 seconds.
    configure(
        voucherify_admin,
        voucherify_plan="sandbox",
        voucherify_requests_per_minute=None,
        voucherify_cycle_seconds=THIRTY_DAYS / 360,
        voucherify_compress_windows=True,
    )
    remaining = []
    for _ in range(100):
        response = voucherify.get("/v1/async-actions")
        assert response.headers["X-Rate-Limit-Limit"] == "100"
        remaining.append(int(response.headers["X-Rate-Limit-Remaining"]))
    assert remaining == list(range(99, -1, -1))
    refused = voucherify.get("/v1/async-actions")
    assert_error(refused, 429)
    assert refused.headers["X-Rate-Limit-Type"] == "api_calls"
    assert refused.headers["X-Rate-Limit-Limit"] == "100"
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    assert spend(voucherify_admin)["cycle"]["blocked"] == {
        "api_calls": 1, "bulk_api_calls": 0, "api_calls_cycle": 0,
    }  # fmt: skip
    assert quota(voucherify_admin)["window_scale"] == 360


def test_a_compressed_hour_frees_up_again(voucherify, voucherify_admin):
    # One hour is one second: a 30-day cycle lasting 720 seconds.
    configure(
        voucherify_admin,
        voucherify_requests_per_minute=0,
        voucherify_requests_per_hour=3,
        voucherify_cycle_seconds=THIRTY_DAYS / 3600,
        voucherify_compress_windows=True,
    )
    statuses = [voucherify.get("/v1/loyalties").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    time.sleep(1.05)
    assert voucherify.get("/v1/loyalties").status_code == 200


def test_bulk_calls_have_a_budget_of_their_own(voucherify, voucherify_admin):
    configure(voucherify_admin, voucherify_bulk_requests_per_minute=1)
    assert voucherify.post("/v1/customers/bulk/async", json=[{"source_id": "a"}]).status_code == 202
    refused = voucherify.post(
        "/v1/customers/metadata/async", json={"source_ids": ["a"], "metadata": {}}
    )
    assert_error(refused, 429)
    assert refused.headers["X-Rate-Limit-Type"] == "bulk_api_calls"
    assert voucherify.get("/v1/loyalties").status_code == 200
    cycle = spend(voucherify_admin)["cycle"]
    assert cycle["count"] == 2 and cycle["blocked"]["bulk_api_calls"] == 1


def test_bad_quota_settings_are_refused_and_change_nothing(voucherify_admin):
    before = voucherify_admin.get("/_sandbox/config").json()
    for change, fragment in (
        ({"voucherify_plan": "gold"}, "one of custom, business"),
        ({"voucherify_requests_per_cycle": -1}, "at least 0"),
        ({"voucherify_requests_per_hour": "100"}, "must be int"),
        ({"voucherify_cycle_seconds": 0}, "more than 0"),
        ({"voucherify_cycle_start": "yesterday"}, "ISO 8601 instant"),
        ({"voucherify_compress_windows": 1}, "must be bool"),
        ({"voucherify_plan": "business", "voucherify_customers_has_more": "maybe"}, "present"),
    ):
        response = voucherify_admin.put("/_sandbox/config", json=change)
        assert response.status_code == 400 and fragment in response.json()["error"], change
    assert voucherify_admin.get("/_sandbox/config").json() == before


def test_reset_brings_back_the_launch_settings_and_a_fresh_cycle(voucherify, voucherify_admin):
    launched = voucherify_admin.get("/_sandbox/config").json()
    configure(voucherify_admin, voucherify_plan="sandbox", voucherify_customers_total="all")
    voucherify.get("/v1/loyalties")
    assert spend(voucherify_admin)["cycle"]["count"] == 1
    voucherify_admin.post("/_sandbox/reset", json={"customers": 20}).raise_for_status()
    assert voucherify_admin.get("/_sandbox/config").json() == {**launched, "customers": 20}
    assert spend(voucherify_admin)["cycle"]["count"] == 0


def test_the_charge_interface_other_hosts_use():
    """`VoucherifyQuota.charge` on a clock of its own, as a download host would call it."""
    settings = SandboxSettings(
        voucherify_plan="business", voucherify_requests_per_cycle=2, voucherify_cycle_seconds=10
    )
    limits = VoucherifyQuota(settings, now=1000.0)
    first = limits.charge("app", 1000.0)
    assert first.allowed and rate_headers(first)["X-Rate-Limit-Remaining"] == "99"
    assert limits.charge("app", 1001.0).allowed
    refused = limits.charge("app", 1009.5)
    assert not refused.allowed and refused.kind == "api_calls_cycle"
    assert rate_headers(refused)["Retry-After"] == "1"
    assert limits.charge("other-app", 1009.5).allowed  # each app id has its budgets
    assert limits.charge("app", 1010.0).allowed  # the next cycle
    shown = limits.public(["app"], 1010.0)["by_app_id"]["app"]
    assert shown["cycle"]["number"] == 1 and shown["cycle"]["count"] == 1
    assert [c["count"] for c in shown["past_cycles"]] == [2]


def test_a_cycle_changed_at_run_time_starts_afresh_at_once(voucherify, voucherify_admin):
    for _ in range(3):
        assert voucherify.get("/v1/customers", params={"limit": 1}).status_code == 200
    assert spend(voucherify_admin)["cycle"]["count"] == 3  # a 30-day cycle, from the start
    configure(voucherify_admin, voucherify_cycle_seconds=600, voucherify_cycle_start=now_iso())
    assert voucherify.get("/v1/customers", params={"limit": 1}).status_code == 200
    seen = spend(voucherify_admin)
    assert seen["cycle"]["count"] == 1 and seen["past_cycles"][-1]["count"] == 3
