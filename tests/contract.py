"""Validate real HTTP exchanges with the sandbox against the official OpenAPI specs."""

from __future__ import annotations

import csv
import io
import json
import os
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

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


def _spec_path(name: str) -> Path:
    path = SPECS_DIR / SPECS[name][0]
    if not path.exists():
        raise FileNotFoundError(f"official spec {path} is missing; is ../shared beside the repo?")
    return path


def _is_csv(text: object) -> bool:
    return isinstance(text, str) and len(next(csv.reader(io.StringIO(text)), [])) > 1


@cache
def load_spec(name: str) -> OpenAPI:
    """Load one official spec (slow: seconds) once per test session."""
    config = Config(
        # The vendors' own schemas have defects the spec validator refuses (see specs/README.md);
        # request and response validation still work with it switched off.
        spec_validator_cls=None,
        # openapi-core reads neither `application/csv` bodies nor `format: csv` (Talon.One's
        # balance exports) on its own.
        extra_media_type_deserializers={"application/csv": lambda raw: raw.decode()},
        extra_format_validators={"csv": _is_csv},
    )
    return OpenAPI.from_file_path(str(_spec_path(name)), config=config)


@cache
def _voucherify_registry() -> Registry:
    spec = json.loads(_spec_path("voucherify").read_text())
    return Registry().with_resource(
        "spec", Resource.from_contents(spec, default_specification=DRAFT4)
    )


def assert_voucherify_schema(name: str, instance: Any) -> None:
    """Fail unless `instance` validates against the Voucherify component schema `name`.

    For bodies the spec has no operation status for (e.g. the 4xx of most operations).
    """
    validator = OAS30Validator(
        {"$ref": f"spec#/components/schemas/{name}"}, registry=_voucherify_registry()
    )
    errors = [
        f"{list(e.absolute_path)}: {e.message[:300]}" for e in validator.iter_errors(instance)
    ]
    assert not errors, f"{name}: {errors}"


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
            f"{response.status_code} breaks {spec_name} spec: {details}\n"
            f"body: {response.text[:2000]}"
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
