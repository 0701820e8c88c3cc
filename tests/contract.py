"""Validate real HTTP exchanges with the sandbox against the official OpenAPI specs."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

SPECS_DIR = Path(
    os.environ.get("PROMOSYNC_SPECS_DIR", Path(__file__).resolve().parents[2] / "shared" / "specs")
)

# Each spec, and the server URL it declares (requests are re-addressed to it before validation).
SPECS = {
    "voucherify": ("voucherify-openapi.json", "https://api.voucherify.io"),
    "talon_one_integration": (
        "talon-one-integration-api/openapi.yaml",
        "https://yourbaseurl.talon.one",
    ),
    "talon_one_management": (
        "talon-one-management-api/openapi.yaml",
        "https://yourbaseurl.talon.one",
    ),
}


@cache
def load_spec(name: str) -> OpenAPI:
    """Load one official spec (slow: seconds) once per test session."""
    from openapi_core import Config

    filename, _ = SPECS[name]
    path = SPECS_DIR / filename
    if not path.exists():
        raise FileNotFoundError(f"official spec {path} is missing; is ../shared beside the repo?")
    # The vendors' own schemas have defects the spec validator refuses (see specs/README.md);
    # request and response validation still work with it switched off.
    return OpenAPI.from_file_path(str(path), config=Config(spec_validator_cls=None))


def _readdressed(request: requests.PreparedRequest, server: str) -> requests.PreparedRequest:
    copy = request.copy()
    parts = urlsplit(copy.url)
    base = urlsplit(server)
    copy.url = urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))
    return copy


def assert_conforms(spec_name: str, response: requests.Response) -> requests.Response:
    """Fail unless `response` (and the status it answers with) is what the spec documents."""
    _, server = SPECS[spec_name]
    openapi = load_spec(spec_name)
    request = RequestsOpenAPIRequest(_readdressed(response.request, server))
    result = openapi.unmarshal_response(request, RequestsOpenAPIResponse(response))
    if result.errors:
        details = "; ".join(_describe(error) for error in result.errors)
        raise AssertionError(
            f"{response.request.method} {urlsplit(response.request.url).path} -> "
            f"{response.status_code} breaks {spec_name} spec: {details}\nbody: {response.text[:2000]}"
        )
    return response


def _describe(error: Exception) -> str:
    parts = [f"{type(error).__name__}: {error}"]
    for inner in getattr(error, "schema_errors", None) or []:
        location = "/".join(str(p) for p in getattr(inner, "absolute_path", []))
        parts.append(f"  at {location or '<root>'}: {getattr(inner, 'message', inner)}")
    cause = error.__cause__
    if cause is not None:
        for inner in getattr(cause, "schema_errors", None) or []:
            location = "/".join(str(p) for p in getattr(inner, "absolute_path", []))
            parts.append(f"  at {location or '<root>'}: {getattr(inner, 'message', inner)}")
    return "\n".join(parts)
