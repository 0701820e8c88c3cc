"""The HTTP client's settings, compressed bodies, retry causes, interruptible waits and the log
scrubber: what a user configures or would notice."""

from __future__ import annotations

import gzip
import logging
import threading
import zlib
from collections.abc import Callable

import pytest
from promosync.connectors import stopping
from promosync.connectors.http import ApiClient, ConfigError, HttpSettings, RateLimiter
from promosync.connectors.talon_one.client import talon_one_client
from promosync.connectors.voucherify.client import voucherify_client

from tests.reliability import hostile

KEY = "VFY-LIMITS-TOKEN-7e1f0c9d"


def _client(sandbox, **options) -> ApiClient:
    settings = sandbox.settings
    return voucherify_client(
        sandbox.voucherify_url, settings.voucherify_app_id, settings.voucherify_app_token,
        **options,
    )  # fmt: skip


# --- settings ---------------------------------------------------------------------------------


def test_limits_come_from_given_values_then_the_environment_then_the_defaults() -> None:
    environ = {
        "PROMOSYNC_HTTP_CONNECT_TIMEOUT": "2.5",
        "PROMOSYNC_HTTP_TOTAL_TIMEOUT": " 90 ",
        "PROMOSYNC_HTTP_MAX_RESPONSE_BYTES": "64MiB",
        "PROMOSYNC_HTTP_MAX_DECOMPRESSED_BYTES": "1_000_000",
        "PROMOSYNC_HTTP_READ_TIMEOUT": "",  # empty: the default
    }
    settings = HttpSettings.from_env(environ, total_timeout=30, max_response_bytes=0)
    assert settings == HttpSettings(
        connect_timeout=2.5, read_timeout=60.0, total_timeout=30,
        max_response_bytes=64 * 1024 * 1024, max_decompressed_bytes=1_000_000,
    )  # fmt: skip
    assert HttpSettings.from_env({}) == HttpSettings()
    assert HttpSettings.from_env(
        {"PROMOSYNC_HTTP_MAX_RESPONSE_BYTES": "2 GB"}
    ).max_response_bytes == (2_000_000_000)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PROMOSYNC_HTTP_TOTAL_TIMEOUT", "5m", "PROMOSYNC_HTTP_TOTAL_TIMEOUT='5m' is not a number"
         " of seconds, e.g. 30"),
        ("PROMOSYNC_HTTP_READ_TIMEOUT", "-1", "PROMOSYNC_HTTP_READ_TIMEOUT (resource field"
         " http.read_timeout) must be above 0, not -1.0"),
        ("PROMOSYNC_HTTP_CONNECT_TIMEOUT", "nan", "PROMOSYNC_HTTP_CONNECT_TIMEOUT (resource field"
         " http.connect_timeout) must be above 0, not nan"),
        ("PROMOSYNC_HTTP_MAX_RESPONSE_BYTES", "lots", "PROMOSYNC_HTTP_MAX_RESPONSE_BYTES='lots' is"
         " not a size; give bytes, e.g. 134217728, 128MiB or 100MB"),
        ("PROMOSYNC_HTTP_MAX_DECOMPRESSED_BYTES", "1.5GB", "PROMOSYNC_HTTP_MAX_DECOMPRESSED_BYTES="
         "'1.5GB' is not a size; give bytes, e.g. 134217728, 128MiB or 100MB"),
        ("PROMOSYNC_HTTP_MAX_RESPONSE_BYTES", "0", "PROMOSYNC_HTTP_MAX_RESPONSE_BYTES (resource"
         " field http.max_response_bytes) must be above 0, not 0"),
    ],
)  # fmt: skip
def test_a_bad_limit_is_named_before_any_request(sandbox, monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        _client(sandbox)
    assert str(raised.value) == message


def test_a_page_over_the_response_limit_names_the_endpoint_and_the_setting(sandbox) -> None:
    client = _client(sandbox, settings=HttpSettings(max_response_bytes=20_000))
    with pytest.raises(Exception) as raised:
        client.get_json("/v1/customers", {"limit": 100})
    assert str(raised.value).startswith(
        "voucherify GET /v1/customers answered HTTP 200, but the body announces"
    )
    assert str(raised.value).endswith(
        "over the 20,000-byte limit; raise PROMOSYNC_HTTP_MAX_RESPONSE_BYTES (resource field"
        " http.max_response_bytes) if answers may be that large"
    )
    assert client.counters.requests == 1  # a limit is not retried
    assert client.get_json("/v1/customers", {"limit": 1})["object"] == "list"


def test_both_clients_of_talon_one_get_the_same_limits(sandbox) -> None:
    limits = HttpSettings(read_timeout=7)
    settings = sandbox.settings
    t1 = talon_one_client(sandbox.talon_one_url, settings.talon_one_api_key,
                          settings.talon_one_management_key, settings=limits)  # fmt: skip
    assert t1.integration.settings is limits and t1.management.settings is limits


# --- compressed bodies -----------------------------------------------------------------------

BODY = b'{"object": "list", "customers": [' + b'{"id": "c"},' * 999 + b'{"id": "c"}]}'
ENCODINGS = {
    "gzip": ("gzip", gzip.compress(BODY)),
    "x-gzip": ("x-gzip", gzip.compress(BODY)),
    "gzip in two members": ("gzip", gzip.compress(BODY[:5000]) + gzip.compress(BODY[5000:])),
    "deflate (zlib)": ("deflate", zlib.compress(BODY)),
    "deflate (raw, as some servers send it)": ("deflate", zlib.compress(BODY, wbits=-15)),
    "identity": ("identity", BODY),
}


@pytest.mark.parametrize(("encoding", "wire"), ENCODINGS.values(), ids=ENCODINGS.keys())
def test_compressed_bodies_are_read_whole(encoding: str, wire: bytes) -> None:
    served = hostile.answer(200, wire, "application/json", Content_Encoding=encoding)
    with hostile.HostileServer(served) as server:
        client = voucherify_client(server.url, "app-id-123", KEY)
        assert client.request("GET", "/v1/customers").content == BODY


def test_the_decompressed_limit_judges_what_a_body_inflates_to() -> None:
    served = hostile.answer(200, gzip.compress(BODY), "application/json", Content_Encoding="gzip")
    with hostile.HostileServer(served) as server:
        exact = HttpSettings(max_decompressed_bytes=len(BODY))
        assert voucherify_client(server.url, "app-id", KEY, settings=exact).get_json("/x")
        under = HttpSettings(max_decompressed_bytes=len(BODY) - 1)
        with pytest.raises(Exception, match=f"inflates past the {len(BODY) - 1:,}-byte limit"):
            voucherify_client(server.url, "app-id", KEY, settings=under).get_json("/x")


# --- retries counted by cause, waits that a stop ends ------------------------------------------


def test_retries_are_counted_by_cause(sandbox, voucherify_admin) -> None:
    client = _client(sandbox)
    client.max_wait = 0.01
    faults = {"server_error": 0.2, "rate_limited": 0.1, "dropped_connection": 0.1,
              "truncated_body": 0.1, "retry_after_seconds": 0}  # fmt: skip
    voucherify_admin.put("/_sandbox/faults", json=faults).raise_for_status()
    for page in range(1, 4):
        client.get_json("/v1/customers", {"limit": 100, "page": page})
    injected = voucherify_admin.get("/_sandbox/stats").json()["faults_injected"]
    causes = client.counters.retry_causes
    assert sum(causes.values()) == client.counters.retries == sum(injected.values()) > 0
    assert set(causes) <= {"HTTP 500", "HTTP 502", "HTTP 503", "HTTP 429", "connection dropped",
                           "body cut short"}  # fmt: skip
    assert causes["HTTP 429"] == injected.get("rate_limited", 0)
    assert causes["connection dropped"] == injected.get("dropped_connection", 0)
    assert causes["body cut short"] == injected.get("truncated_body", 0)


def test_talon_one_counters_add_both_clients_causes(sandbox) -> None:
    keys = sandbox.settings.talon_one_api_key, sandbox.settings.talon_one_management_key
    t1 = talon_one_client(sandbox.talon_one_url, *keys)
    t1.integration.counters.retry_causes["HTTP 503"] = 2
    t1.management.counters.retry_causes.update({"HTTP 503": 1, "connection dropped": 1})
    t1.management.counters.retries = 2
    assert t1.counters.retry_causes == {"HTTP 503": 3, "connection dropped": 1}
    assert t1.counters.retries == 2


@pytest.fixture
def stop_soon():
    """Ask for a stop 0.3 s from now (as the CLI's signal handler does); forget it afterwards."""
    timer = threading.Timer(0.3, stopping.request_stop)
    timer.start()
    yield
    timer.cancel()
    stopping.reset()


def raised_within(seconds: float, call: Callable[[], object]) -> BaseException | None:
    """What `call` raised, run in a thread that must end within `seconds`."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as error:  # handed to the test
            raised.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still waiting after {seconds} s: the stop did not end the wait"
    return raised[0] if raised else None


def test_a_stop_ends_a_rate_limit_block_at_once(stop_soon) -> None:
    limiter = RateLimiter(per_minute=None)
    limiter.observe(remaining=0, reset_in=60)  # the server said: nothing for a minute
    error = raised_within(5, limiter.acquire)
    assert isinstance(error, stopping.StopRequested)
    assert str(error) == "stopped by SIGINT: what was committed before it is kept"


def test_a_stop_ends_a_retry_wait_at_once(sandbox, voucherify_admin, stop_soon) -> None:
    voucherify_admin.put("/_sandbox/faults", json={"server_error": 1.0}).raise_for_status()
    client = _client(sandbox)
    client.max_wait, client.max_attempts = 60, 20  # backoff: seconds, then up to a minute
    error = raised_within(5, lambda: client.get_json("/v1/customers"))
    assert isinstance(error, stopping.StopRequested)
    assert client.counters.retries >= 1  # it was waiting to retry when the stop came


def test_a_stop_ends_a_retry_after_wait_at_once(stop_soon) -> None:
    served = hostile.answer(503, b'{"code": 503}', "application/json", Retry_After="120")
    with hostile.HostileServer(served) as server:
        client = voucherify_client(server.url, "app-id", KEY)
        error = raised_within(5, lambda: client.get_json("/v1/customers"))
    assert isinstance(error, stopping.StopRequested)
    assert client.counters.retry_causes == {"HTTP 503": 1}


# --- the scrubber on urllib3's own loggers ------------------------------------------------------


def test_urllib3_log_records_are_scrubbed_of_keys(caplog) -> None:
    voucherify_client("http://127.0.0.1:9", "app-id-4f2a", KEY)  # a key read: now masked
    caplog.set_level(logging.DEBUG)
    pool_log = logging.getLogger("urllib3.connectionpool")
    pool_log.warning("Failed to parse headers (url=%s): %s", "http://x/", f"X-App-Token: {KEY}")
    try:
        raise ValueError(f"Invalid header value b'{KEY}\\r\\n'")
    except ValueError:
        logging.getLogger("urllib3.connection").exception("while sending")
    logging.getLogger("urllib3.response").debug("Authorization: ApiKey-v1 other-key-123")
    assert KEY not in caplog.text and "other-key-123" not in caplog.text
    assert "X-App-Token: ***" in caplog.text
    assert "Invalid header value b'***" in caplog.text
    assert "ApiKey-v1 ***" in caplog.text


def test_the_resources_http_fields_reach_every_client(sandbox, monkeypatch) -> None:
    from promosync.pipelines.resources import HttpConfig, VoucherifyResource
    from promosync.pipelines.talon_one_assets import TalonOneResource

    monkeypatch.setenv("PROMOSYNC_HTTP_READ_TIMEOUT", "7")
    settings = sandbox.settings
    voucherify = VoucherifyResource(
        base_url=sandbox.voucherify_url, app_id=settings.voucherify_app_id,
        app_token=settings.voucherify_app_token, http=HttpConfig(total_timeout=30),
    )  # fmt: skip
    talon_one = TalonOneResource(
        base_url=sandbox.talon_one_url, api_key=settings.talon_one_api_key,
        management_key=settings.talon_one_management_key,
        http=HttpConfig(max_response_bytes=1_000_000),
    )  # fmt: skip
    expected = HttpSettings(read_timeout=7, total_timeout=30)  # a field, else the variable
    assert voucherify.client().settings == expected
    t1 = talon_one.client()
    expected = HttpSettings(read_timeout=7, max_response_bytes=1_000_000)
    assert t1.integration.settings == t1.management.settings == expected
