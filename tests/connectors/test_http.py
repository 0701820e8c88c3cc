"""The shared HTTP client against the sandbox: retries, fatal errors, secrets and rate limits."""

from __future__ import annotations

import http.server
import logging
import threading
import time

import pytest
from promosync.connectors.http import (
    ApiClient,
    ApiError,
    ConfigError,
    RateLimiter,
    UnexpectedAnswer,
    check_base_url,
)


def _client(sandbox, token: str | None = None, **options) -> ApiClient:
    settings = sandbox.settings
    headers = {
        "X-App-Id": settings.voucherify_app_id,
        "X-App-Token": token or settings.voucherify_app_token,
    }
    return ApiClient("voucherify", sandbox.voucherify_url, headers, **options)


def test_retriable_failures_are_retried_until_the_answer_arrives(
    sandbox, voucherify_admin, caplog
) -> None:
    client = _client(sandbox, max_wait=0.05)
    voucherify_admin.put(
        "/_sandbox/faults",
        json={
            "server_error": 0.15,
            "rate_limited": 0.1,
            "dropped_connection": 0.1,
            "truncated_body": 0.1,
            "retry_after_seconds": 0,
        },
    ).raise_for_status()
    with caplog.at_level(logging.WARNING, logger="promosync.connectors.http"):
        pages = [client.get_json("/v1/customers", {"limit": 100, "page": p}) for p in (1, 2, 3)]
    assert [len(page["customers"]) for page in pages] == [100, 100, 100]
    injected = voucherify_admin.get("/_sandbox/stats").json()["faults_injected"]
    assert client.counters.retries == sum(injected.values()) > 0
    assert client.counters.rate_limited == injected["rate_limited"]
    assert client.counters.requests == 3 + client.counters.retries
    assert "retrying" in caplog.text
    assert sandbox.settings.voucherify_app_token not in caplog.text


def test_fatal_answer_names_endpoint_status_and_api_error_but_no_secret(sandbox) -> None:
    client = _client(sandbox, token="wrong-token-s3cr3t")
    with pytest.raises(ApiError) as raised:
        client.get_json("/v1/customers")
    error = raised.value
    assert error.status == 401
    assert "voucherify GET /v1/customers failed with HTTP 401" in str(error)
    assert "s3cr3t" not in str(error) and "s3cr3t" not in repr(error.__dict__)
    assert client.counters.requests == 1  # a 401 is not retried


def test_unknown_record_is_a_clear_404(sandbox) -> None:
    with pytest.raises(ApiError, match=r"HTTP 404: .*not_found") as raised:
        _client(sandbox).get_json("/v1/customers/cust_missing")
    assert raised.value.request_id


def test_retries_give_up_with_a_clear_error(sandbox, voucherify_admin) -> None:
    voucherify_admin.put("/_sandbox/faults", json={"server_error": 1.0}).raise_for_status()
    client = _client(sandbox, max_attempts=3, max_wait=0.01)
    with pytest.raises(ApiError, match="gave up after 3 attempts"):
        client.get_json("/v1/customers")
    assert client.counters.requests == 3


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:9", "http://proxyuser:pr0xy@127.0.0.1:9"])
def test_unreachable_server_fails_at_once_naming_the_host_but_no_secret(base_url: str) -> None:
    client = ApiClient("voucherify", base_url, {"X-App-Token": "t0k3n"})
    with pytest.raises(ApiError, match=r"cannot connect to 127\.0\.0\.1:9 ") as raised:
        client.get_json("/v1/customers")
    assert "t0k3n" not in str(raised.value) and "pr0xy" not in str(raised.value)
    assert client.counters.requests == 1  # a server that never answered is not retried


def test_a_dropped_connection_is_retried(sandbox, voucherify_admin) -> None:
    client = _client(sandbox, max_attempts=3, max_wait=0.01)
    voucherify_admin.put("/_sandbox/faults", json={"dropped_connection": 1.0}).raise_for_status()
    with pytest.raises(ApiError, match="gave up after 3 attempts"):
        client.get_json("/v1/customers", {"limit": 1})
    assert client.counters.requests == 3


def test_server_reported_budget_paces_the_client(sandbox, voucherify_admin) -> None:
    voucherify_admin.put("/_sandbox/config", json={"voucherify_requests_per_minute": 1000})
    client = _client(sandbox)
    client.get_json("/v1/customers", {"limit": 1})
    # The server said 999 remain: the limiter's local allowance is capped by that, never raised.
    assert client.limiter._tokens <= 999


