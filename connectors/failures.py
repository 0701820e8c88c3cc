"""Why a request got no answer, sorted once: what to tell a person, and whether to try again.

A failure the same request would meet again — TLS against a plain-http port, an untrusted
certificate, a service that does not speak HTTP, a server that never answers — is `foreign`:
before the API has answered once, it means the base URL (or the proxy, or the CA bundle) is
wrong, so it fails at once and names what to check. Later, the same failures are passing faults
and retried. Only exception class names, fixed words and OpenSSL's reason for refusing a
certificate are quoted: urllib3's texts may hold URLs or a server's bytes.
"""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from promosync.connectors.http_settings import HttpSettings, describe
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)

_DROPPED = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)
_CUT = (http.client.IncompleteRead,)
_NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST", "PACKET_LENGTH")


def host_of(url: str) -> str:
    """host:port of a URL, never its user:password."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


@dataclass(frozen=True)
class Failure:
    """A request that got no usable answer, as the client decides and reports it."""

    reason: str  # what happened, for a message
    cause: str  # its kind, counted per client: "connection dropped", "read timeout"…
    never_sent: bool  # the request cannot have reached the server: safe to send again
    foreign: bool  # the same request would fail the same way: fatal before the API answered
    check: str  # what a person should check or change


def classify(
    error: BaseException,
    settings: HttpSettings,
    *,
    host: str,
    base_url_name: str,
    proxy: tuple[str, str] | None = None,
) -> Failure:
    """Sort a transport's exception; `proxy` is (its host, the variables that set it)."""
    name = type(error).__name__
    if isinstance(error, ProxyError) and proxy:
        inner = error.original_error
        if isinstance(inner, ConnectTimeoutError):
            reason = f"cannot connect to the proxy {proxy[0]} ({name})"
            return Failure(reason, "proxy unreachable", True, True, proxy[1])
        error = inner
        name = type(error).__name__
    if isinstance(error, ConnectTimeoutError):  # NewConnectionError is one too
        reason = f"cannot connect to {host} ({name})"
        check = base_url_name
        if isinstance(error, NameResolutionError):
            reason = f"cannot connect to {host}: unknown host ({name})"
        elif type(error) is ConnectTimeoutError:
            reason = f"cannot connect to {host} within {settings.connect_timeout:g} s ({name})"
            check = f"{base_url_name}, or raise {describe('connect_timeout')}"
        return Failure(reason, "cannot connect", True, True, check)
    if isinstance(error, SSLError):
        return _tls(str(error), base_url_name)
    if isinstance(error, ReadTimeoutError):
        # urllib3 reports the timeout that ran out: the connect timeout if it was the handshake.
        waited = re.search(r"read timeout=([\d.]+)", str(error))
        if waited and float(waited[1]) == settings.connect_timeout != settings.read_timeout:
            reason = f"no TLS handshake within {settings.connect_timeout:g} s"
            check = f"{base_url_name}, or raise {describe('connect_timeout')}"
            return Failure(reason, "TLS failed", True, True, check)
        reason = f"no answer within {settings.read_timeout:g} s"
        check = f"{base_url_name}, or raise {describe('read_timeout')}"
        return Failure(reason, "read timeout", False, True, check)
    if isinstance(error, ProtocolError):
        inner = error.args[1] if len(error.args) > 1 else None
        if isinstance(inner, _DROPPED):
            return Failure(f"connection dropped ({type(inner).__name__})", "connection dropped",
                           False, False, base_url_name)  # fmt: skip
        if isinstance(inner, _CUT) or "InvalidChunkLength" in type(inner).__name__:
            return Failure("the body was cut short", "body cut short", False, False, base_url_name)
        if isinstance(inner, http.client.HTTPException):  # a status line or header not HTTP's
            reason = f"what answers is not an HTTP server ({type(inner).__name__})"
            check = f"{base_url_name} (another service's port?)"
            return Failure(reason, "not HTTP", False, True, check)
    return Failure(f"connection failed ({name})", "connection failed", False, False, base_url_name)


def _tls(text: str, base_url_name: str) -> Failure:
    upper = text.upper().replace(" ", "_")
    if any(mark in upper for mark in _NOT_TLS):
        reason = "the server does not speak TLS on this port (SSL: wrong version number)"
        check = f"{base_url_name} (http:// for a plain-http port, or another port?)"
        return Failure(reason, "TLS failed", True, True, check)
    if "CERTIFICATE_VERIFY_FAILED" in upper:
        detail = text.split("certificate verify failed:")[-1].split("(_ssl")[0].strip(" :")
        if "HOSTNAME_MISMATCH" in upper or "IP_ADDRESS_MISMATCH" in upper:
            reason = f"its TLS certificate is for another host ({detail})"
            return Failure(reason, "TLS failed", True, True, base_url_name)
        reason = f"its TLS certificate is not trusted ({detail})"
        check = f"{base_url_name}, or REQUESTS_CA_BUNDLE if a proxy re-signs TLS"
        return Failure(reason, "TLS failed", True, True, check)
    return Failure("the TLS connection failed (SSLError)", "TLS failed", False, True, base_url_name)
