"""Fault injection, request statistics, run-time config and reset, seen through real HTTP."""

from __future__ import annotations

import asyncio
import time

import pytest
import requests
from promosync.sandbox.asgi import build_app

from tests.contract import assert_voucherify_schema


def _faults(admin, **rates) -> None:
    response = admin.put("/_sandbox/faults", json=rates)
    assert response.status_code == 200, response.text


def test_injected_server_errors_carry_the_platform_error_body(voucherify, voucherify_admin) -> None:
    _faults(voucherify_admin, server_error=1.0)
    statuses = set()
    for _ in range(3):
        response = voucherify.get("/v1/customers")
        statuses.add(response.status_code)
        assert_voucherify_schema("Error", response.json())
        assert response.json()["code"] == response.status_code
        assert response.json()["message"]
    assert statuses == {500, 502, 503}
    assert voucherify_admin.get("/_sandbox/stats").status_code == 200  # admin is never faulted


def test_injected_429_asks_the_client_to_wait(voucherify, voucherify_admin) -> None:
    _faults(voucherify_admin, rate_limited=1.0, retry_after_seconds=7)
    response = voucherify.get("/v1/customers")
    assert response.status_code == 429
    # The spec documents only the 200 of GET /v1/customers: check the body against Error itself.
    assert_voucherify_schema("Error", response.json())
    assert response.headers["Retry-After"] == "7"


def test_dropped_connections_and_truncated_bodies_break_the_client_read(
    voucherify, voucherify_admin
) -> None:
    _faults(voucherify_admin, dropped_connection=1.0)
    with pytest.raises(requests.ConnectionError, match="without response"):
        voucherify.get("/v1/customers")
    _faults(voucherify_admin, truncated_body=1.0)
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        voucherify.get("/v1/customers", params={"limit": 100})
    _faults(voucherify_admin)
    assert voucherify.get("/v1/customers").status_code == 200  # the server survived both


def test_added_latency_delays_every_api_answer(talon_one_management, talon_one_admin) -> None:
    _faults(talon_one_admin, latency_ms=300)
    started = time.monotonic()
    assert talon_one_management.get("/v1/loyalty_programs").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_fault_rates_are_honoured_and_counted(voucherify, voucherify_admin) -> None:
    _faults(voucherify_admin, server_error=0.2, rate_limited=0.2)
    seen = {"ok": 0, "5xx": 0, "429": 0}
    for _ in range(200):
        status = voucherify.get("/v1/customers", params={"limit": 1}).status_code
        seen["ok" if status == 200 else "429" if status == 429 else "5xx"] += 1
    stats = voucherify_admin.get("/_sandbox/stats").json()
    assert stats["faults_injected"]["server_error"] == seen["5xx"]
    assert stats["faults_injected"]["rate_limited"] == seen["429"]
    assert 20 <= seen["5xx"] <= 60 and 20 <= seen["429"] <= 60  # 40 expected of each


def test_bad_fault_config_is_refused_with_the_reason(voucherify_admin) -> None:
    response = voucherify_admin.put("/_sandbox/faults", json={"server_eror": 0.5})
    assert response.status_code == 400
    assert "server_eror" in response.json()["error"]
    response = voucherify_admin.put(
        "/_sandbox/faults", json={"server_error": 0.7, "rate_limited": 0.7}
    )
    assert response.status_code == 400
    assert "at most 1" in response.json()["error"]


def test_stats_count_requests_by_route_and_status(voucherify, voucherify_admin) -> None:
    voucherify.get("/v1/customers")
    voucherify.get("/v1/customers")
    voucherify.get("/v1/customers/does-not-exist")
    routes = voucherify_admin.get("/_sandbox/stats").json()["routes"]
    counts = {(r["route"], r["status"]): r["count"] for r in routes}
    assert counts[("/v1/customers", 200)] == 2
    assert counts[("/v1/customers/{customerId}", 404)] == 1


def test_config_changes_at_run_time_and_rejects_unknown_settings(voucherify_admin) -> None:
    response = voucherify_admin.put("/_sandbox/config", json={"async_action_seconds": 2.5})
    assert response.json()["async_action_seconds"] == 2.5
    response = voucherify_admin.put("/_sandbox/config", json={"asnyc_action_seconds": 2.5})
    assert response.status_code == 400
    assert "asnyc_action_seconds" in response.json()["error"]


def test_reset_restores_the_seeded_data_and_zeroes_stats(voucherify, voucherify_admin) -> None:
    before = voucherify_admin.get("/_sandbox/truth/customers").json()
    voucherify_admin.post("/_sandbox/mutate", json={"delete_customers": 5}).raise_for_status()
    assert len(voucherify_admin.get("/_sandbox/truth/customers").json()) == len(before) - 5
    voucherify_admin.post("/_sandbox/reset").raise_for_status()
    assert voucherify_admin.get("/_sandbox/truth/customers").json() == before
    assert voucherify_admin.get("/_sandbox/stats").json()["total"] == 0


def test_same_seed_same_data_other_seed_other_data(voucherify_admin) -> None:
    first = voucherify_admin.get("/_sandbox/truth/customers").json()
    voucherify_admin.post("/_sandbox/reset", json={"seed": 8}).raise_for_status()
    other = voucherify_admin.get("/_sandbox/truth/customers").json()
    voucherify_admin.post("/_sandbox/reset", json={"seed": 7}).raise_for_status()
    assert voucherify_admin.get("/_sandbox/truth/customers").json() == first
    assert {c["id"] for c in other}.isdisjoint({c["id"] for c in first})


def test_admin_api_refuses_non_loopback_clients(sandbox) -> None:
    app = build_app(sandbox.voucherify)
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/_sandbox/truth/customers",
        "raw_path": b"/_sandbox/truth/customers",
        "query_string": b"",
        "headers": [],
        "client": ("203.0.113.9", 50000),
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 403