def test_server_announced_budget_sets_the_pace_unless_one_was_configured(
    sandbox, voucherify_admin
) -> None:
    voucherify_admin.put("/_sandbox/config", json={"voucherify_requests_per_minute": 1200})
    client = _client(sandbox)
    client.get_json("/v1/customers", {"limit": 1})
    assert client.limiter.rate == 20  # 1,200 a minute, sent evenly rather than in one burst
    started = time.monotonic()
    for _ in range(14):
        client.get_json("/v1/customers", {"limit": 1})
    assert time.monotonic() - started >= 0.4  # 5 from the burst, then 9 at 20/s
    configured = _client(sandbox, requests_per_minute=600)
    configured.get_json("/v1/customers", {"limit": 1})
    assert configured.limiter.rate == 10


def test_rate_limiter_keeps_to_the_configured_rate() -> None:
    limiter = RateLimiter(per_minute=600, burst=2)  # 10 a second
    started = time.monotonic()
    for _ in range(12):
        limiter.acquire()
    assert time.monotonic() - started >= 0.9  # 2 from the burst, then 10 at 10/s


def test_rate_limiter_waits_out_a_reported_reset() -> None:
    limiter = RateLimiter(per_minute=None)
    limiter.observe(remaining=0, reset_in=0.5)
    started = time.monotonic()
    limiter.acquire()
    assert time.monotonic() - started >= 0.45


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.voucherify.io/", True),
        ("http://127.0.0.1:8000", True),
        ("http://localhost:8000", True),
        ("http://api.voucherify.io", False),
        ("ftp://example.com", False),
        ("api.voucherify.io", False),
    ],
)
def test_base_url_must_be_https_unless_loopback(url: str, ok: bool) -> None:
    if ok:
        assert not check_base_url(url, "VOUCHERIFY_BASE_URL").endswith("/")
    else:
        with pytest.raises(ConfigError, match="VOUCHERIFY_BASE_URL"):
            check_base_url(url, "VOUCHERIFY_BASE_URL")


@pytest.mark.parametrize("proxy", ["http://proxyuser:pr0xy@127.0.0.1:9", "127.0.0.1:9"])
def test_proxy_variables_are_honoured_as_they_were_when_the_client_was_made(
    sandbox, monkeypatch, proxy: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy)  # nothing listens on the discard port
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    proxied = _client(sandbox)
    with pytest.raises(ApiError) as raised:
        proxied.get_json("/v1/customers")
    assert str(raised.value) == (  # at once, naming the proxy (without its password)
        "voucherify GET /v1/customers failed with no answer: cannot connect to the proxy"
        " 127.0.0.1:9 (ProxyError); check HTTP_PROXY and NO_PROXY"
    )
    assert proxied.counters.requests == 1
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    direct = _client(sandbox)
    assert direct.get_json("/v1/customers")["object"] == "list"
    monkeypatch.delenv("NO_PROXY")
    assert direct.get_json("/v1/customers")["object"] == "list"  # read once, at creation


def test_a_missing_ca_bundle_is_named_before_any_request(sandbox, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match=r"REQUESTS_CA_BUNDLE='.*missing.pem' does not exist"):
        _client(sandbox)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path))  # a folder of certificates is fine
    assert _client(sandbox).get_json("/v1/customers")["object"] == "list"


def test_a_redirect_is_not_followed_and_the_keys_stay_home(sandbox) -> None:
    received: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/v1/"):  # the moved "API": points to the other path
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{port}/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                received.append(dict(self.headers))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = sandbox.settings
        headers = {"X-App-Id": settings.voucherify_app_id, "X-App-Token": "secret-token-1234"}
        client = ApiClient("voucherify", f"http://127.0.0.1:{port}", headers, max_attempts=1,
                           base_url_name="VOUCHERIFY_BASE_URL")  # fmt: skip
        with pytest.raises(UnexpectedAnswer) as raised:
            client.get_json("/v1/customers")
    finally:
        server.shutdown()
        server.server_close()
    assert str(raised.value) == (
        "voucherify GET /v1/customers answered HTTP 302, but it redirects to localhost;"
        " check VOUCHERIFY_BASE_URL"
    )
    assert received == []  # the token never left for the redirect's target
