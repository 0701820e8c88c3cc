"""Hostile and broken servers: each ends in seconds with a message naming the endpoint and what
to check or raise; permanent failures are not retried; memory stays bounded; no key is printed.

The servers are loopback sockets (tests/reliability/hostile.py); limits are small so every case
is fast. Each case checks the exception's class and exact text, the requests sent, and that the
keys appear in no exception text, traceback or log record (urllib3's DEBUG ones included).
"""

from __future__ import annotations

import gzip
import logging
import re
import threading
import time
import traceback
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from promosync.connectors.http import (
    ApiClient,
    ApiError,
    HttpSettings,
    UncertainOutcome,
    UnexpectedAnswer,
)
from promosync.connectors.voucherify.client import voucherify_client

from tests.reliability import hostile

APP_ID, TOKEN = "VFY-HOSTILE-ID-0a1b2c3d", "VFY-HOSTILE-TOKEN-5d2e8c1a9b7f"
LIMITS = HttpSettings(
    connect_timeout=1, read_timeout=1, total_timeout=5, max_response_bytes=1_000_000,
    max_decompressed_bytes=4_000_000,
)  # fmt: skip
WHERE = "voucherify GET /v1/customers"
BASE = "check VOUCHERIFY_BASE_URL"
READ = "PROMOSYNC_HTTP_READ_TIMEOUT (resource field http.read_timeout)"
TOTAL = "PROMOSYNC_HTTP_TOTAL_TIMEOUT (resource field http.total_timeout)"
SIZE = "PROMOSYNC_HTTP_MAX_RESPONSE_BYTES (resource field http.max_response_bytes)"
INFLATED = "PROMOSYNC_HTTP_MAX_DECOMPRESSED_BYTES (resource field http.max_decompressed_bytes)"
WEB_PAGE = f"{BASE} (a proxy, a login page or another web site answered instead of the API)"


@dataclass(frozen=True)
class Case:
    """A server, and what the client must raise when it meets it."""

    behaviour: Callable[[], hostile.Behaviour]
    error: type[ApiError]
    message: str  # a regular expression matched against the whole text
    requests: int = 1  # 1: not retried
    limits: dict | None = None  # changes to LIMITS
    tls: bool = False  # the server speaks TLS (with a certificate nobody signed)
    url: str = "url"  # "url" (http://127.0.0.1) or "https_url"


def _exact(text: str) -> str:
    return re.escape(text)


