"""Where requests go and how long and large their answers may be: base URLs and HTTP limits."""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from urllib.parse import unquote, urlsplit

import requests.utils
from promosync.connectors import config
from promosync.connectors.errors import ConfigError
from promosync.connectors.secrets import remember, trimmed_setting
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

MIB = 1024 * 1024
ENVIRONMENT = config.HTTP_LIMITS
_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3}
_UNITS |= {"k": 1024, "kib": 1024, "m": MIB, "mib": MIB, "g": 1024 * MIB, "gib": 1024 * MIB}
_SIZE = re.compile(r"^\s*([0-9][0-9_]*)\s*([a-z]*)\s*$", re.IGNORECASE)
EXAMPLE_URLS = {
    "VOUCHERIFY_BASE_URL": "https://api.voucherify.io",
    "TALON_ONE_BASE_URL": "https://yourcompany.europe-west1.talon.one",
}


@dataclass(frozen=True)
class HttpSettings:
    """Limits of every request: timeouts in seconds, answer sizes in bytes.

    `read_timeout` bounds each wait for the next bytes; `total_timeout` one request from its
    send to its last byte, however slowly they trickle. `max_response_bytes` caps the body as
    it arrives, `max_decompressed_bytes` once inflated (gzip or deflate).
    """

    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    total_timeout: float = 300.0
    max_response_bytes: int = 128 * MIB
    max_decompressed_bytes: int = 256 * MIB

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{describe(field.name)} must be a number, not {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{describe(field.name)} must be above 0, not {value!r}")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **given: float | None
    ) -> HttpSettings:
        """Each limit from `given` if set (not None or 0), else its variable, else its default."""
        if unknown := set(given) - set(ENVIRONMENT):
            raise TypeError(f"no such HTTP setting: {', '.join(sorted(unknown))}")
        environ = os.environ if environ is None else environ
        values: dict[str, float] = {}
        for name, variable in ENVIRONMENT.items():
            if given.get(name):
                values[name] = given[name]  # type: ignore[assignment]
            elif environ.get(variable, "").strip():
                values[name] = _parse(name, variable, environ[variable])
        return cls(**values)


def describe(name: str) -> str:
    """A setting as a message names it: its variable, and the resource field that also sets it."""
    return f"{ENVIRONMENT[name]} (resource field http.{name})"


def _parse(name: str, variable: str, text: str) -> float:
    if name.endswith("_bytes"):
        match = _SIZE.match(text)
        if match and match.group(2).lower() in _UNITS:
            return int(match.group(1).replace("_", "")) * _UNITS[match.group(2).lower()]
        raise ConfigError(
            f"{variable}={text!r} is not a size; give bytes, e.g. 134217728, 128MiB or 100MB"
        )
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{variable}={text!r} is not a number of seconds, e.g. 30") from None


def check_base_url(url: str | None, variable: str) -> str:
    """`url` trimmed and without a trailing slash, or a ConfigError that says what to change.

    Refused: anything but http(s) with a host, a user:password part, a query string, a
    fragment, a path ending in the API's version, and plain http to anything but loopback.
    """
    url = trimmed_setting(variable, url)
    shown = re.sub(r"//[^/?#]*@", "//***@", url)  # a user:password part is never echoed
    example = EXAMPLE_URLS.get(variable, "https://api.example.com")
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port
    except ValueError:  # an unclosed IPv6 bracket, a port out of range
        host = None
    if not host or parts.scheme not in {"http", "https"} or re.search(r"[\s\x00-\x1f\x7f]", url):
        raise ConfigError(f"{variable}={shown!r} is not an http(s) URL, e.g. {example}")
    problem = None
    if "@" in parts.netloc:
        problem = "holds a user:password part; the keys travel in headers, so remove it"
    elif parts.query or "?" in url:
        problem = "has a query string; remove it (each request adds its own)"
    elif parts.fragment or "#" in url:
        problem = "has a fragment ('#…'); remove it"
    elif version := re.search(r"/v\d+/?$", parts.path):
        problem = f"ends with the API version {version.group().rstrip('/')!r}; remove it"
    if problem:
        raise ConfigError(f"{variable}={shown!r} {problem}: give the API's root, e.g. {example}")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigError(
            f"{variable} uses plain http to {host}; credentials would travel unencrypted."
            " Use https, or a loopback address for the local sandbox."
        )
    return url.rstrip("/")


def environment_proxy(base_url: str) -> str | None:
    """The proxy the environment sets for `base_url`, checked, or None.

    Read as `requests` reads it (`HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY`, unless `NO_PROXY`
    excludes the host), trimmed, `http://` if it names no scheme. A proxy URL urllib3 cannot use
    is a ConfigError naming its variable with the password masked (urllib3's own error would
    quote the whole URL); the password is remembered for `scrub()`.
    """
    proxies = requests.utils.get_environ_proxies(base_url)
    variable = f"{urlsplit(base_url).scheme.upper()}_PROXY (or ALL_PROXY)"
    proxy = trimmed_setting(variable, proxies.get(urlsplit(base_url).scheme) or proxies.get("all"))
    if not proxy:
        return None
    proxy = proxy if "://" in proxy else f"http://{proxy}"
    shown = re.sub(r"//[^/?#]*@", "//***@", proxy)
    try:
        parts = urlsplit(proxy)
        host, _ = parts.hostname, parts.port
        remember(unquote(parts.password or ""))
        parse_url(proxy)
    except (ValueError, LocationParseError):  # a bad port, an unclosed IPv6 bracket
        host = None
    if not host or re.search(r"[\s\x00-\x1f\x7f]", proxy):
        raise ConfigError(f"{variable}={shown!r} is not a proxy URL, e.g. http://proxy:3128")
    if parts.scheme not in {"http", "https"}:
        raise ConfigError(
            f"{variable}={shown!r} is a {parts.scheme} proxy; promosync uses http:// or https://"
            " proxies"
        )
    return proxy


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ca_bundle() -> str | None:
    """`REQUESTS_CA_BUNDLE` (a CA file or folder) once checked to exist; None for certifi's."""
    path = trimmed_setting(config.CA_BUNDLE, config.secret(config.CA_BUNDLE))
    if path and not os.path.exists(path):
        raise ConfigError(
            f"REQUESTS_CA_BUNDLE={path!r} does not exist; point it at a file or a folder of CA"
            " certificates, or unset it to use certifi's"
        )
    return path or None
