"""How a request travels: one send, one whole answer within limits; ApiClient adds the rest."""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import certifi
import orjson
import urllib3
from promosync.connectors.deadline import POOL_CLASSES, WATCHDOG
from promosync.connectors.http_settings import HttpSettings, describe

CHUNK = 256 * 1024  # read size of a body of unknown length


@dataclass(slots=True)
class Response:
    """An answer, read in full: status, headers (case-insensitive), body, and its parsed JSON."""

    status_code: int
    reason: str
    headers: Mapping[str, str]
    content: bytes
    parsed_json: Any = None

    @property
    def text(self) -> str:
        """The body decoded with the charset the answer names (UTF-8 if none or unknown)."""
        charset = re.search(r'charset="?([\w.:-]+)', self.headers.get("Content-Type", ""))
        try:
            return self.content.decode(charset.group(1) if charset else "utf-8", errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return orjson.loads(self.content)


class LimitExceeded(Exception):
    """An answer stopped by one of the HttpSettings limits; says which, and how to raise it."""

    def __init__(self, what: str, setting: str, status: int | None = None) -> None:
        when = (
            "if the API is that slow"
            if setting.endswith("timeout")
            else "if answers may be that large"
        )
        super().__init__(f"{what}; raise {describe(setting)} {when}")
        self.setting, self.status = setting, status


class BodyUnreadable(Exception):
    """A body promosync cannot decode: an encoding it did not ask for, or broken compression."""

    def __init__(self, reason: str, status: int, foreign: bool = False) -> None:
        super().__init__(reason)
        self.status, self.foreign = status, foreign  # foreign: no API would answer so


# Sends (method, URL, body, headers) once and returns the whole answer; a failure to connect or
# to read raises urllib3's exception, a limit LimitExceeded. Tests and benchmarks wrap
# `ApiClient.transport`.
Transport = Callable[[str, str, bytes | None, Mapping[str, str]], Response]


def encode_json(value: Any) -> bytes:
    """A JSON request body, encoded as `requests` encodes `json=` (NaN refused)."""
    return json.dumps(value, allow_nan=False).encode()


def query_string(params: Mapping[str, Any] | None) -> str:
    """`?a=1&b=x` from params, a list giving the key once per item, None values left out."""
    pairs = [
        (key, [v for v in value if v is not None] if isinstance(value, list | tuple) else value)
        for key, value in (params or {}).items()
        if value is not None
    ]
    text = urlencode(pairs, doseq=True)
    return f"?{text}" if text else ""


class PooledTransport:
    """urllib3 keep-alive pools: no retries or redirects of its own (ApiClient decides those).

    `requests` costs about twice the CPU per request (~700 against ~340 µs on the loopback
    sandbox, bench/RESULTS.md "## Pull"), spent on cookies, hooks and settings merged per call
    that an API client does not use. `proxy` is a proxy URL (user:password allowed), `ca_bundle`
    a file or a folder of CA certificates (certifi's bundle if None). Bodies are streamed, so
    `settings` bound memory as well as time: nothing past a limit is read.
    """

    def __init__(
        self,
        settings: HttpSettings,
        pool_size: int,
        *,
        proxy: str | None = None,
        ca_bundle: str | None = None,
    ) -> None:
        self.settings = settings
        ca = ca_bundle or certifi.where()
        options: dict[str, Any] = {
            "maxsize": pool_size,
            "timeout": urllib3.Timeout(
                connect=settings.connect_timeout, read=settings.read_timeout
            ),
            "cert_reqs": "CERT_REQUIRED",
            ("ca_cert_dir" if os.path.isdir(ca) else "ca_certs"): ca,
        }
        if proxy:
            auth = urlsplit(proxy)
            if auth.username:
                credentials = f"{unquote(auth.username)}:{unquote(auth.password or '')}"
                options["proxy_headers"] = urllib3.make_headers(proxy_basic_auth=credentials)
            self.pool: urllib3.PoolManager = urllib3.ProxyManager(proxy, **options)
        else:
            self.pool = urllib3.PoolManager(**options)
        self.pool.pool_classes_by_scheme = POOL_CLASSES  # type: ignore[assignment]

    def __call__(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> Response:
        deadline = WATCHDOG.start(self.settings.total_timeout)
        answer = None
        try:
            answer = self.pool.urlopen(
                method, url, body=body, headers=headers, retries=False, redirect=False,
                preload_content=False, decode_content=False,
            )  # fmt: skip
            raw = self._read(answer)
        except (urllib3.exceptions.HTTPError, OSError):
            if deadline.expired:
                raise self._late(answer) from None
            raise
        finally:
            WATCHDOG.finish(deadline)
        if deadline.expired:  # cut: what arrived may look whole (headers end at EOF) but is not
            answer.close()
            raise self._late(answer)
        answer.release_conn()
        content = self._decoded(raw, answer.headers.get("Content-Encoding", ""), answer.status)
        return Response(answer.status, answer.reason or "", answer.headers, content)

    def _late(self, answer: urllib3.BaseHTTPResponse | None) -> LimitExceeded:
        seconds = f"{self.settings.total_timeout:g} s"
        if answer is None:
            return LimitExceeded(f"no answer within {seconds}", "total_timeout")
        what = f"the answer was not complete within {seconds}"
        return LimitExceeded(what, "total_timeout", answer.status)

    def _read(self, answer: urllib3.BaseHTTPResponse) -> bytes:
        """The raw body, refused as soon as it is known to pass `max_response_bytes`."""
        limit = self.settings.max_response_bytes
        length = answer.length_remaining
        if length is not None and length > limit:
            answer.close()  # nothing of it is read
            what = f"the body announces {length:,} bytes, over the {limit:,}-byte limit"
            raise LimitExceeded(what, "max_response_bytes", answer.status)
        if length is not None:
            return answer.read()
        chunks, size = [], 0
        while chunk := answer.read(CHUNK):
            size += len(chunk)
            if size > limit:
                answer.close()
                what = f"the body passed the {limit:,}-byte limit and was still arriving"
                raise LimitExceeded(what, "max_response_bytes", answer.status)
            chunks.append(chunk)
        return b"".join(chunks)

    def _decoded(self, raw: bytes, encoding: str, status: int) -> bytes:
        """The body inflated (gzip or deflate), never past `max_decompressed_bytes`."""
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            return raw
        if encoding not in ("gzip", "x-gzip", "deflate"):
            reason = f"it is encoded as {encoding!r}, which promosync never asks for"
            raise BodyUnreadable(reason, status, foreign=True)
        limit = self.settings.max_decompressed_bytes
        content = _inflate(raw, limit, status, raw_deflate=encoding == "deflate")
        if len(content) > limit:
            what = f"the body inflates past the {limit:,}-byte limit ({len(raw):,} bytes sent)"
            raise LimitExceeded(what, "max_decompressed_bytes", status)
        return content


def _inflate(raw: bytes, limit: int, status: int, raw_deflate: bool) -> bytes:
    """gzip (several members too) or zlib data inflated to at most `limit` + 1 bytes."""
    out: list[bytes] = []
    size, data = 0, raw
    while data and size <= limit:
        try:
            inflater, part = _inflated(data, limit + 1 - size, raw_deflate and not out)
        except zlib.error:
            if out:  # bytes after the last member: ignored, as browsers do
                break
            raise BodyUnreadable("its compressed body is corrupt", status) from None
        out.append(part)
        size += len(part)
        if size <= limit and not inflater.eof:
            raise BodyUnreadable("its compressed body is cut short", status)
        data = inflater.unused_data
    return b"".join(out)


def _inflated(data: bytes, most: int, may_be_raw: bool) -> tuple[Any, bytes]:
    """An inflater run over `data` (gzip or zlib; raw deflate, which some servers send as
    "deflate", if `may_be_raw`) and at most `most` bytes of its output."""
    inflater = zlib.decompressobj(47)  # a gzip or a zlib header, detected
    try:
        return inflater, inflater.decompress(data, most)
    except zlib.error:
        if not may_be_raw:
            raise
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    return inflater, inflater.decompress(data, most)