CASES = {
    "never answers: the read timeout": Case(
        lambda: hostile.silent, ApiError,
        _exact(f"{WHERE} failed with no answer: no answer within 1 s; {BASE}, or raise {READ}"),
    ),
    "never answers: the total timeout, shorter": Case(
        lambda: hostile.silent, ApiError,
        _exact(f"{WHERE} failed with no answer: no answer within 0.5 s; raise {TOTAL} if the API"
               " is that slow"),
        limits={"read_timeout": 30, "total_timeout": 0.5},
    ),
    "headers trickle a byte at a time": Case(
        lambda: hostile.trickle_headers(0.2), UnexpectedAnswer,
        _exact(f"{WHERE} answered HTTP 200, but the answer was not complete within 1.5 s; raise"
               f" {TOTAL} if the API is that slow"),
        limits={"total_timeout": 1.5},
    ),
    "body trickles a byte at a time": Case(
        lambda: hostile.trickle_body(0.2), UnexpectedAnswer,
        _exact(f"{WHERE} answered HTTP 200, but the answer was not complete within 1.5 s; raise"
               f" {TOTAL} if the API is that slow"),
        limits={"total_timeout": 1.5},
    ),
    "endless chunked body": Case(
        lambda: hostile.endless_body, UnexpectedAnswer,
        _exact(f"{WHERE} answered HTTP 200, but the body passed the 1,000,000-byte limit and was"
               f" still arriving; raise {SIZE} if answers may be that large"),
    ),
    "Content-Length of 10 GB announced": Case(
        lambda: hostile.announce(10**10), UnexpectedAnswer,
        _exact(f"{WHERE} answered HTTP 200, but the body announces 10,000,000,000 bytes, over the"
               f" 1,000,000-byte limit; raise {SIZE} if answers may be that large"),
    ),
    "gzip bomb: 1 kB inflating to 64 MiB": Case(
        lambda: hostile.gzip_bomb(64), UnexpectedAnswer,
        _exact(f"{WHERE} answered HTTP 200, but the body inflates past the 4,000,000-byte limit")
        + r" \([\d,]+ bytes sent\); " + _exact(f"raise {INFLATED} if answers may be that large"),
    ),
    "not HTTP (an SSH server's port)": Case(
        lambda: hostile.garbage, ApiError,
        _exact(f"{WHERE} failed with no answer: what answers is not an HTTP server"
               f" (BadStatusLine); {BASE} (another service's port?)"),
    ),
    "TLS to a plain-http port": Case(
        lambda: hostile.html(200, "It works"), ApiError,
        _exact(f"{WHERE} failed with no answer: the server does not speak TLS on this port (SSL:"
               f" wrong version number); {BASE} (http:// for a plain-http port, or another"
               " port?)"),
        url="https_url",
    ),
    "TLS with a certificate nobody signed": Case(
        lambda: hostile.html(200, "It works"), ApiError,
        _exact(f"{WHERE} failed with no answer: its TLS certificate is not trusted (self-signed"
               f" certificate); {BASE}, or REQUESTS_CA_BUNDLE if a proxy re-signs TLS"),
        tls=True, url="https_url",
    ),
    "plain http to a TLS port (the server hangs up)": Case(
        lambda: hostile.html(200, "It works"), ApiError,
        _exact(f"{WHERE} failed with no answer: connection dropped (")
        + r"\w+" + _exact(f") (gave up after 2 attempts); the API never answered: {BASE}"),
        requests=2, tls=True,
    ),
    "an HTML 500 page at the first contact": Case(
        lambda: hostile.html(500, "Internal Server Error"), ApiError,
        _exact(f"{WHERE} failed with HTTP 500: HTTP 500 with a text/html page 'Internal Server"
               f" Error' body, not the API's JSON: {WEB_PAGE}"),
    ),
    "an HTML 503 page at the first contact": Case(
        lambda: hostile.html(503, "Service Unavailable"), ApiError,
        _exact(f"{WHERE} failed with HTTP 503: HTTP 503 with a text/html page 'Service"
               f" Unavailable' body, not the API's JSON: {WEB_PAGE}"),
    ),
    "an HTML 429 page at the first contact (a proxy's limit: retried)": Case(
        lambda: hostile.html(429, "Too Many Requests"), ApiError,
        _exact(f"{WHERE} failed with HTTP 429: HTTP 429 with a text/html page 'Too Many"
               " Requests' body, not the API's JSON (a proxy's page?) (gave up after 2 attempts);"
               f" the API never answered: {BASE}"),
        requests=2,
    ),
    "a web server's welcome page (HTTP 200)": Case(
        lambda: hostile.html(200, "Welcome to nginx!"), UnexpectedAnswer,
        _exact(f"{WHERE} answered HTTP 200, but the body is text/html page 'Welcome to nginx!',"
               f" not JSON: {WEB_PAGE}"),
    ),
    "a body encoded with brotli, never asked for": Case(
        lambda: hostile.answer(200, b"\x1b\x00", "application/json", Content_Encoding="br"),
        UnexpectedAnswer,
        _exact(f"{WHERE} answered HTTP 200, but it is encoded as 'br', which promosync never asks"
               f" for: {BASE} (a proxy answering for the API?)"),
    ),
    "a corrupt gzip body (retried)": Case(
        lambda: hostile.answer(200, hostile.GZIP_HEADER + b"\xff" * 8, "application/json",
                               Content_Encoding="gzip"),  # a block of the reserved type
        UnexpectedAnswer,
        _exact(f"{WHERE} answered HTTP 200, but its compressed body is corrupt (gave up after 2"
               f" attempts); the API never answered: {BASE}"),
        requests=2,
    ),
    "a gzip body cut short (retried)": Case(
        lambda: hostile.answer(200, gzip.compress(b"[" + b"1," * 999 + b"1]")[:-12],
                               "application/json", Content_Encoding="gzip"),
        UnexpectedAnswer,
        _exact(f"{WHERE} answered HTTP 200, but its compressed body is cut short (gave up after 2"
               f" attempts); the API never answered: {BASE}"),
        requests=2,
    ),
    "hangs up at once (retried as a dropped connection)": Case(
        lambda: hostile.close_at_once, ApiError,
        _exact(f"{WHERE} failed with no answer: connection dropped (")
        + r"\w+" + _exact(f") (gave up after 2 attempts); the API never answered: {BASE}"),
        requests=2,
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return hostile.self_signed_certificate(tmp_path_factory.mktemp("tls"))


def meet(client: ApiClient, call: Callable[[ApiClient], object]) -> BaseException:
    """Run `call` in a thread that must end within 20 s (a hang fails the test, not the suite)."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call(client)
        except BaseException as error:  # handed to the test
            raised.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "the request did not end: a limit did not hold"
    assert raised, "the request succeeded against a hostile server"
    return raised[0]


def assert_no_key(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    """Neither key in the error's text, attributes or traceback, nor in any log record."""
    texts = [
        str(error), repr(vars(error)), "".join(traceback.format_exception(error)), caplog.text,
        *(record.getMessage() for record in caplog.records),
    ]  # fmt: skip
    for key in (APP_ID, TOKEN):
        assert not [text for text in texts if key in text]


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_hostile_server_ends_in_a_clear_error_without_leaking_a_key(
    case: Case, certificate, caplog
):
    caplog.set_level(logging.DEBUG)  # urllib3's own records too
    limits = HttpSettings(**{**vars(LIMITS), **(case.limits or {})})
    with hostile.HostileServer(case.behaviour(), certificate if case.tls else None) as server:
        client = voucherify_client(getattr(server, case.url), APP_ID, TOKEN, settings=limits)
        client.max_attempts, client.max_wait = 2, 0.01
        error = meet(client, lambda c: c.get_json("/v1/customers"))
    assert type(error) is case.error, f"{type(error).__name__}: {error}"
    assert re.fullmatch(case.message, str(error)), str(error)
    assert client.counters.requests == case.requests
    assert_no_key(error, caplog)


def test_a_gzip_bomb_is_judged_in_bounded_memory(caplog):
    """1 MB of gzip that would inflate to 1 GiB: refused after at most the cap's worth of bytes."""
    limits = HttpSettings(max_decompressed_bytes=8_000_000)
    with hostile.HostileServer(hostile.gzip_bomb(1024)) as server:
        client = voucherify_client(server.url, APP_ID, TOKEN, settings=limits)
        tracemalloc.start()
        try:
            error = meet(client, lambda c: c.get_json("/v1/customers"))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert "the body inflates past the 8,000,000-byte limit" in str(error)
    assert peak < 40_000_000  # the compressed MB, the capped 8 MB and copies: not 1 GiB


def test_an_endless_body_is_refused_in_bounded_memory():
    limits = HttpSettings(max_response_bytes=5_000_000)
    with hostile.HostileServer(hostile.endless_body) as server:
        client = voucherify_client(server.url, APP_ID, TOKEN, settings=limits)
        tracemalloc.start()
        try:
            error = meet(client, lambda c: c.get_json("/v1/customers"))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert "the body passed the 5,000,000-byte limit and was still arriving" in str(error)
    assert peak < 20_000_000


def test_a_post_that_may_have_been_acted_on_is_never_repeated_and_says_so():
    limits = HttpSettings(read_timeout=0.5)
    with hostile.HostileServer(hostile.silent) as server:
        client = voucherify_client(server.url, APP_ID, TOKEN, settings=limits)
        path = "/v1/customers/metadata/async"
        error = meet(client, lambda c: c.request("POST", path, json={}, repeatable=False))
        accepted = server.accepted
    assert type(error) is UncertainOutcome
    assert str(error) == (
        f"voucherify POST {path} failed with no answer: no answer within 0.5 s; {BASE}, or raise"
        f" {READ}"
    )
    assert client.counters.requests == 1 and accepted == 1


def test_a_trusted_certificate_is_honoured_and_a_hostname_mismatch_is_named(
    certificate, monkeypatch
):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    body = b'{"object": "list", "customers": []}'
    with hostile.HostileServer(hostile.answer(200, body, "application/json"), certificate) as srv:
        trusted = voucherify_client(srv.https_url, APP_ID, TOKEN, settings=LIMITS)
        assert trusted.get_json("/v1/customers") == {"object": "list", "customers": []}
        other_name = voucherify_client(
            f"https://localhost:{srv.port}", APP_ID, TOKEN, settings=LIMITS
        )
        error = meet(other_name, lambda c: c.get_json("/v1/customers"))
    assert str(error) == (
        f"{WHERE} failed with no answer: its TLS certificate is for another host (Hostname"
        f" mismatch, certificate is not valid for 'localhost'.); {BASE}"
    )
    assert other_name.counters.requests == 1


def test_the_total_timeout_ends_a_trickle_that_the_read_timeout_never_would():
    """Each byte comes well within the 1 s read timeout; only the whole-request deadline ends it."""
    limits = HttpSettings(read_timeout=1, total_timeout=2)
    with hostile.HostileServer(hostile.trickle_body(0.1)) as server:
        client = voucherify_client(server.url, APP_ID, TOKEN, settings=limits)
        started = time.monotonic()
        error = meet(client, lambda c: c.get_json("/v1/customers"))
    assert "the answer was not complete within 2 s" in str(error)
    assert 2 <= time.monotonic() - started < 10


def test_a_tls_handshake_that_never_comes_is_named_with_the_connect_timeout():
    """A port that accepts and stays silent, reached over https: the handshake's own timeout."""
    limits = HttpSettings(connect_timeout=0.5, read_timeout=30)
    with hostile.HostileServer(hostile.silent) as server:
        client = voucherify_client(server.https_url, APP_ID, TOKEN, settings=limits)
        error = meet(client, lambda c: c.get_json("/v1/customers"))
    assert str(error) == (
        f"{WHERE} failed with no answer: no TLS handshake within 0.5 s; {BASE}, or raise"
        " PROMOSYNC_HTTP_CONNECT_TIMEOUT (resource field http.connect_timeout)"
    )
    assert client.counters.requests == 1
