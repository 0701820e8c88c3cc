"""The export download host: keys and tokens, quota and statistics, faults; list and delete."""

from __future__ import annotations

import time

import pytest
import requests

from tests.sandbox.export_contract import (
    assert_export_answer,
    assert_export_error,
    assert_export_schema,
)
from tests.sandbox.exports_client import FAST, create, download, fetch, finish, get


def test_list_and_delete(voucherify, fast_exports):
    first = create(voucherify, {"exported_object": "customer"})
    second = create(voucherify, {"exported_object": "voucher_transactions"})
    listed = assert_export_answer(
        voucherify.get("/v1/exports", params={"limit": 1}), "ExportsListResponseBody"
    )
    assert listed["total"] == 2 and [e["id"] for e in listed["exports"]] == [second["id"]]
    oldest = voucherify.get("/v1/exports", params={"order": "created_at"}).json()["exports"]
    assert [e["id"] for e in oldest] == [first["id"], second["id"]]
    export, _ = finish(voucherify, first["id"])
    deleted = voucherify.delete(f"/v1/exports/{first['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert_export_error(voucherify.get(f"/v1/exports/{first['id']}"), 404, "not_found")
    assert_export_error(voucherify.delete(f"/v1/exports/{first['id']}"), 404, "not_found")
    gone = fetch(voucherify, export["result"]["url"])
    assert_export_error(gone, 401, "unauthorized")
    assert voucherify.get("/v1/exports").json()["total"] == 1


def test_download_needs_the_app_keys_and_a_live_token(voucherify, sandbox, configure):
    configure(**FAST, voucherify_export_token_seconds=1.0)
    other, _ = finish(voucherify, create(voucherify, {"exported_object": "customer"})["id"])
    export, _ = finish(voucherify, create(voucherify, {"exported_object": "customer"})["id"])
    url = export["result"]["url"]  # its token lives 1 s from the poll that saw DONE
    assert url.startswith(sandbox.voucherify_download_url + "/v1/exports/")
    assert download(voucherify, url)
    assert_export_error(requests.get(url, timeout=10), 401, "unauthorized")  # token alone
    wrong = url.split("token=")[0] + "token=forged"
    assert_export_error(fetch(voucherify, wrong), 401, "unauthorized")
    swapped = url.split("?")[0] + "?" + other["result"]["url"].split("?")[1]
    assert_export_error(fetch(voucherify, swapped), 401, "unauthorized")
    time.sleep(1.1)
    assert_export_error(fetch(voucherify, url), 401, "unauthorized")  # expired
    fresh = get(voucherify, export["id"])["result"]["url"]
    assert fresh != url and download(voucherify, fresh)


def test_downloads_are_counted_and_charged_to_the_app_quota(
    voucherify, voucherify_admin, sandbox, configure
):
    configure(**FAST)
    export, _ = finish(voucherify, create(voucherify, {"exported_object": "customer"})["id"])
    url = export["result"]["url"]
    for _ in range(3):
        download(voucherify, url)
    stats = voucherify_admin.get("/_sandbox/stats").json()["download_host"]
    assert stats["total"] == 3 and stats["by_status"] == {"200": 3}
    configure(voucherify_requests_per_minute=2)
    limited = [fetch(voucherify, url) for _ in range(3)]
    assert [r.status_code for r in limited] == [200, 200, 429]
    assert limited[1].headers["X-Rate-Limit-Remaining"] == "0"
    assert_export_error(limited[2], 429, "too_many_requests")
    assert int(limited[2].headers["Retry-After"]) >= 1
    assert voucherify.get("/v1/customers").status_code == 429  # one quota for both hosts


def test_downloads_spend_the_billing_cycle_quota_as_api_calls_do(
    voucherify, voucherify_admin, configure
):
    configure(**FAST)
    export, _ = finish(voucherify, create(voucherify, {"exported_object": "customer"})["id"])
    url = export["result"]["url"]

    def cycle():
        quota = voucherify_admin.get("/_sandbox/stats").json()["quota"]
        return quota["by_app_id"]["sandbox-app-id"]["cycle"]

    spent = cycle()["count"]
    configure(voucherify_requests_per_cycle=spent + 2)
    assert download(voucherify, url)
    assert voucherify.get("/v1/loyalties").status_code == 200  # the last call of the cycle
    refused = fetch(voucherify, url)
    assert_export_error(refused, 429, "too_many_requests")
    api_refused = voucherify.get("/v1/customers")
    assert_export_error(api_refused, 429, "too_many_requests")
    assert refused.json()["message"] == api_refused.json()["message"]
    names = (
        "X-Rate-Limit-Type",
        "X-Rate-Limit-Limit",
        "X-Rate-Limit-Remaining",
        "X-Rate-Limit-Retry",
    )
    assert [refused.headers[n] for n in names] == [api_refused.headers[n] for n in names]
    assert refused.headers["X-Rate-Limit-Type"] == "api_calls_cycle"
    assert refused.headers["X-Rate-Limit-Limit"] == str(spent + 2)
    assert int(refused.headers["Retry-After"]) >= 1
    assert cycle()["count"] == spent + 2 and cycle()["blocked"]["api_calls_cycle"] == 2


def test_export_faults_error_and_never_finish(voucherify, voucherify_admin, fast_exports):
    voucherify_admin.put("/_sandbox/faults", json={"export_error": 1.0}).raise_for_status()
    failed, seen = finish(voucherify, create(voucherify, {"exported_object": "customer"})["id"])
    assert failed["status"] == "ERROR" and failed["result"] is None and seen[-1] == "ERROR"
    voucherify_admin.put("/_sandbox/faults", json={"export_stuck": 1.0}).raise_for_status()
    stuck = create(voucherify, {"exported_object": "customer"})
    time.sleep(0.5)
    assert get(voucherify, stuck["id"])["status"] == "IN_PROGRESS"
    injected = voucherify_admin.get("/_sandbox/stats").json()["faults_injected"]
    assert injected["export_error"] == 1 and injected["export_stuck"] == 1


def test_download_host_faults_are_set_on_its_own_admin_api(voucherify, sandbox, fast_exports):
    export, _ = finish(voucherify, create(voucherify, {"exported_object": "customer"})["id"])
    url = export["result"]["url"]
    admin = sandbox.voucherify_download_url + "/_sandbox/faults"
    requests.put(admin, json={"server_error": 1.0}, timeout=10).raise_for_status()
    failed = fetch(voucherify, url)
    assert failed.status_code in (500, 502, 503)
    assert_export_schema("Error", failed.json(), ("voucherify-openapi.json",))
    requests.put(admin, json={"truncated_body": 1.0}, timeout=10).raise_for_status()
    with pytest.raises(requests.exceptions.RequestException):
        fetch(voucherify, url)
    requests.put(admin, json={}, timeout=10).raise_for_status()
    assert download(voucherify, url)


def test_reset_restores_the_export_settings_and_clears_exports_and_the_download_host(
    voucherify, voucherify_admin, sandbox, configure
):
    launched = voucherify_admin.get("/_sandbox/config").json()
    configure(
        **FAST,
        voucherify_export_headers="fields",
        voucherify_segment_move_touches_updated_at="yes",
        voucherify_activity_per_minute=30,
    )
    export, _ = finish(voucherify, create(voucherify, {"exported_object": "customer"})["id"])
    url = export["result"]["url"]
    assert download(voucherify, url).startswith("name,source_id")
    faults = sandbox.voucherify_download_url + "/_sandbox/faults"
    requests.put(faults, json={"server_error": 0.5}, timeout=10).raise_for_status()
    voucherify_admin.post("/_sandbox/reset").raise_for_status()
    assert voucherify_admin.get("/_sandbox/config").json() == launched
    assert voucherify_admin.get("/_sandbox/truth/exports").json() == []
    assert voucherify_admin.get("/_sandbox/stats").json()["download_host"]["total"] == 0
    assert requests.get(faults, timeout=10).json()["server_error"] == 0
    assert_export_error(fetch(voucherify, url), 401, "unauthorized")  # its export is gone
