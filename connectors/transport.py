"""How a request travels: one send, one whole answer; ApiClient (connectors.http) adds the rest."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import certifi
import orjson
import requests.utils
import urllib3


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


# Sends (method, URL, body, headers) once and returns the whole answer; a failure to connect or
# to read raises urllib3's exception. Tests and benchmarks wrap `ApiClient.transport`.
Transport = Callable[[str, str, bytes | None, Mapping[str, str]], Response]


def environment_proxy(base_url: str) -> str | None:
    """The proxy the environment sets for `base_url` (`HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY`,
    unless `NO_PROXY` excludes the host), read as `requests` reads it; `http://` if it names no
    scheme."""
    proxies = requests.utils.get_environ_proxies(base_url)
    proxy = proxies.get(urlsplit(base_url).scheme) or proxies.get("all")
    return requests.utils.prepend_scheme_if_needed(proxy, "http") if proxy else None


class PooledTransport:
    """urllib3 keep-alive pools: no retries or redirects of its own (ApiClient decides those).

    `requests` costs about twice the CPU per request (~700 against ~340 µs on the loopback
    sandbox, bench/RESULTS.md "## Pull"), spent on cookies, hooks and settings merged per call
    that an API client does not use. `proxy` is a proxy URL (user:password allowed), `ca_bundle`
    a file or a folder of CA certificates (certifi's bundle if None).
    """

    def __init__(
        self,
        timeout: tuple[float, float],
        pool_size: int,
        *,
        proxy: str | None = None,
        ca_bundle: str | None = None,
    ) -> None:
        ca = ca_bundle or certifi.where()
        options: dict[str, Any] = {
            "maxsize": pool_size,
            "timeout": urllib3.Timeout(connect=timeout[0], read=timeout[1]),
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

    def __call__(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> Response:
        answer = self.pool.urlopen(
            method, url, body=body, headers=headers, retries=False, redirect=False
        )
        return Response(answer.status, answer.reason or "", answer.headers, answer.data)
